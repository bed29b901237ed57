#!/usr/bin/env bash
# The mirror disk over the full stack (issue 10, "Numbers"): two `baton mirror-engine`
# processes in two network namespaces joined by a veth pair, each side's data and
# metadata on loop devices over files in one directory; the active engine serves its
# volume (FUSE + direct-I/O loop device, published as DEV_DIR/md1); ext4 on it; fio.
# Against: the same jobs on ext4 on a plain direct-I/O loop device over a file in the
# same directory, in the same run, interleaved. Then rebuilds:
#   full: the whole volume copied to a side initialised --secondary, its rate against
#         min(network, disk), both measured here (a TCP stream over the veth, a direct
#         sequential write of a loop device);
#   differential: the veth taken down, N MiB of 64 KiB writes in distinct regions made
#         on the active side alone (a break), the veth back, a differential rebuild:
#         bytes copied and time, for two values of N (proportional to the dirty data).
# Results: docs/benchmarks.md ("Mirror disk over the full stack").
#
#   bench/mirror-fio.sh [--runtime SECONDS] [--size MIB] [--repeat N] [--no-build] [--keep]
#
# Jobs (each on a freshly made ext4) as bench/mirror-front.sh: seq = sequential 1 MiB
# writes (libaio, direct, QD 4, fsync at the end): MiB/s; fsync1 = random 4 KiB writes,
# an fsync after each, QD 1: ms per write; qd32 = random 4 KiB writes, libaio, direct,
# QD 32: IOPS. Goals: seq >= 80% of plain, fsync1 <= 2x plain, qd32 >= 50% of plain.
#
# Needs root, /dev/fuse, ip (iproute2), nsenter, losetup, mkfs.ext4, fio, python3.
# WORK=DIR puts the images there (default /var/tmp); JOBS="seq" runs only those jobs.
# Exit 0 when every number was measured, 1 when one is missing, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=15 size_mib=1024 build=1 keep=0 repeat=2
while [ $# -gt 0 ]; do
  case $1 in
    --runtime) runtime=$2; shift 2 ;;
    --size) size_mib=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--runtime SECONDS] [--size MIB] [--repeat N] [--no-build] [--keep]" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "$0: needs root (namespaces, loop devices, mounts)" >&2; exit 2; }
for tool in fio ip nsenter losetup mkfs.ext4 python3; do
  command -v $tool >/dev/null || { echo "$0: $tool is missing (apt-get install fio iproute2 util-linux e2fsprogs mount python3)" >&2; exit 2; }
done
[ -e /dev/fuse ] || { echo "$0: /dev/fuse is missing (modprobe fuse)" >&2; exit 2; }
[ $build = 1 ] && cargo build --release -p baton-cli >&2
baton=$PWD/target/release/baton

