#!/usr/bin/env bash
# The main job on the embedded default: set up, build saro in release mode, fetch the default
# model (SmolLM2-135M-Instruct), then run what saro can do so far: report the machine and BLAS,
# answer a prompt, and benchmark GEMM and generation.
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
