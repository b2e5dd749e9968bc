#!/usr/bin/env bash
# The main job on the embedded default: set up, build saro in release mode, then run what saro
# can do so far: report the machine and BLAS it found, and benchmark GEMM against numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product saro
.build/release/saro system
.build/release/saro bench gemm
