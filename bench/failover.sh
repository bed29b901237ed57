#!/usr/bin/env bash
# Failover benchmark: how long a client of the floating IP gets no answer when the active
# server crashes, for baton and for keepalived with the same detection budget, and
# whether baton fails over falsely with 20% packet loss on one of its two heartbeat paths.
# Results and the machine they were measured on: docs/benchmarks.md ("Failover").
#
#   bench/failover.sh [OPTIONS] baton [RUNS]        # baton: RUNS crashes (default 10)
#   bench/failover.sh [OPTIONS] keepalived [RUNS]   # keepalived (VRRPv3): RUNS crashes (default 10)
#   bench/failover.sh [OPTIONS] loss [MINUTES]      # baton, 20% loss on server2's lan1 (default 10)
#   bench/failover.sh [OPTIONS] all                 # baton and keepalived 10 runs each, then loss 10 min
#
# Options:
#   --quick         CI smoke run: 2 runs per system, a 1-minute loss run (explicit RUNS or
#                   MINUTES still win). Still exits non-zero when a measurement is missing.
#   --out DIR       keep everything in DIR: runs.jsonl (one JSON line per crash run),
#                   loss.json, summary.txt and every run's logs under DIR/work/
#   --check-goals   also exit 1 when a goal is missed (median outage of baton < 1 s and
#                   not above keepalived's)
#   --no-build      do not run `cargo build --release -p baton-cli` first
#   --keep          keep the temporary work directory (logs) even when everything passed
#   BATON=PATH      environment: the baton binary (default: target/release/baton)
#
# Needs root (network namespaces). Installs keepalived and nftables with apt-get when
# missing. Exit: 0 all measurements present (and no false failover in the
# loss run), 1 a measurement missing, a false failover, or (--check-goals) a goal missed,
# 2 bad usage or not root.
#
# Topology (all in network namespaces named PREFIX-*, PREFIX unique to this run, removed
# on exit): a switch namespace with one bridge per network, lan1 (interconnect,
# 10.213.1.0/24) and public (10.213.2.0/24); server1 and server2 with an interface on
# each (named lan1 and public); a client on public (10.213.2.100). The floating IP is
# 10.213.2.50/24. Each server runs a UDP responder (bench/probe.py respond) on port 7777
# that answers with its own name; the client probes the floating IP every 10 ms.
#
# One crash run: a fresh topology and fresh daemons; wait until the floating IP is on
# server1 and the client gets answers from it; crash server1 = set its links down (the
# cable pull) and SIGKILL its daemon's process group; wait for the first answer from
# server2. Outage = crash instant -> first answer from server2 (also reported: last
# answer from server1 -> first answer from server2).
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PROBE="$HERE/probe.py"

usage() {
    sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

ORIG_ARGS="$*"
QUICK=0
OUT=""
CHECK_GOALS=0
BUILD=1
KEEP=0
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --out) [ $# -ge 2 ] || usage; OUT="$2"; shift ;;
        --out=*) OUT="${1#--out=}" ;;
        --check-goals) CHECK_GOALS=1 ;;
        --no-build) BUILD=0 ;;
        --keep) KEEP=1 ;;
        -h|--help) usage ;;
        -*) echo "failover.sh: unknown option $1" >&2; usage ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
[ ${#ARGS[@]} -ge 1 ] || usage
MODE="${ARGS[0]}"
N_ARG="${ARGS[1]:-}"
[ ${#ARGS[@]} -le 2 ] || usage
case "$MODE" in baton|keepalived|loss|all) ;; *) echo "failover.sh: unknown mode $MODE" >&2; usage ;; esac
if [ -n "$N_ARG" ]; then
    [ "$MODE" != all ] || { echo "failover.sh: 'all' takes no count (use --quick for a short run)" >&2; exit 2; }
    [[ "$N_ARG" =~ ^[1-9][0-9]*$ ]] || { echo "failover.sh: RUNS/MINUTES must be a positive whole number, not '$N_ARG'" >&2; exit 2; }
fi
if [ "$QUICK" = 1 ]; then RUNS=2; MINUTES=1; else RUNS=10; MINUTES=10; fi
case "$MODE" in
    baton|keepalived) RUNS="${N_ARG:-$RUNS}" ;;
    loss) MINUTES="${N_ARG:-$MINUTES}" ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "failover.sh: must run as root (it creates network namespaces, bridges and nftables rules); try: sudo $0 $ORIG_ARGS" >&2
    exit 2
