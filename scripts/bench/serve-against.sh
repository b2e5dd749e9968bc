#!/usr/bin/env bash
# `saro bench serve` (concurrent clients against the OpenAI-compatible server) with two saro
# binaries in turn, the reference first: prints each run's requests/s, tokens/s and latency
# percentiles, and the second's over the first's. For changes to serving, a reference binary
# built from the commit before them.
#   scripts/bench/serve-against.sh REFERENCE_SARO [SARO] [saro bench serve options...]
#     SARO defaults to .build/release/saro; options default to --clients 16 --requests 4
#     --max-tokens 64.
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:?give the reference saro binary}
new=${2:-.build/release/saro}
shift $(( $# >= 2 ? 2 : 1 ))
options=("$@")
[ ${#options[@]} -gt 0 ] || options=(--clients 16 --requests 4 --max-tokens 64)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$ref" bench serve --json "${options[@]}" > "$tmp/ref.json" 2> "$tmp/ref.log" || { cat "$tmp/ref.log" >&2; exit 1; }
"$new" bench serve --json "${options[@]}" > "$tmp/new.json" 2> "$tmp/new.log" || { cat "$tmp/new.log" >&2; exit 1; }
python3 - "$tmp/ref.json" "$tmp/new.json" <<'PY'
import json, sys
ref, new = (json.load(open(p)) for p in sys.argv[1:3])
def line(name, r):
    return (f"{name}: {r['requests_per_second']:.2f} requests/s, {r['tokens_per_second']:.1f} tokens/s, "
            f"p50 {r['latency_p50_seconds']:.2f} s, p95 {r['latency_p95_seconds']:.2f} s, mean batch {r['mean_batch']:.1f}, failures {r['failures']}")
print(line("reference", ref))
print(line("saro     ", new))
print(f"ratio: requests/s {new['requests_per_second'] / ref['requests_per_second']:.2f}x, "
      f"p50 latency {ref['latency_p50_seconds'] / new['latency_p50_seconds']:.2f}x shorter, p95 {ref['latency_p95_seconds'] / new['latency_p95_seconds']:.2f}x shorter")
PY