work=$(mktemp -d "${WORK:-/var/tmp}/mirror-fio.XXXXXX")
ns1=bmfio1-$$ ns2=bmfio2-$$
pids=() loops=() plain_dev=""
cleanup() {
  set +e
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  # A killed engine leaves its loop device and FUSE mount: the engine's own clean-up
  # runs when the next one starts; here, by hand.
  for f in "$work"/state*/mirror/md1.front; do
    [ -d "$f" ] || continue
    for l in /sys/block/loop*/loop/backing_file; do
      grep -qx "$f/volume" "$l" 2>/dev/null && losetup -d "/dev/$(basename "$(dirname "$(dirname "$l")")")"
    done
    umount -l "$f" 2>/dev/null
  done
  [ -n "$plain_dev" ] && losetup -d "$plain_dev"
  for l in "${loops[@]}"; do losetup -d "$l"; done
  ip netns del $ns1 2>/dev/null; ip netns del $ns2 2>/dev/null
  if [ $keep = 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
mkdir -p "$work/mnt"
log() { echo "$(date +%T) $*" >&2; }

# --- two namespaces joined by veth ---
ip netns add $ns1; ip netns add $ns2
ip link add bmfa-$$ netns $ns1 type veth peer name bmfb-$$ netns $ns2
ip -n $ns1 addr add 10.231.0.1/24 dev bmfa-$$; ip -n $ns2 addr add 10.231.0.2/24 dev bmfb-$$
for n in $ns1 $ns2; do ip -n $n link set lo up; done
ip -n $ns1 link set bmfa-$$ up; ip -n $ns2 link set bmfb-$$ up
in_ns() { local n=$1; shift; nsenter --net=/run/netns/$n "$@"; }

# --- devices: loop devices (direct I/O) over files in one directory ---
lodev() { local d; d=$(losetup --direct-io=on --find --show "$1"); loops+=("$d"); echo "$d"; }
for s in 1 2; do
  fallocate -l "${size_mib}M" "$work/s$s.data.img"; fallocate -l 4M "$work/s$s.meta.img"
done
fallocate -l "${size_mib}M" "$work/plain.img"
d1=$(lodev "$work/s1.data.img"); m1=$(lodev "$work/s1.meta.img")
d2=$(lodev "$work/s2.data.img"); m2=$(lodev "$work/s2.meta.img")
printf 'mirror-fio-secret\n' > "$work/cluster.key"; chmod 600 "$work/cluster.key"
cat > "$work/cluster.toml" <<EOF
[cluster]
name = "bench"
port = 29500
secret_file = "cluster.key"

[[server]]
name = "server1"
addresses = { lan1 = "10.231.0.1" }

[[server]]
name = "server2"
addresses = { lan1 = "10.231.0.2" }

[[heartbeat]]
name = "lan1"
kind = "lan"
priority = 1

[[group]]
name = "failover1"
servers = ["server1", "server2"]

[[group.resource]]
name = "md1"
kind = "mirror-disk"
data = { server1 = "$d1", server2 = "$d2" }
metadata = { server1 = "$m1", server2 = "$m2" }
mount_point = "/mnt/md1"
fs_type = "ext4"
network = "lan1"
EOF
cfg=$work/cluster.toml
"$baton" mirror init md1 --config "$cfg" --server server1 --primary >&2
"$baton" mirror init md1 --config "$cfg" --server server2 --secondary >&2

# ctl N JSON: one request to engine N's control socket; prints the answer's `ok`.
ctl() {
  python3 - "$work/state$1/mirror/md1.sock" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(65536)
    if not chunk: break
    buf += chunk
v = json.loads(buf)
if "error" in v: sys.exit("engine: " + v["error"])
print(json.dumps(v["ok"]))
PY
}
field() { ctl "$1" '{"status": {}}' | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...: polls COMMAND until it succeeds
  local give_up=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do [ $SECONDS -lt $give_up ] || { log "not within the limit: $what"; exit 1; }; sleep 0.2; done
}
for s in 1 2; do
  in_ns $([ $s = 1 ] && echo $ns1 || echo $ns2) "$baton" mirror-engine md1 --config "$cfg" --server server$s \
    --state-dir "$work/state$s" --dev-dir "$work/dev$s" 2>"$work/engine$s.log" &
  pids+=($!)
  wait_for 10 "engine $s answers" test -S "$work/state$s/mirror/md1.sock"
  wait_for 10 "engine $s answers" ctl $s '{"status": {}}' >/dev/null
done
ctl 1 '{"activate": {"lease_ms": 600000}}' >/dev/null
dev=$(field 1 '["device"]')
log "active: $dev -> $(readlink "$dev")"
wait_for 20 "the link up" test "$(field 1 '["links_up"]')" = 1

# --- the bounds of a rebuild: network and disk bandwidth ---
net_mib_s=$(python3 - $ns1 $ns2 <<'PY'
import socket, subprocess, sys, time
ns1, ns2 = sys.argv[1:3]
total = 2 << 30
srv = subprocess.Popen(["nsenter", f"--net=/run/netns/{ns2}", "python3", "-c", """
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.231.0.2", 29900)); l.listen(1); print("up", flush=True)
c, _ = l.accept(); b = bytearray(1 << 20)
while c.recv_into(b): pass
c.sendall(b"k")
"""], stdout=subprocess.PIPE)
srv.stdout.readline()
cli = subprocess.run(["nsenter", f"--net=/run/netns/{ns1}", "python3", "-c", f"""
import socket, time
s = socket.create_connection(("10.231.0.2", 29900)); b = bytes(1 << 20); t = time.monotonic()
for _ in range({total} >> 20): s.sendall(b)
s.shutdown(socket.SHUT_WR); s.recv(1); print(({total} >> 20) / (time.monotonic() - t))
"""], capture_output=True, text=True, check=True)
srv.wait()
print(f"{float(cli.stdout):.0f}")
PY
)
# The disk: a direct sequential write of the standby's own kind of device (a loop device
# over a file in the same directory), with a flush at the end.
disk_mib_s=$(fio --name=disk --filename="$work/plain.img" --rw=write --bs=1M --ioengine=libaio --direct=1 \
  --iodepth=4 --size="$((size_mib / 2))M" --end_fsync=1 --output-format=json \
  | python3 -c "import json,sys; print(round(json.load(sys.stdin)['jobs'][0]['write']['bw'] / 1024))")
log "network ${net_mib_s} MiB/s, disk ${disk_mib_s} MiB/s"

# rebuild FULL: starts one, waits for its end; prints "bytes seconds".
rebuild() {
  local t0 t1
  t0=$(date +%s.%N)
  ctl 1 "{\"rebuild\": {\"full\": $1}}" >/dev/null
  wait_for 3600 "the rebuild ends" test "$(field 1 '["rebuild"]["running"]')" = False
  t1=$(date +%s.%N)
  [ "$(field 1 '["rebuild"]["outcome"]')" = done ] || { log "rebuild failed: $(field 1 '["rebuild"]')"; exit 1; }
  echo "$(field 1 '["rebuild"]["total_bytes"]') $(python3 -c "print($t1 - $t0)")"
}
log "full rebuild of ${size_mib} MiB"
read -r full_bytes full_s < <(rebuild true)
log "full: $full_bytes bytes in $full_s s"

# --- fio: front (mirrored) and plain, interleaved ---
fio_job() {
  local job=$1 target=$2 label=$3 rep=$4
  log "$label $job (run $rep)"
  mkfs.ext4 -q -F -E nodiscard "$target"
  mount -t ext4 "$target" "$work/mnt"
  local common=(--name="$job" --directory="$work/mnt" --output-format=json --size=$((size_mib / 2))M --group_reporting)
  case $job in
    seq) fio "${common[@]}" --rw=write --bs=1M --ioengine=libaio --direct=1 --iodepth=4 --end_fsync=1 ;;
    fsync1) fio "${common[@]}" --rw=randwrite --bs=4k --ioengine=psync --fsync=1 --time_based --runtime="$runtime" ;;
    qd32) fio "${common[@]}" --rw=randwrite --bs=4k --ioengine=libaio --direct=1 --iodepth=32 --time_based --runtime="$runtime" ;;
  esac > "$work/$job-$label-$rep.json"
  umount "$work/mnt"
}
jobs=${JOBS:-seq fsync1 qd32}
for rep in $(seq 1 "$repeat"); do
  plain_dev=$(losetup --direct-io=on --find --show "$work/plain.img")
  for job in $jobs; do fio_job $job "$plain_dev" plain $rep; done
  losetup -d "$plain_dev"; plain_dev=""
  for job in $jobs; do
    ctl 1 '{"lease": {"ms": 600000}}' >/dev/null
    fio_job $job "$dev" mirror $rep
  done
