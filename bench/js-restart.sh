#!/usr/bin/env bash
# JetStream storage side by side: rnats-server against current nats-server (2.15.1) on loopback.
#
# For each server, in its own temporary store directory and with the same sync setting:
#   1. fill: a file stream with N messages of SIZE bytes (`rnats bench --js --keep`, async);
#   2. bytes on disk per stored message: `du` of the store directory after a clean stop / N;
#   3. time to ready after a restart: from starting the process to the first time
#      `$JS.API.STREAM.INFO` says the stream holds the N messages (polled every POLL seconds;
#      gives up after READY_TIMEOUT);
#   4. memory holding 1 000 streams: a fresh server (new store), STREAMS empty file streams made
#      with `rnats stream add`, then VmRSS from /proc/PID/status (and the RSS before them).
#
#   bench/js-restart.sh                      # N=1M 16-byte messages
#   N=100k bench/js-restart.sh               # quicker
#   N=10M bench/js-restart.sh                # the issue's size: see bench/README.md for time
#
# Environment: N (1M; k/M suffixes), SIZE (16), STREAMS (1000), JS_SYNC (2m, both servers'
# default; `always` syncs every write), READY_TIMEOUT (120 s), POLL (0.02 s),
# OUT (results directory; a new /tmp one by default), SKIP_BUILD=1, RNATS_SERVER / BENCH
# (target/release by default), NATS_SERVER_LATEST (else scripts/nats-server-latest.sh).
#
# It kills only the processes it started. The summary is printed and left in OUT/summary.txt;
# the store directories are removed at the end (KEEP_STORES=1 keeps them).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-1M}
SIZE=${SIZE:-16}
STREAMS=${STREAMS:-1000}
JS_SYNC=${JS_SYNC:-2m}
READY_TIMEOUT=${READY_TIMEOUT:-120}
POLL=${POLL:-0.02}
OUT=${OUT:-$(mktemp -d /tmp/rnats-js-restart.XXXXXX)}
RNATS_SERVER=${RNATS_SERVER:-$ROOT/target/release/rnats-server}
BENCH=${BENCH:-$ROOT/target/release/rnats}

log() { printf '%s\n' "$*" >&2; }
die() { log "js-restart.sh: $*"; exit 1; }

case "$N" in
*[kK]) COUNT=$((${N%[kK]} * 1000)) ;;
*M) COUNT=$((${N%M} * 1000000)) ;;
*) COUNT=$N ;;
esac
[[ $COUNT =~ ^[0-9]+$ ]] && [ "$COUNT" -gt 0 ] || die "N must be a count (e.g. 100k, 1M)"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "--- cargo build --release (rnats-server, rnats)"
    (cd "$ROOT" && cargo build --release --bin rnats-server --bin rnats) >&2
fi
[ -x "$RNATS_SERVER" ] || die "no rnats-server at $RNATS_SERVER"
[ -x "$BENCH" ] || die "no rnats at $BENCH"
if [ -z "${NATS_SERVER_LATEST:-}" ]; then
    NATS_SERVER_LATEST=$(bash "$ROOT/scripts/nats-server-latest.sh") ||
        die "cannot get nats-server 2.15.1; set NATS_SERVER_LATEST"
fi
[ -x "$NATS_SERVER_LATEST" ] || die "no nats-server at $NATS_SERVER_LATEST"
command -v python3 >/dev/null || die "python3 is needed"
mkdir -p "$OUT"

