#!/usr/bin/env bash
# Side-by-side benchmark: rnats-server against the reference nats-server on loopback.
#
# For each scenario, starts both servers fresh on free loopback ports, runs `rnats bench`
# against them in alternation (A B A B …, ROUNDS times each), and prints the medians and the
# ratios rnats/nats-server of throughput, latency, the server's CPU microseconds per operation
# (from /proc/PID/stat, read by `rnats bench --server-pid` just before and after the measured
# part) and its RSS (VmRSS from /proc/PID/status).
#
#   bench/compare.sh                          # everything, 7 rounds
#   ROUNDS=1 bench/compare.sh                 # quick look
#   SCENARIOS="pub-16b request-reply" bench/compare.sh   # some scenarios (shell globs work: 'pub-*')
#   SCENARIOS='js-*' bench/compare.sh         # the JetStream scenarios only
#
# Environment: ROUNDS (7), SCENARIOS (all), OUT (results directory; a new /tmp one by default),
# SKIP_BUILD=1 (use the binaries as they are), NATS_SERVER (the reference binary),
# RNATS_SERVER / BENCH (the rnats-server and rnats binaries; target/release by default).
#
# JetStream scenarios (js-*) run against current nats-server (2.15.1: NATS_SERVER_LATEST, else
# what scripts/nats-server-latest.sh downloads), since Debian's 2.9 is older than the JetStream
# the issue compares with. Each server gets a config file with its own store directory under
# OUT (removed after the scenario) and the same sync setting, JS_SYNC (default 2m, both
# servers' default: fsync every 2 minutes, not per message; `always` syncs every write).
#
# CPU_LATENCY=N (µs; needs root) holds the kernel's CPU wake-up latency limit
# (/dev/cpu_dma_latency) at N for the whole run, for both servers alike; 0 keeps idle cores
# polling instead of halting. On a virtual machine that halts idle cores, a quiet round trip
# is mostly waking them (see bench/RESULTS.md): latency scenarios then measure the machine more
# than the servers. Unset (the default), the machine is measured as it is.
#
# It kills only the processes it started. Raw JSON of every run, the servers' logs and the
# summary (summary.txt) are left in OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-7}
SCENARIOS=${SCENARIOS:-}
OUT=${OUT:-$(mktemp -d /tmp/rnats-compare.XXXXXX)}
RNATS_SERVER=${RNATS_SERVER:-$ROOT/target/release/rnats-server}
BENCH=${BENCH:-$ROOT/target/release/rnats}
if [ -z "${NATS_SERVER:-}" ]; then
    NATS_SERVER=$(command -v nats-server || true)
    [ -n "$NATS_SERVER" ] || NATS_SERVER=/usr/sbin/nats-server
fi
JS_SYNC=${JS_SYNC:-2m}
if [ -n "${CPU_LATENCY:-}" ]; then
    # Held while file descriptor 9 stays open, that is until this script exits.
    exec 9>/dev/cpu_dma_latency
    printf '0x%08x' "$CPU_LATENCY" >&9
    echo "holding /dev/cpu_dma_latency at ${CPU_LATENCY} µs" >&2
fi

# One scenario a line: name | server flags (given to both servers) | rnats bench flags | targets.
# Targets are ratios rnats/nats-server that the issue asks for (throughput, cpu, p50, p99,
# rss, kib_per_conn); they are only reported, never fatal. Add a scenario by adding a line.
SCENARIO_TABLE='
pub-16b        |  | --pub 1 --msgs 20M --size 16                    | throughput>=1.0 cpu<=0.6
pub-256b       |  | --pub 1 --msgs 8M --size 256                    | throughput>=1.0 cpu<=0.6
pub-8kb        |  | --pub 1 --msgs 1M --size 8KiB                   | throughput>=1.0 cpu<=0.6
pub-4x16b      |  | --pub 4 --msgs 20M --size 16                    | throughput>=1.0 cpu<=0.6
pubsub-1to1    |  | --pub 1 --sub 1 --msgs 8M --size 16             | throughput>=1.25 cpu<=0.6
fanout-1to4    |  | --pub 1 --sub 4 --msgs 3M --size 16             | throughput>=1.25 cpu<=0.6
queue-4        |  | --pub 1 --sub 4 --queue q --msgs 8M --size 16   | throughput>=1.25 cpu<=0.6
request-reply  |  | --request --msgs 20k --size 16                  | p50<=0.9 p99<=0.9
storm-noauth   |  | --conns-storm 5000 --concurrency 16             | throughput>=1.2
storm-user     | --user alice --pass s3cret | --conns-storm 5000 --concurrency 16 --user alice --password s3cret | throughput>=1.2
idle-10k       |  | --idle 10000 --hold 3                           | kib_per_conn<=0.3
js-async-16b   |  | --js --pub 1 --msgs 1M --size 16                | throughput>=1.5 cpu<=0.5
js-async-1kb   |  | --js --pub 1 --msgs 200k --size 1KiB            | throughput>=1.5 cpu<=0.5
js-sync-16b    |  | --js --sync --msgs 20k --size 16                | p50<=0.7 p99<=0.7 cpu<=0.5
storm-token    | --auth t0k3n | --conns-storm 5000 --concurrency 16 --token t0k3n | throughput>=1.2
route-1to1     |  | --pub 1 --sub 1 --msgs 4M --size 16             | throughput>=1.25
tls-1to1       | --tls --tlscert /tmp/rnats-bench-tls/cert.pem --tlskey /tmp/rnats-bench-tls/key.pem | --pub 1 --sub 1 --msgs 4M --size 16 --tls-ca /tmp/rnats-bench-tls/ca.pem | throughput>=1.2
storm-bcrypt   | --user alice --pass $2a$11$ut2munJZvTRupCw.pj2EIex5z9N/ek7aBwApuci4qQqkEizrZDrOq | --conns-storm 300 --concurrency 8 --user alice --password s3cret | throughput>=20
'

