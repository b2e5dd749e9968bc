#!/usr/bin/env bash
# The main job on the embedded default: set up, build saro in release mode, fetch the default
# model (SmolLM2-135M-Instruct), then run what saro can do so far: report the machine and BLAS,
# answer a prompt, benchmark GEMM and generation, build a little SaRO data offline, evaluate the
# default model on the quick suite and write the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product saro
saro=.build/release/saro
$saro system
$saro model fetch
$saro generate --greedy --max-tokens 64 "What is the capital of France?"
$saro bench gemm
$saro bench generate
# SaRO so far: a small offline RIT-D build, its statistics, a quick evaluation of the default
# model with the embedding analysis, and the report (runs/main/report.html).
out=runs/main
$saro data build ritd --out $out/data --harmful 8 --jailbreak 8 --benign 8
$saro data stats $out/data
$saro eval --suite quick --out $out/eval-base --label Base --embeddings --embedding-count 12
$saro report $out/eval-base --out $out/report.html --note "scripts/main.sh on $(hostname), $(date -u +%Y-%m-%d)"
echo "report: $out/report.html"
