#!/usr/bin/env bash
# The test suite: set up what the build and tests need, then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
