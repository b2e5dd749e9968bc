#!/usr/bin/env bash
# An endpoint judge reading many answers at once against one at a time: `saro serve` (the
# default model, batching concurrent requests as vLLM does) grades the first 48 answers of
# `saro judge data harm --part develop` with the rubric judge, with --judge-concurrency 1 (the
# reference), then 4 (the default) and 8. Prints each wall time and its ratio to the reference.
# The 135M model does not follow the rubric's format; the timing is what is measured here, not
# the grades.
#   scripts/bench/judge-concurrency.sh [path to saro]     (default .build/release/saro)
set -euo pipefail
cd "$(dirname "$0")/../.."
saro=${1:-.build/release/saro}
port=${SARO_BENCH_PORT:-8793}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT

"$saro" judge data harm --part develop --out "$tmp/develop.csv" > /dev/null
python3 - "$tmp/develop.csv" "$tmp/labels.csv" 48 <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows[: int(sys.argv[3])])
PY
"$saro" serve --port "$port" --served-model-name grader > "$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 1
done

# Seconds one validation takes at a given concurrency.
timed() {
    local start end
    start=$(date +%s.%N)
    "$saro" judge validate --labels "$tmp/labels.csv" --judge rubric --judge-url "http://127.0.0.1:$port/v1" --judge-model grader \
        --judge-key-env SARO_BENCH_NO_KEY --judge-concurrency "$1" --quiet > /dev/null
    end=$(date +%s.%N)
    python3 -c "print(round($end - $start, 2))"
}
ref=$(timed 1)
for n in 4 8; do
    new=$(timed "$n")
    python3 -c "print(f'rubric judge on 48 answers through saro serve: {$new:.1f} s at --judge-concurrency $n against {$ref:.1f} s at 1 ({$ref / $new:.2f}x)')"
done