fi

# ---------------------------------------------------------------- settings

P="bfo$$"                         # namespace / table prefix, unique to this run
NS_SW="$P-sw" NS_S1="$P-s1" NS_S2="$P-s2" NS_CL="$P-cl"
LAN1_NET=10.213.1 PUB_NET=10.213.2
FIP="$PUB_NET.50" FIP_PREFIX=24
CLIENT_IP="$PUB_NET.100"
PORT=7777
HB_INTERVAL=100ms HB_TIMEOUT=500ms
# keepalived, VRRPv3: master-down interval = 3 x advert_int + skew,
# skew = (256 - priority) x advert_int / 256; 3 x 0.14 + 146 x 0.14 / 256 = 0.4998 s.
KA_ADVERT=0.14 KA_PRIO_MASTER=150 KA_PRIO_BACKUP=110
READY_TIMEOUT=60      # s: floating IP on server1 and answers, after the daemons start
FAILOVER_TIMEOUT=30   # s: first answer from server2 after the crash
BATON_SET="${BATON:+1}"
BATON="${BATON:-$ROOT/target/release/baton}"
PY="$(command -v python3 || true)"
[ -n "$PY" ] || { echo "failover.sh: python3 is needed for bench/probe.py" >&2; exit 2; }

if [ -n "$OUT" ]; then
    mkdir -p "$OUT"
    OUT="$(cd "$OUT" && pwd)"
    WORK="$OUT/work"
    rm -rf "$WORK"
    mkdir -p "$WORK"
    : >"$OUT/runs.jsonl"
else
    WORK="$(mktemp -d /tmp/baton-failover.XXXXXX)"
fi
FAILED=0
PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- clean-up

kill_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

