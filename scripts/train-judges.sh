#!/usr/bin/env bash
# Makes the judge saro ships (Sources/SaRO/Resources/judges/smollm2-135m-instruct): probes on
# SmolLM2-135M-Instruct's hidden states, trained on develop parts of `saro judge data` and
# measured on held-out parts, whose figures each head's file keeps. The rules are measured on
# the same held-out parts beside them. `saro judge train` picks each head's layer and L2 penalty
# by leave-one-source-out accuracy on the develop parts. Only heads that beat the rules on the
# held-out parts are shipped.
# - harm, from PyRIT 1.1.0's labelled files (fetched from PyPI): it does (2026-12-06: 0.820
#   against the rules' 0.734 on held-out-objective, 0.760 against 0.584 on held-out; 2026-12-07:
#   0.712 against 0.594 on held-out-scale, PyRIT's harm-scale files of two other categories).
#   Trained on develop plus develop-scale (the harm-scale files of the develop categories) it
#   does better on held-out-objective (0.859) but worse on held-out and held-out-scale (0.649,
#   0.702), so develop-scale is not part of the shipped head's training.
# - refusal, from PyRIT's develop part, saro's own models' answers and the answers written for
#   the project, its labels read in XSTest's convention: it does not (2026-12-06: 1.000 against
#   0.975 on held-out, 0.941 against 0.882 on held-out-written, but 0.800 against 0.971 on
#   held-out-own, the 135M models' answers saro's evaluation judges), so refusal stays with the
#   rules.
# About twenty minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product saro
saro=.build/release/saro
shipped=Sources/SaRO/Resources/judges/smollm2-135m-instruct
# Sets and candidate heads stay beside the build (not in git); the heads keep the sets' names.
sets=.build/judge-sets
candidates=.build/judge-candidates
mkdir -p "$sets" "$candidates"
for task in refusal harm; do
    if [ "$task" = refusal ]; then
        develop=(develop develop-own develop-written); heldout=(held-out held-out-own held-out-written)
    else
        develop=(develop); heldout=(held-out held-out-objective held-out-scale)
    fi
    train=()
    for part in "${develop[@]}"; do
        $saro judge data "$task" --part "$part" --out "$sets/$task-$part.csv"
        train+=("$sets/$task-$part.csv")
    done
    held=()
    for part in "${heldout[@]}"; do
        $saro judge data "$task" --part "$part" --out "$sets/$task-$part.csv"
        held+=(--held-out "$sets/$task-$part.csv")
        $saro judge validate --labels "$sets/$task-$part.csv" --judge rules
    done
    $saro judge train --labels "${train[@]}" "${held[@]}" --out "$candidates" --quiet
done
mkdir -p "$shipped"
cp "$candidates/harm.json" "$shipped/harm.json"
