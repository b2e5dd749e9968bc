#!/usr/bin/env bash
# The test suite: set up what the build and tests need, then run every test.
# `scripts/test.sh --fast` runs the unit and golden tests only: it skips the suites tagged
# `.process` (those that start saro, servers or recipes as processes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The TRL recipe's test trains in the environment setup-trl.sh makes (once; quick after).
[ "${1:-}" = "--fast" ] || scripts/setup-trl.sh
swift build --build-tests
# The tests check saro's defaults, so a SARO_* setting from the shell (threads, BLAS, kernel
# limits, data folder) must not reach them; tests that exercise one set it themselves. SARO_HOME
# stays: it only says where the model cache is. OPENBLAS_* stay too: they may be the machine's
# own safety settings, and the BLAS tests expect the kernel they choose.
for var in $(compgen -e | grep '^SARO_' | grep -v '^SARO_HOME$' || true); do unset "$var"; done
if [ "${1:-}" = "--fast" ]; then
    shift
    # The tag is the source of truth: every suite declared with `.tags(.process)`.
    suites=$(grep -rhoE '@Suite\([^)]*\.tags\(\.process\)\)? struct [A-Za-z]+' Tests | awk '{print $NF}' | sort -u | paste -sd'|' -)
    set -- --skip "\.($suites)/" "$@"
fi
# A test that hangs would hold CI until its time limit and leave no trace of where: after 45
# minutes (the suite takes about 20) every thread of the test process is printed, then it is
# stopped, and the run fails.
swift test --skip-build "$@" &
tests=$!
(
    for _ in $(seq 270); do sleep 10; kill -0 "$tests" 2>/dev/null || exit 0; done
    echo "test.sh: the tests have run for 45 minutes; their threads:" >&2
    for pid in $(pgrep -f 'PackageTests\.xctest' || true); do
        echo "== $(tr '\0' ' ' < "/proc/$pid/cmdline")" >&2
        command -v gdb > /dev/null && gdb -p "$pid" -batch -ex 'thread apply all bt' >&2 2>&1 < /dev/null
        ps -o pid,etime,args --ppid "$pid" >&2 || true
    done
    pkill -f 'PackageTests\.xctest' || true
) &
watcher=$!
status=0
wait "$tests" || status=$?
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
exit "$status"