topo_down() {
    kill_all
    local ns pid
    for ns in "$NS_CL" "$NS_S1" "$NS_S2" "$NS_SW"; do
        if [ -e "/run/netns/$ns" ]; then
            # Anything still running in our own namespaces was started by this script.
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
            ip netns del "$ns" 2>/dev/null || true
        fi
    done
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    topo_down
    if [ -z "$OUT" ]; then
        if [ "$KEEP" = 1 ] || [ "$rc" != 0 ] || [ "$FAILED" != 0 ]; then
            echo "failover.sh: logs kept in $WORK" >&2
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools

apt_install() {
    log "installing $* with apt-get"
    if [ -z "${APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

ensure_tools() {
    command -v ip >/dev/null || { echo "failover.sh: iproute2 (ip) is needed" >&2; exit 2; }
    if [ "$MODE" = keepalived ] || [ "$MODE" = all ]; then
        command -v keepalived >/dev/null || apt_install keepalived
    fi
    if [ "$MODE" = loss ] || [ "$MODE" = all ]; then
        command -v nft >/dev/null || apt_install nftables
    fi
    if [ "$MODE" != keepalived ]; then
        if [ "$BUILD" = 1 ] && [ -z "$BATON_SET" ]; then
            log "cargo build --release -p baton-cli"
            (cd "$ROOT" && cargo build --release -p baton-cli) >&2
        fi
        [ -x "$BATON" ] || { echo "failover.sh: no baton binary at $BATON (build it: cargo build --release -p baton-cli)" >&2; exit 2; }
    fi
}

# ---------------------------------------------------------------- topology

topo_up() {
    local ns i
    for ns in "$NS_SW" "$NS_S1" "$NS_S2" "$NS_CL"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
    done
    for br in br-lan1 br-public; do
        ip -n "$NS_SW" link add "$br" type bridge
        ip -n "$NS_SW" link set "$br" up
    done
    for i in 1 2; do
        ns="$P-s$i"
        ip link add "s$i-lan1" netns "$NS_SW" type veth peer name lan1 netns "$ns"
        ip link add "s$i-public" netns "$NS_SW" type veth peer name public netns "$ns"
        ip -n "$NS_SW" link set "s$i-lan1" master br-lan1 up
        ip -n "$NS_SW" link set "s$i-public" master br-public up
        ip -n "$ns" addr add "$LAN1_NET.$i/24" dev lan1
        ip -n "$ns" addr add "$PUB_NET.$i/24" dev public
        ip -n "$ns" link set lan1 up
        ip -n "$ns" link set public up
    done
    ip link add cl-public netns "$NS_SW" type veth peer name public netns "$NS_CL"
    ip -n "$NS_SW" link set cl-public master br-public up
    ip -n "$NS_CL" addr add "$CLIENT_IP/24" dev public
    ip -n "$NS_CL" link set public up
}

# start_bg NS LOGFILE CMD...: CMD in NS, in its own session (so its process group can be
# killed whole); sets BG_PID (= its process group id).
start_bg() {
    local ns="$1" logf="$2"
    shift 2
    ip netns exec "$ns" setsid "$@" >"$logf" 2>&1 </dev/null &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

fip_on() { # NS: is the floating IP on an interface there?
    ip -n "$1" -4 -o addr show 2>/dev/null | grep -q " $FIP/"
}

wait_fip_on() { # NS TIMEOUT_S
    local deadline=$((SECONDS + $2))
    while ! fip_on "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.05
    done
}

start_responders_and_probe() { # RUN_DIR
    start_bg "$NS_S1" "$1/respond1.log" "$PY" "$PROBE" respond --name server1 --port "$PORT"
    start_bg "$NS_S2" "$1/respond2.log" "$PY" "$PROBE" respond --name server2 --port "$PORT"
    start_bg "$NS_CL" "$1/probe.err" "$PY" "$PROBE" probe --target "$FIP" --port "$PORT" --log "$1/probe.log"
    PROBE_PID=$BG_PID
}

stop_probe() {
    kill -TERM "$PROBE_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$PROBE_PID" 2>/dev/null || break; sleep 0.1; done
}

# ---------------------------------------------------------------- baton

FENCE_ARGS=()
baton_fence_args() {
    if "$BATON" daemon --help 2>&1 | grep -q -- '--fence'; then
        FENCE_ARGS=(--fence exit)
    else
        log "note: this baton has no --fence option; running without it"
    fi
}

write_baton_config() { # DIR
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1/cluster.key"
    chmod 600 "$1/cluster.key"
    cat >"$1/cluster.toml" <<EOF
# Written by bench/failover.sh.
[cluster]
name = "bench"
heartbeat_interval = "$HB_INTERVAL"
heartbeat_timeout = "$HB_TIMEOUT"
sync_wait = "30s"
secret_file = "cluster.key"

[[server]]
name = "server1"
addresses = { lan1 = "$LAN1_NET.1", public = "$PUB_NET.1" }

[[server]]
name = "server2"
addresses = { lan1 = "$LAN1_NET.2", public = "$PUB_NET.2" }

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[heartbeat]]
name = "public"
kind = "lan"
priority = 2

[[group]]
name = "failover1"
servers = ["server1", "server2"]

[[group.resource]]
name = "fip1"
kind = "floating-ip"
address = "$FIP/$FIP_PREFIX"
EOF
}

start_baton() { # RUN_DIR
    local i
    for i in 1 2; do
        mkdir -p "$1/state$i"
        # The wall-clock start (for the takeover breakdown), then exec: same pid.
        start_bg "$P-s$i" "$1/baton$i.log" bash -c 'echo "$EPOCHREALTIME" >"$0"; exec "$@"' "$1/start$i.real" \
            "$BATON" daemon --config "$1/cluster.toml" --server "server$i" --state-dir "$1/state$i" "${FENCE_ARGS[@]}"
        eval "DAEMON$i=\$BG_PID"
    done
}

# Wait until server1 runs the group: the address is there, the client gets 50 answers
# from server1 (0.5 s), and (baton) server1 logged group-online.
wait_ready() { # RUN_DIR SYSTEM
    if ! wait_fip_on "$NS_S1" "$READY_TIMEOUT"; then
        log "$2: the floating IP did not come up on server1 within ${READY_TIMEOUT}s"
        return 1
    fi
    if fip_on "$NS_S2"; then
        log "$2: the floating IP is on server2 as well"
        return 1
    fi
    if ! "$PY" "$PROBE" wait-answers --log "$1/probe.log" --server server1 --count 50 --timeout 20; then
        log "$2: the client got no steady answers from server1"
        return 1
    fi
    if [ "$2" = baton ]; then
        local deadline=$((SECONDS + READY_TIMEOUT))
        until grep -q 'event=group-online' "$1/baton1.log"; do
            [ $SECONDS -lt $deadline ] || { log "baton: server1 never logged group-online"; return 1; }
            sleep 0.1
        done
    fi
    # Settle, and let the crash fall at a random phase of the heartbeat/advert cycle.
    sleep "1.$((RANDOM % 10))$((RANDOM % 10))"
}

# One crash run; appends a JSON line to $WORK/runs.jsonl.
crash_run() { # SYSTEM RUN
    local sys="$1" run="$2" dir="$WORK/$1-run$2" crash="" crash_real="" res ok=1
    mkdir -p "$dir"
    topo_up
    start_responders_and_probe "$dir"
    if [ "$sys" = baton ]; then
        write_baton_config "$dir"
        start_baton "$dir"
    else
        start_keepalived "$dir" || ok=0
    fi
    if [ "$ok" = 1 ] && wait_ready "$dir" "$sys"; then
        read -r crash _ crash_real < <("$PY" "$PROBE" crash --netns "$NS_S1" --links lan1,public --pgid "$DAEMON1") || true
        { wait "$DAEMON1"; } 2>/dev/null || true
        echo "crash monotonic ns $crash, wall-clock ns $crash_real" >"$dir/crash.txt"
        if [ -z "$crash" ]; then
            log "$sys run $run: the crash helper failed"
            crash=0
        elif ! "$PY" "$PROBE" wait-answers --log "$dir/probe.log" --server server2 --count 1 \
            --since "$crash" --timeout "$FAILOVER_TIMEOUT"; then
            log "$sys run $run: no answer from server2 within ${FAILOVER_TIMEOUT}s of the crash"
        fi
        sleep 0.3
        stop_probe
        local extra=()
        [ "$sys" != baton ] || extra=(--daemon-log "$dir/baton2.log" --daemon-start-real "$dir/start2.real" --crash-real "${crash_real:-0}")
        res="$("$PY" "$PROBE" analyze --log "$dir/probe.log" --crash "$crash" --old server1 --new server2 "${extra[@]}" || true)"
    else
        stop_probe
        res='{"ok": false, "error": "not ready"}'
    fi
    if [ "$sys" = keepalived ]; then
        # The backup's own account of the takeover, for the logs.
        grep -h -E 'Entering MASTER|Entering BACKUP' "$dir"/keepalived2.log >"$dir/transitions.txt" 2>/dev/null || true
    fi
    topo_down
    res="{\"system\": \"$sys\", \"run\": $run, ${res#\{}"
    echo "$res" >>"$WORK/runs.jsonl"
    [ -z "$OUT" ] || echo "$res" >>"$OUT/runs.jsonl"
    if echo "$res" | grep -q '"ok": true'; then
        log "$sys run $run: $(echo "$res" | "$PY" -c 'import json,sys; r=json.load(sys.stdin); print("outage %s ms from the crash, %s ms from the last answer of server1" % (r["outage_ms"], r.get("gap_ms", "?")))')"
    else
        log "$sys run $run: NO MEASUREMENT ($res); logs in $dir"
        FAILED=1
    fi
}

# ---------------------------------------------------------------- keepalived

write_keepalived_config() { # DIR I PRIORITY STATE PEER_I
    cat >"$1/keepalived$2.conf" <<EOF
# Written by bench/failover.sh.
global_defs {
    router_id server$2
    vrrp_version 3
    vrrp_garp_master_delay 0
    script_user root
    enable_script_security
}

vrrp_instance VI_1 {
    state $4
    interface public
    virtual_router_id 51
    priority $3
    advert_int $KA_ADVERT
    unicast_src_ip $PUB_NET.$2
    unicast_peer {
        $PUB_NET.$5
    }
    virtual_ipaddress {
        $FIP/$FIP_PREFIX dev public
    }
    garp_master_delay 0
}
EOF
}

start_keepalived() { # RUN_DIR
    local d="$1" i
    write_keepalived_config "$d" 1 "$KA_PRIO_MASTER" MASTER 2
    write_keepalived_config "$d" 2 "$KA_PRIO_BACKUP" BACKUP 1
    # server1 first, so that it is the master when server2 starts.
    for i in 1 2; do
        start_bg "$P-s$i" "$d/keepalived$i.log" keepalived -n -l -D -G -P -f "$d/keepalived$i.conf" \
            -p "$d/keepalived$i.pid" -r "$d/keepalived$i-vrrp.pid" -c "$d/keepalived$i-check.pid" -b "$d/keepalived$i-bfd.pid"
        eval "DAEMON$i=\$BG_PID"
        if [ "$i" = 1 ] && ! wait_fip_on "$NS_S1" "$READY_TIMEOUT"; then
            log "keepalived: server1 did not become master within ${READY_TIMEOUT}s"
            return 1
        fi
    done
    local deadline=$((SECONDS + 20))
    until grep -q 'Entering BACKUP STATE' "$d/keepalived2.log" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { log "keepalived: server2 never entered BACKUP state"; return 1; }
        sleep 0.1
    done
}

# ---------------------------------------------------------------- loss run

LOSS_JSON=""
loss_run() { # MINUTES
    local minutes="$1" dir="$WORK/loss" secs samples=0 bad=0 bad_episodes=0 was_bad=0 s1 s2
    mkdir -p "$dir"
    secs=$((minutes * 60))
    topo_up
    start_responders_and_probe "$dir"
    write_baton_config "$dir"
    start_baton "$dir"
    if ! wait_ready "$dir" baton; then
        stop_probe
        topo_down
        LOSS_JSON='{"ok": false, "error": "not ready"}'
        FAILED=1
        return
    fi
    ip netns exec "$NS_S2" nft -f - <<EOF
table inet $P {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "lan1" meta l4proto udp counter
        iifname "lan1" meta l4proto udp numgen random mod 5 == 0 counter drop
    }
}
EOF
    local since skip1 skip2
    since="$("$PY" "$PROBE" now)"
    # Events from here on count (the start-up ones do not).
    skip1=$(wc -l <"$dir/baton1.log")
    skip2=$(wc -l <"$dir/baton2.log")
    log "loss: 20% of UDP arriving on server2's lan1 dropped for $minutes min; polling the floating IP every 100 ms"
    # Poll on an absolute 100 ms schedule ($EPOCHREALTIME in us; a poll takes ~20 ms).
    local now_us next_us end_us
    next_us=${EPOCHREALTIME/./}
    end_us=$((next_us + secs * 1000000))
    while [ "${EPOCHREALTIME/./}" -lt "$end_us" ]; do
        s1=0 s2=0
        fip_on "$NS_S1" && s1=1
        fip_on "$NS_S2" && s2=1
        samples=$((samples + 1))
        if [ "$s1" != 1 ] || [ "$s2" != 0 ]; then
            bad=$((bad + 1))
            [ "$was_bad" = 1 ] || { bad_episodes=$((bad_episodes + 1)); log "loss: floating IP on server1=$s1 server2=$s2"; }
            was_bad=1
        else
            was_bad=0
        fi
        kill -0 "$DAEMON1" 2>/dev/null || { log "loss: server1's daemon ended"; break; }
        kill -0 "$DAEMON2" 2>/dev/null || { log "loss: server2's daemon ended"; break; }
        next_us=$((next_us + 100000))
        now_us=${EPOCHREALTIME/./}
        if [ "$now_us" -lt "$next_us" ]; then
            sleep "$(printf '0.%06d' $((next_us - now_us)))"
        else
            next_us=$now_us
        fi
    done
    local alive=1
    kill -0 "$DAEMON1" 2>/dev/null && kill -0 "$DAEMON2" 2>/dev/null || alive=0
    local counters seen dropped
    counters="$(ip netns exec "$NS_S2" nft list table inet "$P")"
    seen="$(echo "$counters" | grep -v numgen | grep -o 'packets [0-9]*' | head -1 | awk '{print $2}')"
    dropped="$(echo "$counters" | grep numgen | grep -o 'packets [0-9]*' | head -1 | awk '{print $2}')"
    stop_probe
    topo_down
    tail -n +$((skip1 + 1)) "$dir/baton1.log" >"$dir/baton1.during-loss.log"
    tail -n +$((skip2 + 1)) "$dir/baton2.log" >"$dir/baton2.during-loss.log"
    count() { local n; n="$(grep -c -E "event=$1( |\$)" "$dir/baton$2.during-loss.log" 2>/dev/null || true)"; echo "${n:-0}"; }
    local lost1 lost2 fo2 start2 online2 pathdown1 pathdown2
    lost1=$(count server-lost 1)
    lost2=$(count server-lost 2)
    fo2=$(count group-failover 2)
    start2=$(count group-starting 2)
    online2=$(count group-online 2)
    pathdown1=$(count heartbeat-path-down 1)
    pathdown2=$(count heartbeat-path-down 2)
    local probe_stats
    probe_stats="$("$PY" - "$dir/probe.log" "$since" <<'EOF'
import json, sys
sys.path.insert(0, "")
since = int(sys.argv[2])
ans, sent = [], None
for line in open(sys.argv[1]):
    if line.startswith("# sent "):
        sent = int(line.split()[2]); continue
    p = line.split()
    if len(p) == 4 and int(p[0]) > since:
        ans.append((int(p[0]), p[3]))
ans.sort()
gaps = [b[0] - a[0] for a, b in zip(ans, ans[1:])]
print(json.dumps({"answers": len(ans), "answers_server2": sum(1 for a in ans if a[1] == "server2"),
                  "max_gap_ms": round(max(gaps) / 1e6, 1) if gaps else None}))
EOF
)"
    local false_failovers=$((bad_episodes + fo2 + lost1 + lost2))
    # One event may show in several counters (server-lost then group-failover); report the
    # total of distinct signs as the count and each sign separately.
    LOSS_JSON="{\"ok\": $([ "$alive" = 1 ] && echo true || echo false), \"minutes\": $minutes, \"samples\": $samples, \"fip_bad_samples\": $bad, \"fip_bad_episodes\": $bad_episodes, \"server_lost_on_server1\": $lost1, \"server_lost_on_server2\": $lost2, \"group_failover_on_server2\": $fo2, \"group_starting_on_server2\": $start2, \"group_online_on_server2\": $online2, \"heartbeat_path_down_server1\": $pathdown1, \"heartbeat_path_down_server2\": $pathdown2, \"lan1_udp_in_server2\": ${seen:-null}, \"lan1_udp_dropped\": ${dropped:-null}, \"probe\": $probe_stats, \"false_failover_signs\": $false_failovers}"
    echo "$LOSS_JSON" >"$WORK/loss.json"
    [ -z "$OUT" ] || echo "$LOSS_JSON" >"$OUT/loss.json"
    if [ "$alive" != 1 ]; then
        log "loss: a daemon ended during the run; logs in $dir"
        FAILED=1
    fi
    if [ "$false_failovers" != 0 ]; then
        log "loss: FALSE FAILOVER signs: $LOSS_JSON"
        FALSE_FAILOVER=1
    fi
    log "loss: $LOSS_JSON"
}

# ---------------------------------------------------------------- summary

summarize() {
    "$PY" - "$WORK/runs.jsonl" "$WORK/loss.json" "$CHECK_GOALS" <<'EOF'
import json, os, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()] if os.path.exists(sys.argv[1]) else []
loss = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else None
check_goals = sys.argv[3] == "1"
def fmt(v): return f"{v:.0f}" if v is not None else "-"
def stats(xs):
    return (min(xs), statistics.median(xs), max(xs)) if xs else (None, None, None)
rows, medians, exit_code = [], {}, 0
for system in ("baton", "keepalived"):
    rs = [r for r in runs if r["system"] == system]
    if not rs:
        continue
    ok = [r for r in rs if r.get("ok")]
    if len(ok) < len(rs):
        exit_code = 1
    o = stats([r["outage_ms"] for r in ok])
    g = stats([r["gap_ms"] for r in ok if "gap_ms" in r])
    medians[system] = o[1]
    rows.append((system, f"{len(ok)}/{len(rs)}", *map(fmt, o), *map(fmt, g)))
if rows:
    print()
    print("Failover: crash of the active server (links down + SIGKILL) -> first answer from the new server")
    print()
    head = ("system", "runs ok", "outage min ms", "median", "max", "last old->first new min ms", "median", "max")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths))) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    print()
    for system in ("baton", "keepalived"):
        rs = [r for r in runs if r["system"] == system]
        if rs:
            print(f"{system} per run (ms from crash): " + ", ".join(fmt(r.get("outage_ms")) for r in rs))
    steps = [(e, [r[f"new_{e.replace('-', '_')}_ms"] for r in runs if r["system"] == "baton" and r.get("ok")
                  and f"new_{e.replace('-', '_')}_ms" in r])
             for e in ("server-lost", "np-resolved-peer-down", "group-failover", "resource-online", "group-online")]
    steps = [(e, xs) for e, xs in steps if xs]
    if steps:
        print("baton on server2, median ms after the crash (min-max): "
              + ", ".join(f"{e} {fmt(statistics.median(xs))} ({fmt(min(xs))}-{fmt(max(xs))})" for e, xs in steps))
