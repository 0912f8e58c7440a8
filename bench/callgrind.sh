#!/usr/bin/env bash
# Instructions per message of rnats-server, counted by valgrind's callgrind: repeatable on a
# noisy machine where wall-clock benchmarks move by ±15%, so changes smaller than that noise
# can be seen (and shown before/after for any change to a hot path).
#
# For each scenario the server runs under callgrind twice, serving N and then 2N messages
# from `rnats bench`; the difference of the two totals divided by N is the cost of one
# message, without start-up, logins and shutdown. The same difference taken function by
# function gives the top functions per message (self and inclusive), printed after the table
# (TOP=0 leaves them out).
#
#   bench/callgrind.sh                                  # every scenario, release binaries
#   RNATS_SERVER=/path/to/old/rnats-server bench/callgrind.sh   # another build, for before/after
#   SCENARIOS="pubsub-1to1" MSGS=100000 bench/callgrind.sh
#
# route-* scenarios run two servers in a cluster: the publisher's (not under valgrind) and the
# subscriber's, under callgrind, which reads every message as an RMSG from its route.
#
# Environment: RNATS_SERVER, BENCH (the binaries; $CARGO_TARGET_DIR/release, else
# target/release), MSGS (N, default 200000), SCENARIOS (default all), TOP (functions listed
# per scenario, default 10), OUT (where callgrind's files go; a new /tmp dir).
# It kills only the processes it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RELEASE=${CARGO_TARGET_DIR:-$ROOT/target}/release
RNATS_SERVER=${RNATS_SERVER:-$RELEASE/rnats-server}
BENCH=${BENCH:-$RELEASE/rnats}
MSGS=${MSGS:-200000}
TOP=${TOP:-10}
OUT=${OUT:-$(mktemp -d /tmp/rnats-callgrind.XXXXXX)}
mkdir -p "$OUT"

# name | rnats bench flags (the message count is added)
TABLE='
pub-16b      | --pub 1 --size 16
pubsub-1to1  | --pub 1 --sub 1 --size 16
fanout-1to4  | --pub 1 --sub 4 --size 16
queue-4      | --pub 1 --sub 4 --queue q --size 16
pub-1k       | --pub 1 --size 1024
pubsub-1k    | --pub 1 --sub 1 --size 1024
pubsub-8k    | --pub 1 --sub 1 --size 8192
fanout-8k    | --pub 1 --sub 4 --size 8192
route-1to1   | --pub 1 --sub 1 --size 16
'
SCENARIOS=${SCENARIOS:-$(echo "$TABLE" | awk -F'|' 'NF>1 {gsub(/ /,"",$1); print $1}')}

command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
[ -x "$RNATS_SERVER" ] && [ -x "$BENCH" ] || { echo "callgrind.sh: build first: cargo build --release --bin rnats-server --bin rnats" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Runs the server under callgrind for one bench run; prints the total instructions.
count() {
    local name=$1 flags=$2 msgs=$3 tag=$4 port pid peer="" peer_pid="" cluster sub=()
    port=$(free_port)
    local cluster_flags=()
    case "$name" in
    route-*)
        # The publisher's server, outside valgrind; the measured one routes to it.
        cluster=$(free_port)
        peer=$(free_port)
        "$RNATS_SERVER" -a 127.0.0.1 -p "$peer" --cluster_name cg \
            --cluster "nats://127.0.0.1:$cluster" >"$OUT/$tag.peer.log" 2>&1 &
        peer_pid=$!
        cluster_flags=(--cluster_name cg --cluster "nats://127.0.0.1:$(free_port)"
            --routes "nats://127.0.0.1:$cluster")
        sub=(--sub-server "nats://127.0.0.1:$port")
        ;;
    esac
    valgrind --tool=callgrind --callgrind-out-file="$OUT/$tag.out" \
        "$RNATS_SERVER" -a 127.0.0.1 -p "$port" "${cluster_flags[@]}" >"$OUT/$tag.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        grep -q "Server is ready" "$OUT/$tag.log" 2>/dev/null && break
        sleep 0.1
    done
    if [ -n "$peer" ]; then
        # Until the route is up (the bench then waits for the interest itself).
        for _ in $(seq 1 300); do
            grep -q "Route connection created" "$OUT/$tag.log" 2>/dev/null && break
            sleep 0.1
        done
    fi
    # shellcheck disable=SC2086
    "$BENCH" bench --server "nats://127.0.0.1:${peer:-$port}" "${sub[@]}" $flags --msgs "$msgs" \
        --no-progress --timeout 60 >"$OUT/$tag.bench" 2>&1 || { echo "bench failed: $(cat "$OUT/$tag.bench")" >&2; }
    kill -INT "$pid"
    wait "$pid" 2>/dev/null || true
    if [ -n "$peer_pid" ]; then
        kill -INT "$peer_pid"
        wait "$peer_pid" 2>/dev/null || true
    fi
    callgrind_annotate "$OUT/$tag.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n {gsub(",","",$1); print $1; n=1}'
}

