#!/usr/bin/env bash
# Instructions per message of rnats-server, counted by valgrind's callgrind: repeatable on a
# noisy machine where wall-clock benchmarks move by ±15%, so changes smaller than that noise
# can be seen (and shown before/after for any change to a hot path).
#
# For each scenario the server runs under callgrind twice, serving N and then 2N messages
# from `rnats bench`; the difference of the two totals divided by N is the cost of one
# message, without start-up, logins and shutdown.
#
#   bench/callgrind.sh                                  # every scenario, target/release binaries
#   RNATS_SERVER=/path/to/old/rnats-server bench/callgrind.sh   # another build, for before/after
#   SCENARIOS="pubsub-1to1" MSGS=100000 bench/callgrind.sh
#
# Environment: RNATS_SERVER, BENCH (the binaries; target/release by default), MSGS (N, default
# 200000), SCENARIOS (default all), OUT (where callgrind's files go; a new /tmp dir).
# It kills only the processes it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RNATS_SERVER=${RNATS_SERVER:-$ROOT/target/release/rnats-server}
BENCH=${BENCH:-$ROOT/target/release/rnats}
MSGS=${MSGS:-200000}
OUT=${OUT:-$(mktemp -d /tmp/rnats-callgrind.XXXXXX)}

# name | rnats bench flags (the message count is added)
TABLE='
pub-16b      | --pub 1 --size 16
pubsub-1to1  | --pub 1 --sub 1 --size 16
fanout-1to4  | --pub 1 --sub 4 --size 16
queue-4      | --pub 1 --sub 4 --queue q --size 16
'
SCENARIOS=${SCENARIOS:-$(echo "$TABLE" | awk -F'|' 'NF>1 {gsub(/ /,"",$1); print $1}')}

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$RNATS_SERVER" ] && [ -x "$BENCH" ] || { echo "callgrind.sh: build first: cargo build --release --bin rnats-server --bin rnats" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Runs the server under callgrind for one bench run; prints the total instructions.
count() {
    local flags=$1 msgs=$2 tag=$3 port pid
    port=$(free_port)
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.out" \
        "$RNATS_SERVER" -a 127.0.0.1 -p "$port" >"$OUT/$tag.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q "Server is ready" "$OUT/$tag.log" 2>/dev/null && break
        sleep 0.1
    done
    # shellcheck disable=SC2086
    "$BENCH" bench --server "nats://127.0.0.1:$port" $flags --msgs "$msgs" --no-progress \
        --timeout 60 >"$OUT/$tag.bench" 2>&1 || { echo "bench failed: $(cat "$OUT/$tag.bench")" >&2; }
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    callgrind_annotate "$OUT/$tag.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n {gsub(",","",$1); print $1; n=1}'
}

printf '%-14s %14s %14s %12s\n' scenario "Ir (N)" "Ir (2N)" "Ir/msg"
for name in $SCENARIOS; do
    flags=$(echo "$TABLE" | awk -F'|' -v n="$name" '{k=$1; gsub(/ /,"",k)} k==n {print $2}')
    [ -n "$flags" ] || { echo "unknown scenario $name" >&2; exit 1; }
    one=$(count "$flags" "$MSGS" "$name-1")
    two=$(count "$flags" "$((MSGS * 2))" "$name-2")
    per=$(python3 -c "print(f'{($two - $one) / $MSGS:.0f}')")
    printf '%-14s %14s %14s %12s\n' "$name" "$one" "$two" "$per"
done
echo "(callgrind files in $OUT)" >&2