if loss is not None:
    print()
    if loss.get("ok") is False and "minutes" not in loss:
        print("loss run: NO MEASUREMENT (" + loss.get("error", "?") + ")")
        exit_code = 1
    else:
        seen, dropped = loss.get("lan1_udp_in_server2"), loss.get("lan1_udp_dropped")
        ratio = f" ({100.0 * dropped / seen:.1f}%)" if seen and dropped is not None else ""
        print(f"loss run: {loss['minutes']} min, 20% of UDP into server2's lan1 dropped "
              f"({dropped} of {seen} packets{ratio}); floating IP polled {loss['samples']} times")
        print(f"  false failovers: {loss['fip_bad_episodes']} (floating IP not solely on server1); "
              f"server-lost events: server1 {loss['server_lost_on_server1']}, server2 {loss['server_lost_on_server2']}; "
              f"group-failover on server2: {loss['group_failover_on_server2']}; "
              f"heartbeat-path-down: server1 {loss['heartbeat_path_down_server1']}, server2 {loss['heartbeat_path_down_server2']}")
        p = loss.get("probe") or {}
        print(f"  client: {p.get('answers')} answers, {p.get('answers_server2')} from server2, longest gap {p.get('max_gap_ms')} ms")
        if not loss.get("ok"):
            print("  a daemon ended during the loss run")
            exit_code = 1
        if loss["false_failover_signs"]:
            exit_code = 1
