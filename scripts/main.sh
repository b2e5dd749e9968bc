#!/usr/bin/env bash
# The main job on the embedded default: set up, build saro in release mode, fetch the default
# model (SmolLM2-135M-Instruct), then run the default SaRO recipe (offline teacher, bundled data:
# data, RW, OP-COT and PP-COT, SRPO, the Safety-SFT and Safety-DPO baselines, evaluation of every
# model) and print where the report is. About an hour on 2 cores; rerun to resume.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product saro
saro=.build/release/saro
$saro system
$saro model fetch
$saro run recipes/smollm2-135m.yaml --dry-run
$saro run recipes/smollm2-135m.yaml
echo "report: $(pwd)/runs/smollm2-135m/report.html (summary: runs/smollm2-135m/report.md)"