done
log "mirror status: $(field 1 '')"

# --- differential rebuilds: N MiB dirty while the peer is away ---
diff_results=()
for dirty_mib in 32 128; do
  ctl 1 '{"lease": {"ms": 600000}}' >/dev/null
  ip -n $ns1 link set bmfa-$$ down
  wait_for 20 "the link down" test "$(field 1 '["links_up"]')" = 0
  # 64 KiB random writes, each region once (fio's random map): exactly N MiB of regions.
  fio --name=dirty --filename="$dev" --rw=randwrite --bs=64k --ioengine=psync --direct=1 \
    --io_size="${dirty_mib}M" --size=100% --output-format=terse >/dev/null
  ip -n $ns1 link set bmfa-$$ up
  wait_for 30 "the link back up" test "$(field 1 '["links_up"]')" = 1
  read -r b s < <(rebuild false)
  log "differential after $dirty_mib MiB dirty: $b bytes in $s s"
  diff_results+=("$dirty_mib:$b:$s")
done
ctl 1 '{"deactivate": {}}' >/dev/null
cmp "$d1" "$d2" && log "both sides' data identical after the clean deactivation"

python3 - "$work" "$repeat" "$net_mib_s" "$disk_mib_s" "$full_bytes" "$full_s" "${diff_results[@]}" <<'PY'
import json, os, statistics, sys
work, repeat, net, disk, full_b, full_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
def runs(name, label):
    out = []
    for rep in range(1, repeat + 1):
        path = f"{work}/{name}-{label}-{rep}.json"
        if os.path.exists(path):
            with open(path) as f:
                out.append(json.load(f)["jobs"][0]["write"])
    return out
metrics = [
    ("seq", "seq 1 MiB, MiB/s", lambda j: j["bw"] / 1024, ">= 0.80"),
    ("fsync1", "4 KiB + fsync QD1, ms per write", lambda j: 1000 / j["iops"], "<= 2.0"),
    ("qd32", "4 KiB QD32, IOPS", lambda j: j["iops"], ">= 0.50"),
]
missing = False
print(f"medians of {repeat} interleaved runs (each run's values in brackets)")
print(f"{'job':32} {'plain':>9} {'mirror':>9} {'mirror/plain':>12}  goal")
for name, title, metric, goal in metrics:
    values = {label: [metric(j) for j in runs(name, label)] for label in ("plain", "mirror")}
    if not all(values.values()):
        missing = True
        continue
    m = {label: statistics.median(v) for label, v in values.items()}
    print(f"{title:32} {m['plain']:9.2f} {m['mirror']:9.2f} {m['mirror'] / m['plain']:12.2f}  {goal}")
    for label, v in values.items():
        print(f"  {label:8} " + " ".join(f"{x:.2f}" for x in v))
bound = min(net, disk)
rate = full_b / full_s / 2**20
print(f"full rebuild: {full_b >> 20} MiB in {full_s:.1f} s = {rate:.0f} MiB/s; network {net:.0f}, disk {disk:.0f} MiB/s: {rate / bound:.2f} of min")
for d in sys.argv[7:]:
    mib, b, s = d.split(":")
    print(f"differential rebuild after {mib} MiB dirty: {int(b) / 2**20:.1f} MiB copied in {float(s):.2f} s")
sys.exit(1 if missing else 0)
PY