print()
goals = []
if medians.get("baton") is not None:
    goals.append((f"baton median outage < 1000 ms ({fmt(medians['baton'])} ms)", medians["baton"] < 1000))
    if medians.get("keepalived") is not None:
        goals.append((f"baton median <= keepalived median ({fmt(medians['baton'])} vs {fmt(medians['keepalived'])} ms)",
                      medians["baton"] <= medians["keepalived"]))
if loss is not None and "false_failover_signs" in loss:
    goals.append((f"no false failover under 20% loss on lan1 ({loss['false_failover_signs']} signs)", loss["false_failover_signs"] == 0))
for text, met in goals:
    print(f"goal {'met   ' if met else 'MISSED'}: {text}")
    if check_goals and not met:
        exit_code = max(exit_code, 1)
sys.exit(exit_code)
EOF
}

# ---------------------------------------------------------------- main

ensure_tools
FALSE_FAILOVER=0
log "work directory: $WORK; namespaces $P-*"
{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r)"
    [ "$MODE" = keepalived ] || echo "baton: $BATON ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$ROOT" && git diff --quiet HEAD 2>/dev/null || echo '+changes'))"
    [ "$MODE" = baton ] || [ "$MODE" = loss ] || echo "keepalived: $(keepalived --version 2>&1 | head -1)"
    echo "baton: heartbeat_interval $HB_INTERVAL, heartbeat_timeout $HB_TIMEOUT, paths lan1 (priority 1) + public (priority 2)"
    echo "keepalived: VRRPv3 advert_int $KA_ADVERT, priorities $KA_PRIO_MASTER/$KA_PRIO_BACKUP, unicast over public: master-down = 3 x $KA_ADVERT + (256-$KA_PRIO_BACKUP) x $KA_ADVERT / 256 = $(awk "BEGIN{printf \"%.4f\", 3*$KA_ADVERT + (256-$KA_PRIO_BACKUP)*$KA_ADVERT/256}") s"
} | tee "$WORK/header.txt" >&2
: >"$WORK/runs.jsonl"
if [ "$MODE" != keepalived ]; then baton_fence_args; fi
case "$MODE" in
    baton|keepalived)
        for r in $(seq 1 "$RUNS"); do crash_run "$MODE" "$r"; done ;;
    loss)
        loss_run "$MINUTES" ;;
    all)
        for r in $(seq 1 "$RUNS"); do crash_run baton "$r"; done
        for r in $(seq 1 "$RUNS"); do crash_run keepalived "$r"; done
        loss_run "$MINUTES" ;;
esac
rc=0
summarize | tee "$WORK/summary.txt" || rc=$?
[ -z "$OUT" ] || { cat "$WORK/header.txt" "$WORK/summary.txt" >"$OUT/summary.txt"; }
[ "$FAILED" = 0 ] || rc=1
exit "$rc"