# --- the processes this script started, killed on exit
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    [ "${KEEP_STORES:-0}" = 1 ] || rm -rf "$OUT"/*.store
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now() { date +%s.%N; }

# start which port store log; sets SERVER_PID
start() {
    local which=$1 port=$2 store=$3 logfile=$4 bin=$RNATS_SERVER
    [ "$which" = nats ] && bin=$NATS_SERVER_LATEST
    printf 'jetstream {\n  store_dir: "%s"\n  sync_interval: "%s"\n}\n' "$store" "$JS_SYNC" \
        >"$OUT/$which.conf"
    "$bin" -c "$OUT/$which.conf" -a 127.0.0.1 -p "$port" >>"$logfile" 2>&1 &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
}

# Waits until the client port accepts connections.
wait_listening() { # port pid
    local deadline
    deadline=$(python3 -c "import time; print(time.time() + $READY_TIMEOUT)")
    until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
        kill -0 "$2" 2>/dev/null || return 1
        python3 -c "import sys, time; sys.exit(time.time() > $deadline)" || return 1
        sleep "$POLL"
    done
}

stop() { # pid: a clean stop (SIGTERM), as an operator restarts a server
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local kept=() pid
    for pid in "${STARTED[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    STARTED=("${kept[@]}")
}

# The stream's message count, or "" when there is no answer (or no such stream).
stream_messages() { # url
    "$BENCH" stream info RESTART --json -s "$1" --timeout 2s 2>/dev/null |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["state"]["messages"])' 2>/dev/null || true
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(uname -sr); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "nats-server: $("$NATS_SERVER_LATEST" --version 2>&1 | head -1)"
    echo "rnats-server: $("$RNATS_SERVER" --version 2>&1 | head -1)"
    echo "messages: $COUNT of $SIZE B; sync_interval: $JS_SYNC; streams for memory: $STREAMS"
} | tee "$OUT/machine.txt" >&2

for which in rnats nats; do
    log "--- $which"
    store="$OUT/$which.store"
    logfile="$OUT/$which.log"
    rm -rf "$store" && mkdir -p "$store"
    port=$(free_port)
    url="nats://127.0.0.1:$port"
    start "$which" "$port" "$store" "$logfile"
    pid=$SERVER_PID
    wait_listening "$port" "$pid" || die "$which did not start (log: $logfile)"

    # 1. fill
    t0=$(now)
    "$BENCH" bench --js --stream RESTART --subject restart --storage file --keep \
        --msgs "$COUNT" --size "$SIZE" --server "$url" --json --no-progress --timeout 60 \
        >"$OUT/$which.fill.json" 2>"$OUT/$which.fill.err" ||
        die "$which: filling failed: $(head -c 300 "$OUT/$which.fill.err")"
    fill_s=$(python3 -c "print($(now) - $t0)")
    stored=$(stream_messages "$url")
    log "    filled: $stored messages in $(printf '%.2f' "$fill_s")s"
    stop "$pid"

    # 2. bytes on disk
    disk=$(du -sb "$store" | cut -f1)

    # 3. restart
    t0=$(now)
    start "$which" "$port" "$store" "$logfile"
    pid=$SERVER_PID
    ready_s="" seen=""
    while :; do
        seen=$(stream_messages "$url")
        if [ "$seen" = "$COUNT" ]; then
            ready_s=$(python3 -c "print(f'{$(now) - $t0:.3f}')")
            break
        fi
        kill -0 "$pid" 2>/dev/null || break
        python3 -c "import sys, time; sys.exit(time.time() - $t0 > $READY_TIMEOUT)" || break
        sleep "$POLL"
    done
    if [ -n "$ready_s" ]; then
        log "    ready after a restart in ${ready_s}s"
    else
        log "    NOT ready within ${READY_TIMEOUT}s: the stream has '${seen:-no answer}' of $COUNT messages"
    fi
    rss_full=$(rss_kib "$pid" 2>/dev/null || echo "")
    stop "$pid"
    rm -rf "$store"

    # 4. a fresh server with STREAMS empty streams
    mkdir -p "$store"
    start "$which" "$port" "$store" "$logfile"
    pid=$SERVER_PID
    wait_listening "$port" "$pid" || die "$which did not start again (log: $logfile)"
    # (JetStream may start a moment after the port: wait for its API.)
    for _ in $(seq 1 200); do
        "$BENCH" stream ls --names -s "$url" --timeout 1s >/dev/null 2>&1 && break
        sleep "$POLL"
    done
    rss_before=$(rss_kib "$pid")
    t1=$(now)
    for i in $(seq 1 "$STREAMS"); do
        "$BENCH" stream add "S$i" --subjects "s.$i" --storage file -s "$url" >/dev/null 2>>"$OUT/$which.streams.err" ||
            die "$which: creating stream S$i failed: $(tail -1 "$OUT/$which.streams.err")"
    done
    streams_s=$(python3 -c "print(f'{$(now) - $t1:.1f}')")
    sleep 1 # let anything a stream starts settle before reading the RSS
    rss_streams=$(rss_kib "$pid")
    stop "$pid"
    rm -rf "$store"
    log "    $STREAMS streams made in ${streams_s}s; RSS $((rss_before / 1024)) → $((rss_streams / 1024)) MiB"

    printf '{"which":"%s","count":%s,"size":%s,"stored":"%s","fill_s":%s,"disk_bytes":%s,"ready_s":"%s","seen":"%s","rss_full_kib":"%s","rss_before_kib":%s,"rss_streams_kib":%s,"streams":%s}\n' \
        "$which" "$COUNT" "$SIZE" "$stored" "$fill_s" "$disk" "$ready_s" "$seen" "$rss_full" \
        "$rss_before" "$rss_streams" "$STREAMS" >"$OUT/$which.result.json"
done

python3 - "$OUT" <<'PY' | tee "$OUT/summary.txt"
import json, os, sys
out = sys.argv[1]
r = {w: json.load(open(os.path.join(out, f"{w}.result.json"))) for w in ("rnats", "nats")}
print(open(os.path.join(out, "machine.txt")).read().rstrip())
print()

def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None

rows = []
for w in ("rnats", "nats"):
    x = r[w]
    stored = num(x["stored"]) or 0
    x["bytes_per_msg"] = x["disk_bytes"] / stored if stored else None
    # Fewer bytes than the payloads: the messages are not on disk (no file store), no verdict.
    x["on_disk"] = x["bytes_per_msg"] is not None and x["bytes_per_msg"] >= x["size"]
    x["ready"] = num(x["ready_s"])
    x["rss_streams_mib"] = x["rss_streams_kib"] / 1024
    x["kib_per_stream"] = (x["rss_streams_kib"] - x["rss_before_kib"]) / x["streams"]
    x["rate"] = stored / x["fill_s"] if x["fill_s"] else None

def f(v, fmt):
    return "-" if v is None else format(v, fmt)

def ratio(key):
    a, b = r["rnats"][key], r["nats"][key]
    return f"{a / b:.2f}" if a is not None and b else "-"

print(f"{'metric':<38} {'rnats':>12} {'nats-server':>12} {'ratio':>7}  target")
print("-" * 80)
for label, key, fmt, target in [
    ("fill rate (async publish), msgs/s", "rate", ",.0f", ""),
    ("bytes on disk per stored message", "bytes_per_msg", ".1f", "<=1.0"),
    ("time to ready after a restart, s", "ready", ".3f", "<=0.5"),
    (f"RSS holding {r['nats']['streams']} streams, MiB", "rss_streams_mib", ".1f", "<=0.5"),
    ("RSS per stream, KiB", "kib_per_stream", ".1f", ""),
]:
    rv, nv = r["rnats"][key], r["nats"][key]
    verdict = ""
    rt = ratio(key)
    if key == "bytes_per_msg" and not (r["rnats"]["on_disk"] and r["nats"]["on_disk"]):
        verdict = "no verdict (see below)"
    elif target and rt != "-":
        bound = float(target[2:])
        verdict = f"{target} {'met' if float(rt) <= bound else 'MISSED'}"
    print(f"{label:<38} {f(rv, fmt):>12} {f(nv, fmt):>12} {rt:>7}  {verdict}")
for w in ("rnats", "nats"):
    x = r[w]
    if x["ready"] is None:
        print(f"{w}: not ready after the restart: the stream had '{x['seen'] or 'no answer'}' of {x['count']} messages")
    if str(x["stored"]) != str(x["count"]):
        print(f"{w}: the stream held {x['stored']} of {x['count']} messages after filling")
    if x["bytes_per_msg"] is not None and not x["on_disk"]:
        print(f"{w}: {x['bytes_per_msg']:.1f} bytes on disk per {x['size']}-byte message: "
              "the messages are not (all) on disk, so bytes per message means nothing here")
print()
print(f"raw results: {out}")
PY
