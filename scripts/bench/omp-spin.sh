#!/usr/bin/env bash
# How long oneDNN's idle OpenMP threads spin (GOMP_SPINCOUNT) against libgomp's own default,
# with the cores shared: two `saro bench generate` run at once, first with libgomp's default
# (300000, the reference), then with saro's (unset: saro sets its own), each pair twice. Prints
# each run's prefill and batched-decode rates and saro's over the reference's (means of the
# processes). Then one run of each alone, where the two should be about the same.
#   scripts/bench/omp-spin.sh [path to saro]     (default .build/release/saro)
set -euo pipefail
cd "$(dirname "$0")/../.."
saro=${1:-.build/release/saro}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One `saro bench generate --json` per argument at once; prints "prefill decode" per process.
run_together() {
    local i=0
    for spin in "$@"; do
        if [ "$spin" = saro ]; then env -u GOMP_SPINCOUNT "$saro" bench generate --json > "$tmp/$i.json" &
        else GOMP_SPINCOUNT=$spin "$saro" bench generate --json > "$tmp/$i.json" &
        fi
        i=$((i + 1))
    done
    wait
    for f in "$tmp"/*.json; do
        python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]; print(r["prefill_tokens_per_second"], r["decode_batched_lanes_tokens_per_second"])' "$f"
        rm "$f"
    done
}

mean() { python3 -c 'import sys; v=[list(map(float,l.split())) for l in sys.stdin if l.strip()]; print(" ".join(str(sum(c)/len(c)) for c in zip(*v)))'; }

report() {
    local label=$1 ref=$2 new=$3
    python3 - "$label" "$ref" "$new" <<'EOF'
import sys
label, ref, new = sys.argv[1], list(map(float, sys.argv[2].split())), list(map(float, sys.argv[3].split()))
print(f"{label}: prefill {new[0]:.0f} tokens/s against {ref[0]:.0f} ({new[0]/ref[0]:.2f}x), "
      f"batched decode in lanes {new[1]:.0f} against {ref[1]:.0f} ({new[1]/ref[1]:.2f}x)")
EOF
}

ref=$( { run_together 300000 300000; run_together 300000 300000; } | mean)
new=$( { run_together saro saro; run_together saro saro; } | mean)
report "two processes at once, saro's GOMP_SPINCOUNT against libgomp's 300000 (per process)" "$ref" "$new"
ref=$(run_together 300000 | mean)
new=$(run_together saro | mean)
report "one process alone" "$ref" "$new"
