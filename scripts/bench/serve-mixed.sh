#!/usr/bin/env bash
# Short requests while a long one decodes, against a reference binary: one client asks `saro
# serve` for 400 tokens, and 0.3 s later another sends 8 short requests (16 tokens) one after
# another. Prints, for the reference and then saro, the short requests' mean and worst latency
# and the long one's time (two rounds each), and the ratio of the mean short latencies. With
# batches that run to their end, a short request waits for the long one's batch; with
# continuous batching it joins it.
#   scripts/bench/serve-mixed.sh REFERENCE_SARO [SARO]     (SARO defaults to .build/release/saro)
set -euo pipefail
cd "$(dirname "$0")/../.."
ref=${1:?give the reference saro binary}
new=${2:-.build/release/saro}
port=${SARO_BENCH_PORT:-8797}
tmp=$(mktemp -d)
server=
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$tmp"' EXIT

# Prints "mean worst long" (seconds) for one round against the server on $port.
round() {
    python3 - "$port" <<'PY'
import json, sys, threading, time, urllib.request
port = int(sys.argv[1])
def ask(max_tokens, text):
    body = {"model": "m", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens, "temperature": 0}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    start = time.time()
    json.load(urllib.request.urlopen(request))
    return time.time() - start
long = {}
thread = threading.Thread(target=lambda: long.setdefault("s", ask(400, "Write a long story about a lighthouse keeper and the sea.")))
thread.start()
time.sleep(0.3)
shorts = [ask(16, f"Say hello number {i}.") for i in range(8)]
thread.join()
print(sum(shorts) / len(shorts), max(shorts), long["s"])
PY
}

measure() {
    "$1" serve --port "$port" --served-model-name m > "$tmp/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 1; done
    { round; round; } | python3 -c 'import sys; v=[list(map(float,l.split())) for l in sys.stdin]; print(" ".join(str(sum(c)/len(c)) for c in zip(*v)))'
    kill "$server"; wait "$server" 2>/dev/null || true; server=
}
a=$(measure "$ref")
b=$(measure "$new")
python3 - "$a" "$b" <<'PY'
import sys
(ra, rw, rl), (na, nw, nl) = (map(float, s.split()) for s in sys.argv[1:3])
print(f"reference: short requests {ra:.2f} s mean, {rw:.2f} s worst; the long one {rl:.2f} s")
print(f"saro     : short requests {na:.2f} s mean, {nw:.2f} s worst; the long one {nl:.2f} s")
print(f"ratio: short requests' mean latency {ra / na:.2f}x shorter")
PY
