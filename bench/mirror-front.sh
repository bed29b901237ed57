#!/usr/bin/env bash
# The mirror front end's own cost (issue 10, "Numbers to reach", minus replication):
# fio on ext4 over
#   (a) plain: a loop device (direct I/O) over a file, and plain-buffered: the same
#       without direct I/O (the page cache of the file, as FileVolume has), and
#   (b) front: the front end, FUSE serving a FileVolume over the same kind of file, with a
#       direct-I/O loop device over the FUSE file (mirror/examples/serve_file.rs),
# in the same run, on the same backing file system. Results: docs/benchmarks.md ("Mirror
# front end").
#
#   bench/mirror-front.sh [--runtime SECONDS] [--size MIB] [--repeat N] [--no-build] [--keep]
#
# Jobs (each on a freshly made ext4): seq = sequential 1 MiB writes (libaio, direct,
# queue depth 4, fsync at the end): MiB/s; fsync1 = random 4 KiB writes with an fsync
# after each, queue depth 1: IOPS and mean latency; qd32 = random 4 KiB writes, libaio,
# direct, queue depth 32: IOPS. Goals (the issue's, for the mirrored volume): seq >= 80%
# of plain, fsync1 latency <= 2x plain, qd32 IOPS >= 50% of plain.
#
# Needs root, /dev/fuse, losetup, mkfs.ext4, fio (apt-get install fio) and python3.
# WORK=DIR (environment) puts the images there (default /var/tmp); THREADS=N sets the front
# end's FUSE session threads (default 32); JOBS="qd32" runs only those jobs. Exit 0 when every
# number was measured, 1 when one is missing, 2 on bad usage.
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=20 size_mib=2048 build=1 keep=0 repeat=3
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
[ "$(id -u)" = 0 ] || { echo "$0: needs root (loop devices, mounts)" >&2; exit 2; }
for tool in fio losetup mkfs.ext4 python3; do
  command -v $tool >/dev/null || { echo "$0: $tool is missing (apt-get install fio e2fsprogs mount python3)" >&2; exit 2; }
done
[ -e /dev/fuse ] || { echo "$0: /dev/fuse is missing (modprobe fuse)" >&2; exit 2; }

if [ $build = 1 ]; then
  cargo build --release -p baton-mirror --example serve_file >&2
fi
serve_file=target/release/examples/serve_file
work=$(mktemp -d "${WORK:-/var/tmp}/mirror-front.XXXXXX")
plain_dev="" front_pid=""
cleanup() {
  mountpoint -q "$work/mnt" 2>/dev/null && umount "$work/mnt"
  [ -n "$plain_dev" ] && losetup -d "$plain_dev" 2>/dev/null
  if [ -n "$front_pid" ]; then exec 3>&- 2>/dev/null || true; wait "$front_pid" 2>/dev/null || true; fi
  if [ $keep = 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT
mkdir -p "$work/mnt"

# fio_job JOB DEVICE LABEL REP: a fresh ext4 on DEVICE, one fio job on it, its JSON in
# $work/JOB-LABEL-REP.json.
fio_job() {
  local job=$1 dev=$2 label=$3 rep=$4
  echo "$(date +%T) $label $job (run $rep)" >&2
  mkfs.ext4 -q -F -E nodiscard "$dev"
  mount -t ext4 "$dev" "$work/mnt"
  local common=(--name="$job" --directory="$work/mnt" --output-format=json --size=512M --group_reporting)
  case $job in
    seq) fio "${common[@]}" --rw=write --bs=1M --ioengine=libaio --direct=1 --iodepth=4 --end_fsync=1 ;;
    fsync1) fio "${common[@]}" --rw=randwrite --bs=4k --ioengine=psync --fsync=1 --time_based --runtime="$runtime" ;;
    qd32) fio "${common[@]}" --rw=randwrite --bs=4k --ioengine=libaio --direct=1 --iodepth=32 --time_based --runtime="$runtime" ;;
  esac > "$work/$job-$label-$rep.json"
  umount "$work/mnt"
}

echo "machine: $(nproc) cores, $(uname -r), backing: $(df -T "$work" | awk 'NR==2 {print $1, $2}')" >&2
for label in plain front; do
  fallocate -l "${size_mib}M" "$work/$label.img"
done

jobs=${JOBS:-seq fsync1 qd32}
# plain_jobs LABEL DIO REP: (a) a plain loop device over plain.img, DIO on or off.
plain_jobs() {
  plain_dev=$(losetup --direct-io=$2 --find --show "$work/plain.img")
  echo "$1: $plain_dev dio=$(cat /sys/block/${plain_dev#/dev/}/loop/dio)" >&2
  for job in $jobs; do fio_job $job "$plain_dev" $1 $3; done
  losetup -d "$plain_dev"; plain_dev=""
}

# (b) the front end over front.img, served for the whole run.
coproc FRONT { "$serve_file" "$work/front.img" "$work/fuse" ${THREADS:-} 2>"$work/front.log"; }
front_pid=$FRONT_PID
exec 3>&"${FRONT[1]}"
read -r front_dev <&"${FRONT[0]}" || { cat "$work/front.log" >&2; exit 1; }
echo "front: $front_dev dio=$(cat /sys/block/${front_dev#/dev/}/loop/dio)" >&2

# Interleaved repetitions: this machine is shared, so each comparison is made close in time.
for rep in $(seq 1 "$repeat"); do
  plain_jobs plain on $rep
  for job in $jobs; do fio_job $job "$front_dev" front $rep; done
  plain_jobs plain-buffered off $rep
done
echo "$(date +%T) stopping the front end" >&2
exec 3>&- ; eval "exec ${FRONT[1]}>&-"
wait "$front_pid"; front_pid=""
echo "$(date +%T) stopped" >&2
cat "$work/front.log" >&2

python3 - "$work" "$repeat" <<'PY'
import json, os, statistics, sys
work, repeat = sys.argv[1], int(sys.argv[2])
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
    # One write plus its fsync per I/O at queue depth 1: the latency an application waits.
    ("fsync1", "4 KiB + fsync QD1, ms per write", lambda j: 1000 / j["iops"], "<= 2.0"),
    ("qd32", "4 KiB QD32, IOPS", lambda j: j["iops"], ">= 0.50"),
]
print(f"medians of {repeat} interleaved runs (each run's values in brackets)")
print(f"{'job':32} {'plain':>9} {'buffered':>9} {'front':>9} {'front/plain':>11} {'front/buffered':>14}  goal")
for name, title, metric, goal in metrics:
    values = {label: [metric(j) for j in runs(name, label)] for label in ("plain", "plain-buffered", "front")}
    if not all(values.values()):
        continue
    m = {label: statistics.median(v) for label, v in values.items()}
    print(f"{title:32} {m['plain']:9.2f} {m['plain-buffered']:9.2f} {m['front']:9.2f} "
          f"{m['front'] / m['plain']:11.2f} {m['front'] / m['plain-buffered']:14.2f}  {goal}")
    for label, v in values.items():
        print(f"  {label:14} " + " ".join(f"{x:.2f}" for x in v))
PY