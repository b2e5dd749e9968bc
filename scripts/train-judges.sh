#!/usr/bin/env bash
# Makes the judge saro ships (Sources/SaRO/Resources/judges/smollm2-135m-instruct): probes on
# SmolLM2-135M-Instruct's hidden states, trained on the develop parts of `saro judge data`
# (PyRIT 1.1.0's labelled files, fetched from PyPI) and measured on the held-out parts, whose
# figures each head's file keeps. The rules are measured on the same held-out parts beside them.
# Only heads that beat the rules there are shipped: the harm head does (0.945 agreement against
# the rules' 0.579 on 2026-12-04); the refusal head does not (0.484 against 0.953), so refusal
# stays with the rules. A few minutes on 2 cores.
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
    $saro judge data "$task" --part develop --out "$sets/$task-develop.csv"
    $saro judge data "$task" --part held-out --out "$sets/$task-held-out.csv"
    $saro judge train --labels "$sets/$task-develop.csv" --held-out "$sets/$task-held-out.csv" --out "$candidates" --quiet
    $saro judge validate --labels "$sets/$task-held-out.csv" --judge rules
done
mkdir -p "$shipped"
cp "$candidates/harm.json" "$shipped/harm.json"
