#!/usr/bin/env bash
# Request/reply latency percentiles measured by the official Go client, nats.go (Debian's
# golang-github-nats-io-go-nats-dev), against rnats-server and nats-server side by side:
# ROUNDS rounds, alternating, N sequential requests each; prints the medians of p50/p90/p99
# and the ratios rnats/nats-server (below 1 is better).
#
#   bench/request-tail.sh                       # 7 rounds of 8000 requests
#   ROUNDS=3 N=4000 bench/request-tail.sh
#
# Environment: ROUNDS (7), N (8000), RNATS_SERVER (target/release/rnats-server),
# NATS_SERVER (nats-server on PATH), CPU_LATENCY (µs, root: holds /dev/cpu_dma_latency there
# during the run, as bench/compare.sh explains). Needs golang-go and golang-github-nats-io-go-nats-dev
# (apt-get install); builds the client in GOPATH mode, offline. Kills only what it started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-7}
N=${N:-8000}
RNATS_SERVER=${RNATS_SERVER:-$ROOT/target/release/rnats-server}
NATS_SERVER=${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}
WORK=$(mktemp -d /tmp/rnats-request-tail.XXXXXX)
if [ -n "${CPU_LATENCY:-}" ]; then
    exec 9>/dev/cpu_dma_latency
    printf '0x%08x' "$CPU_LATENCY" >&9
fi

command -v go >/dev/null || { echo "request-tail.sh: needs golang-go and golang-github-nats-io-go-nats-dev" >&2; exit 1; }
GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE="$WORK/gocache" \
    go build -o "$WORK/nats-go-request" "$ROOT/bench/nats-go-request/main.go"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() { # binary port -> pid
    "$1" -a 127.0.0.1 -p "$2" >"$WORK/$2.log" 2>&1 &
    echo $!
}
ready() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

rp=$(free_port); np=$(free_port)
rpid=$(start "$RNATS_SERVER" "$rp"); npid=$(start "$NATS_SERVER" "$np")
trap 'kill "$rpid" "$npid" 2>/dev/null || true' EXIT
ready "$rp"; ready "$np"
for round in $(seq 1 "$ROUNDS"); do
    "$WORK/nats-go-request" -server "nats://127.0.0.1:$rp" -n "$N" >>"$WORK/rnats.jsonl"
    "$WORK/nats-go-request" -server "nats://127.0.0.1:$np" -n "$N" >>"$WORK/nats-server.jsonl"
    echo "round $round done" >&2
done
python3 - "$WORK" <<'PY'
import json, statistics, sys
w = sys.argv[1]
def load(name): return [json.loads(l) for l in open(f"{w}/{name}.jsonl")]
r, n = load("rnats"), load("nats-server")
print(f"{'':8} {'rnats µs':>10} {'nats-server µs':>15} {'ratio':>7}")
for k in ("p50_us", "p90_us", "p99_us"):
    a, b = statistics.median(x[k] for x in r), statistics.median(x[k] for x in n)
    print(f"{k[:3]:8} {a:10.1f} {b:15.1f} {a/b:7.2f}")
print("per round (rnats p50/p90/p99 | nats-server p50/p90/p99):")
for x, y in zip(r, n):
    print(f"  {x['p50_us']:.0f}/{x['p90_us']:.0f}/{x['p99_us']:.0f} | {y['p50_us']:.0f}/{y['p90_us']:.0f}/{y['p99_us']:.0f}")
PY