# The top functions of one scenario, per message: each function's Ir in the 2N run minus
# its Ir in the N run, over N (self, then inclusive: with what it calls).
top_functions() {
    local name=$1
    for inclusive in no yes; do
        callgrind_annotate --auto=no --inclusive=$inclusive --threshold=100 "$OUT/$name-1.out" >"$OUT/$name-1.$inclusive.txt" 2>/dev/null
        callgrind_annotate --auto=no --inclusive=$inclusive --threshold=100 "$OUT/$name-2.out" >"$OUT/$name-2.$inclusive.txt" 2>/dev/null
    done
    python3 - "$OUT/$name" "$MSGS" "$TOP" <<'PY'
import re, sys
base, msgs, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$")
def functions(path):
    out, started = {}, False
    for line in open(path, errors="replace"):
        if not started:
            started = line.lstrip().startswith("Ir") and "file:function" in line
            continue
        if not line.strip() and out:
            break  # the end of the function table
        m = LINE.match(line)
        if not m:
            continue
        # file:function [object] -> function (the object and file are noise here)
        name = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2))
        name = name.split(":", 1)[1] if ":" in name else name
        out[name] = out.get(name, 0) + int(m.group(1).replace(",", ""))
    return out
# Inlined code is listed under the file it came from: a function's lines are summed. The
# inclusive list keeps rnats' own functions (the runtime's frames above them include everything).
for inclusive, label in (("no", "self"), ("yes", "inclusive, rnats functions")):
    one = functions(f"{base}-1.{inclusive}.txt")
    two = functions(f"{base}-2.{inclusive}.txt")
    per = {f: (two.get(f, 0) - one.get(f, 0)) / msgs for f in set(one) | set(two)}
    if inclusive == "yes":
        per = {f: v for f, v in per.items() if "rnats" in f}
    print(f"  top {top} by {label} (Ir/msg):")
    for f, v in sorted(per.items(), key=lambda kv: -kv[1])[:top]:
        short = f if len(f) <= 110 else f[:107] + "..."
        print(f"    {v:9.1f}  {short}")
PY
}

printf '%-14s %14s %14s %12s\n' scenario "Ir (N)" "Ir (2N)" "Ir/msg"
DONE=()
for name in $SCENARIOS; do
    flags=$(echo "$TABLE" | awk -F'|' -v n="$name" '{k=$1; gsub(/ /,"",k)} k==n {print $2}')
    [ -n "$flags" ] || { echo "unknown scenario $name" >&2; exit 1; }
    one=$(count "$name" "$flags" "$MSGS" "$name-1")
    two=$(count "$name" "$flags" "$((MSGS * 2))" "$name-2")
    per=$(python3 -c "print(f'{($two - $one) / $MSGS:.0f}')")
    printf '%-14s %14s %14s %12s\n' "$name" "$one" "$two" "$per"
    DONE+=("$name")
done
if [ "$TOP" -gt 0 ]; then
    for name in "${DONE[@]}"; do
        echo
        echo "$name:"
        top_functions "$name"
    done
fi
echo "(callgrind files in $OUT)" >&2