log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: $*"; exit 1; }

# --- build and check the tools
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "--- cargo build --release (rnats-server, rnats)"
    (cd "$ROOT" && cargo build --release --bin rnats-server --bin rnats) >&2
fi
[ -x "$RNATS_SERVER" ] || die "no rnats-server at $RNATS_SERVER"
[ -x "$BENCH" ] || die "no rnats at $BENCH"
[ -x "$NATS_SERVER" ] || die "no nats-server at $NATS_SERVER (apt-get install nats-server)"
command -v python3 >/dev/null || die "python3 is needed for the arithmetic"
mkdir -p "$OUT"

# A CA and a server certificate for 127.0.0.1, for the TLS scenarios.
TLS_DIR=/tmp/rnats-bench-tls
if [ ! -s "$TLS_DIR/cert.pem" ] && command -v openssl >/dev/null; then
    mkdir -p "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=rnats bench CA" \
        -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/req.pem" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$TLS_DIR/san.ext"
    openssl x509 -req -in "$TLS_DIR/req.pem" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" \
        -CAcreateserial -days 30 -extfile "$TLS_DIR/san.ext" -out "$TLS_DIR/cert.pem" 2>/dev/null
fi

# More open files for storms and idle connections (the servers inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- the processes this script started, killed on exit
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]:-}"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]:-}"; do
        [ -n "$pid" ] || continue
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_listening() { # port pid
    local i
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# start_server which port logfile flags... ; sets SERVER_PID
start_server() {
    local which=$1 port=$2 logfile=$3
    shift 3
    local bin=$RNATS_SERVER
    [ "$which" = nats ] && bin=${NATS_BIN:-$NATS_SERVER}
    "$bin" -a 127.0.0.1 -p "$port" "$@" >"$logfile" 2>&1 &
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
    wait_listening "$port" "$SERVER_PID" || {
        tail -5 "$logfile" >&2
        die "$which server did not start (log: $logfile)"
    }
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    # Forget it, so that the exit trap never signals a reused pid.
    local kept=() pid
    for pid in "${STARTED[@]}"; do
        [ "$pid" = "$1" ] || kept+=("$pid")
    done
    STARTED=("${kept[@]}")
}

# Current nats-server for the JetStream scenarios, fetched once (on first use).
latest_server() {
    if [ -z "${NATS_SERVER_LATEST:-}" ]; then
        NATS_SERVER_LATEST=$(bash "$ROOT/scripts/nats-server-latest.sh") ||
            die "cannot get nats-server 2.15.1 (scripts/nats-server-latest.sh); set NATS_SERVER_LATEST"
        echo "nats-server for js-*: $("$NATS_SERVER_LATEST" --version 2>&1 | head -1)" >>"$OUT/machine.txt"
    fi
    [ -x "$NATS_SERVER_LATEST" ] || die "no nats-server at $NATS_SERVER_LATEST"
}

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

selected() { # name
    [ -z "$SCENARIOS" ] && return 0
    local pattern
    for pattern in ${SCENARIOS//,/ }; do
        # shellcheck disable=SC2053
        [[ $1 == $pattern ]] && return 0
    done
    return 1
}

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "nats-server: $("$NATS_SERVER" --version 2>&1 | head -1)"
    echo "rnats-server: $("$RNATS_SERVER" --version 2>&1 | head -1)"
    echo "rounds: $ROUNDS"
    echo "loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

log "--- results in $OUT"
RAN=0
while IFS='|' read -r name server_flags bench_flags targets; do
    name=$(trim "$name")
    [ -n "$name" ] || continue
    selected "$name" || continue
    RAN=$((RAN + 1))
    server_flags=$(trim "$server_flags")
    bench_flags=$(trim "$bench_flags")
    printf '%s\t%s\n' "$name" "$(trim "${targets:-}")" >>"$OUT/scenarios.tsv"
    log "--- $name: rnats bench $bench_flags"
    # route-* scenarios: a second node of the same kind, routed to the
    # first; subscribers connect to it, publishers (and the CPU reading) to
    # the first.
    route_flags=()
    case "$name" in route-*) route_flags=(--cluster_name bench) ;; esac
    # js-* scenarios: current nats-server, and a config file each with its own store.
    NATS_BIN=$NATS_SERVER
    rjs=() njs=()
    case "$name" in
    js-*)
        latest_server
        NATS_BIN=$NATS_SERVER_LATEST
        for which in rnats nats; do
            store="$OUT/$name.$which.store"
            rm -rf "$store" && mkdir -p "$store"
            printf 'jetstream {\n  store_dir: "%s"\n  sync_interval: "%s"\n}\n' "$store" "$JS_SYNC" \
                >"$OUT/$name.$which.conf"
        done
        rjs=(-c "$OUT/$name.rnats.conf") njs=(-c "$OUT/$name.nats.conf")
        ;;
    esac
    rport=$(free_port)
    rcluster=$(free_port)
    [ ${#route_flags[@]} -gt 0 ] && extra=("${route_flags[@]}" --cluster "nats://127.0.0.1:$rcluster") || extra=()
    # shellcheck disable=SC2086
    start_server rnats "$rport" "$OUT/$name.rnats-server.log" $server_flags "${extra[@]}" "${rjs[@]}"
    rpid=$SERVER_PID
    nport=$(free_port)
    ncluster=$(free_port)
    [ ${#route_flags[@]} -gt 0 ] && extra=("${route_flags[@]}" --cluster "nats://127.0.0.1:$ncluster") || extra=()
    # shellcheck disable=SC2086
    start_server nats "$nport" "$OUT/$name.nats-server.log" $server_flags "${extra[@]}" "${njs[@]}"
    npid=$SERVER_PID
    rsub=() nsub=() rpid2="" npid2=""
    if [ ${#route_flags[@]} -gt 0 ]; then
        p2=$(free_port)
        # shellcheck disable=SC2086
        start_server rnats "$p2" "$OUT/$name.rnats-server2.log" $server_flags "${route_flags[@]}" \
            --cluster "nats://127.0.0.1:$(free_port)" --routes "nats://127.0.0.1:$rcluster"
        rpid2=$SERVER_PID rsub=(--sub-server "nats://127.0.0.1:$p2")
        p2=$(free_port)
        # shellcheck disable=SC2086
        start_server nats "$p2" "$OUT/$name.nats-server2.log" $server_flags "${route_flags[@]}" \
            --cluster "nats://127.0.0.1:$(free_port)" --routes "nats://127.0.0.1:$ncluster"
        npid2=$SERVER_PID nsub=(--sub-server "nats://127.0.0.1:$p2")
    fi
    for round in $(seq 1 "$ROUNDS"); do
        for which in rnats nats; do
            if [ "$which" = rnats ]; then port=$rport pid=$rpid sub=("${rsub[@]}"); else port=$nport pid=$npid sub=("${nsub[@]}"); fi
            result="$OUT/$name.$which.$round.json"
            # shellcheck disable=SC2086
            if ! "$BENCH" bench --server "nats://127.0.0.1:$port" --server-pid "$pid" \
                --json --no-progress "${sub[@]}" $bench_flags >"$result" 2>"$result.err"; then
                log "    round $round $which: FAILED ($(head -c 300 "$result.err"))"
                [ -s "$result" ] || echo '{"ok": false, "errors": ["no report"]}' >"$result"
            fi
            python3 - "$result" "$round" "$which" >&2 <<'PY'
import json, sys
path, rnd, which = sys.argv[1:4]
try:
    s = json.load(open(path))["summary"]
    lat = f"  p50 {s['p50_us']:.1f} µs  p99 {s['p99_us']:.1f} µs" if s.get("p50_us") is not None else ""
    cpu = s.get("server_cpu_us_per_op")
    cpu = f"  server {cpu:.3f} µs/op" if cpu is not None else ""
    m = json.load(open(path)).get("machine") or {}
    other = f"  (others busy: {m['other_cores']:.2f} cores)" if m.get("other_cores") is not None else ""
    print(f"    round {rnd} {which:>5}: {s['throughput']:>14,.0f} {s['unit']}{lat}{cpu}{other}")
except Exception:
    pass
PY
        done
    done
    stop_server "$rpid"
    stop_server "$npid"
    [ -n "$rpid2" ] && stop_server "$rpid2"
    [ -n "$npid2" ] && stop_server "$npid2"
    case "$name" in js-*) rm -rf "$OUT/$name.rnats.store" "$OUT/$name.nats.store" ;; esac
done <<<"$SCENARIO_TABLE"
[ "$RAN" -gt 0 ] || die "no scenario matches SCENARIOS=$SCENARIOS"

echo "loadavg after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/summary.txt"
import json, os, statistics, sys

out, rounds = sys.argv[1], int(sys.argv[2])
# (metric key, how to read it from a report, higher is better)
METRICS = [
    ("throughput", lambda r: r["summary"]["throughput"], True),
    ("p50", lambda r: r["summary"]["p50_us"], False),
    ("p99", lambda r: r["summary"]["p99_us"], False),
    ("cpu", lambda r: r["summary"]["server_cpu_us_per_op"], False),
    ("rss", lambda r: r["summary"]["server_rss_kib"] / 1024, False),
    ("kib_per_conn", lambda r: r["idle"]["server_kib_per_conn"], False),
]
LABELS = {
    "p50": "p50 latency µs",
    "p99": "p99 latency µs",
    "cpu": "server CPU µs/op",
    "rss": "server RSS MiB",
    "kib_per_conn": "server KiB/conn",
}

def load(name, which):
    runs = []
    for rnd in range(1, rounds + 1):
        try:
            runs.append(json.load(open(os.path.join(out, f"{name}.{which}.{rnd}.json"))))
        except Exception:
            runs.append({"ok": False})
    return runs

def values(runs, get):
    vals = []
    for r in runs:
        if not r.get("ok"):
            continue
        try:
            v = get(r)
        except (KeyError, TypeError):
            continue
        if v is not None:
            vals.append(float(v))
    return vals

def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.2f}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.1f}k"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"

def spread(vals):
    if len(vals) < 2:
        return "-"
    med = statistics.median(vals)
    return f"±{50 * (max(vals) - min(vals)) / med:.0f}%" if med else "-"

def check(target, ratio):
    for op in (">=", "<="):
        if op in target:
            key, bound = target.split(op)
            bound = float(bound)
            ok = ratio >= bound if op == ">=" else ratio <= bound
            return key, f"{op}{bound:g} {'met' if ok else 'MISSED'}"
    return None, ""

print(open(os.path.join(out, "machine.txt")).read().rstrip())
print()
print(f"medians of {rounds} round(s); ratio = rnats / nats-server; spread = half the range over the median")
header = f"{'scenario':<15} {'metric':<22} {'rnats':>10} {'spread':>7} {'nats-server':>11} {'spread':>7} {'ratio':>7}  target"
print(header)
print("-" * len(header))
failures = 0
for line in open(os.path.join(out, "scenarios.tsv")):
    name, _, targets = line.rstrip("\n").partition("\t")
    wanted = {}
    for t in targets.split():
        key, _ = check(t, 1.0)
        if key:
            wanted[key] = t
    rruns, nruns = load(name, "rnats"), load(name, "nats")
    failures += sum(not r.get("ok") for r in rruns + nruns)
    unit = next((r["summary"]["unit"] for r in rruns + nruns if r.get("ok")), "")
    first = True
    for key, get, _higher in METRICS:
        rv, nv = values(rruns, get), values(nruns, get)
        if not rv and not nv:
            continue
        rmed = statistics.median(rv) if rv else None
        nmed = statistics.median(nv) if nv else None
        ratio = rmed / nmed if rmed is not None and nmed else None
        verdict = ""
        if key in wanted and ratio is not None:
            verdict = check(wanted[key], ratio)[1]
        label = unit if key == "throughput" else LABELS[key]
        print(f"{name if first else '':<15} {label:<22} {fmt(rmed):>10} {spread(rv):>7} {fmt(nmed):>11} {spread(nv):>7} "
              f"{(f'{ratio:.2f}' if ratio is not None else '-'):>7}  {verdict}")
        first = False
    noise = values(rruns + nruns, lambda r: r["machine"]["other_cores"])
    if noise:
        print(f"{'':<15} {'noise: other processes':<22} {statistics.median(noise):>9.2f} cores busy (median; max {max(noise):.2f})")
    bad = [f"{w} round {i + 1}: {'; '.join(r.get('errors', []))[:200]}"
           for w, runs in (("rnats", rruns), ("nats-server", nruns))
           for i, r in enumerate(runs) if not r.get("ok")]
    for b in bad:
        print(f"{'':<15} FAILED {b}")
print()
print(f"raw results: {out}")
if failures:
    print(f"{failures} run(s) failed")
PY
