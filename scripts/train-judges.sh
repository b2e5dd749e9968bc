#!/usr/bin/env bash
# Makes the judge saro ships (Sources/SaRO/Resources/judges/smollm2-135m-instruct): probes on
# SmolLM2-135M-Instruct's hidden states, trained on the develop parts of `saro judge data`
# (PyRIT 1.1.0's labelled files, fetched from PyPI) and measured on the held-out parts, whose
# figures each head's file keeps. The rules are measured on the same held-out parts beside them.
# `saro judge train` picks each head's layer and L2 penalty by leave-one-source-out accuracy on
# the develop part. Only heads that beat the rules on the held-out parts are shipped: the harm
# head does (2026-12-06: 0.820 against the rules' 0.734 on held-out-objective, 0.760 against 0.584
# on held-out); the refusal head does not (0.575 against 0.975 on held-out), so refusal stays
# with the rules. About ten minutes on 2 cores.
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
    parts=(held-out)
    [ "$task" = harm ] && parts+=(held-out-objective)
    $saro judge data "$task" --part develop --out "$sets/$task-develop.csv"
    held=()
    for part in "${parts[@]}"; do
        $saro judge data "$task" --part "$part" --out "$sets/$task-$part.csv"
        held+=(--held-out "$sets/$task-$part.csv")
        $saro judge validate --labels "$sets/$task-$part.csv" --judge rules
    done
    $saro judge train --labels "$sets/$task-develop.csv" "${held[@]}" --out "$candidates" --quiet
done
mkdir -p "$shipped"
cp "$candidates/harm.json" "$shipped/harm.json"
