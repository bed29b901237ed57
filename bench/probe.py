#!/usr/bin/env python3
"""Helpers of the failover benchmark (bench/failover.sh); python3 standard library only.

Subcommands:

  respond --name NAME --port PORT
      A UDP responder bound to 0.0.0.0:PORT: answers every datagram with the datagram
      followed by " NAME", from the address the datagram was sent to (IP_PKTINFO), so
      an answer to a probe of the floating IP comes from the floating IP.

  probe --target ADDR --port PORT --log FILE [--interval-ms 10] [--duration S]
      Sends "SEQ SEND_NS" to ADDR:PORT every interval (on an absolute schedule), and
      writes one line per answer to FILE: "RECV_NS SEQ SEND_NS SERVER". Times are
      CLOCK_MONOTONIC nanoseconds (the same clock in every network namespace). Ends
      after --duration seconds, or on SIGTERM/SIGINT; the last line is then
      "# sent N".

  crash --netns NS --links L1,L2 --pgid PGID [--pgid PGID...]
      The crash of a server: sets its links down (one `ip -batch`: the cable pull),
      then SIGKILLs the process groups (its cluster daemon). Prints
      "CRASH_NS DONE_NS CRASH_REAL_NS" (monotonic ns before the first link went down and
      after the kill; wall-clock ns of the first).

  analyze --log FILE --crash NS --old NAME --new NAME
      Prints one JSON object: the outage from the crash instant to the first answer
      from the new server (outage_ms), from the last answer of the old server to that
      first answer (gap_ms), the last probe answered before the crash, how many probes
      were answered by each server, and whether the old server answered after the
      crash. "ok" is false when no answer of the new server was seen.

  wait-answers --log FILE --server NAME [--count N] [--timeout S] [--since NS]
      Waits until FILE holds N answers from NAME received after --since (monotonic ns);
      exit 0, or 1 at the timeout.

  now
      Prints the monotonic clock in ns.
"""

import argparse
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def cmd_respond(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.bind(("0.0.0.0", args.port))
    suffix = (" " + args.name).encode()
    while True:
        data, anc, _flags, addr = sock.recvmsg(2048, socket.CMSG_SPACE(12))
        reply_anc = []
        for level, typ, cdata in anc:
            if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(cdata) >= 12:
                _ifindex, _spec_dst, dst = struct.unpack("I4s4s", cdata[:12])
                # Answer from the address the probe was sent to (the floating IP).
                reply_anc = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("I4s4s", 0, dst, b"\0\0\0\0"))]
        try:
            sock.sendmsg([data + suffix], reply_anc, 0, addr)
        except OSError:
            pass


def cmd_probe(args):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", 0))
    sock.settimeout(0.2)
    out = open(args.log, "w", buffering=1)
    lock = threading.Lock()
    stop = threading.Event()
    sent = [0]

    def on_signal(_sig, _frm):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def receiver():
        while not stop.is_set():
            try:
                data, _addr = sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                continue
            now = time.monotonic_ns()
            parts = data.decode(errors="replace").split()
            if len(parts) != 3:
                continue
            with lock:
                out.write(f"{now} {parts[0]} {parts[1]} {parts[2]}\n")

    thread = threading.Thread(target=receiver, daemon=True)
    thread.start()
    interval = args.interval_ms / 1000.0
    start = time.monotonic()
    end = start + args.duration if args.duration else None
    seq = 0
    while not stop.is_set():
        target = start + seq * interval
        delay = target - time.monotonic()
        if delay > 0:
            if stop.wait(delay):
                break
        if end is not None and time.monotonic() >= end:
            break
        payload = f"{seq} {time.monotonic_ns()}".encode()
        try:
            sock.sendto(payload, (args.target, args.port))
        except OSError:
            pass  # no route / ARP failed while the address moves: the probe is lost
        seq += 1
        sent[0] = seq
    stop.set()
    thread.join(1.0)
    with lock:
        out.write(f"# sent {sent[0]}\n")
        out.close()


def cmd_crash(args):
    links = [l for l in args.links.split(",") if l]
    batch = "".join(f"link set dev {l} down\n" for l in links)
    t0 = time.monotonic_ns()
    t0_real = time.time_ns()
    subprocess.run(["ip", "-n", args.netns, "-batch", "-"], input=batch.encode(), check=True)
    for pgid in args.pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            print(f"crash: process group {pgid} is already gone", file=sys.stderr)
    t1 = time.monotonic_ns()
    print(t0, t1, t0_real)


def read_answers(path):
    answers = []
    sent = None
    with open(path) as f:
        for line in f:
            if line.startswith("# sent "):
                sent = int(line.split()[2])
                continue
            parts = line.split()
            if len(parts) != 4:
                continue
            try:
                answers.append((int(parts[0]), int(parts[1]), int(parts[2]), parts[3]))
            except ValueError:
                continue
    return answers, sent


def cmd_analyze(args):
    answers, sent = read_answers(args.log)
    crash = args.crash
    old_before = [a for a in answers if a[3] == args.old and a[0] <= crash]
    old_after = [a for a in answers if a[3] == args.old and a[0] > crash]
    new = [a for a in answers if a[3] == args.new]
    new_before = [a for a in new if a[0] <= crash]
    new_after = [a for a in new if a[0] > crash]
    res = {
        "ok": False,
        "probes_sent": sent,
        "answers_old": len([a for a in answers if a[3] == args.old]),
        "answers_new": len(new),
        "old_answered_after_crash": len(old_after),
        "new_answered_before_crash": len(new_before),
    }
    last_old = max((a[0] for a in old_before + old_after), default=None)
    if new_after:
        first_new = min(new_after, key=lambda a: a[0])
        res["ok"] = True
        res["outage_ms"] = round((first_new[0] - crash) / 1e6, 1)
        res["first_new_seq"] = first_new[1]
        # The probe that got the first answer was sent this long after the crash.
        res["first_new_sent_after_crash_ms"] = round((first_new[2] - crash) / 1e6, 1)
        if last_old is not None:
            res["gap_ms"] = round((first_new[0] - last_old) / 1e6, 1)
            res["last_old_before_crash_ms"] = round((crash - last_old) / 1e6, 1)
        # Probes sent after the last one the old server answered and before the first
        # one the new server answered: none was answered.
        last_old_seq = max((a[1] for a in old_before + old_after), default=None)
        if last_old_seq is not None:
            res["probes_unanswered"] = first_new[1] - last_old_seq - 1
    if args.daemon_log and args.daemon_start_real and args.crash_real:
        res.update(breakdown(args.daemon_log, args.daemon_start_real, args.crash_real))
    print(json.dumps(res, sort_keys=True))
    return 0 if res["ok"] else 1


BREAKDOWN_EVENTS = ("server-lost", "np-resolved-peer-down", "group-failover", "resource-online", "group-online")


def breakdown(log_path, start_file, crash_real):
    """When the new server's baton logged the steps of the takeover, in ms after the
    crash, on the wall clock (to a few ms: the daemon logs whole ms; a daemon that logs ms
    since its own start is placed by the wall-clock time taken just before its exec)."""
    try:
        start_real_s = float(open(start_file).read().strip())
    except (OSError, ValueError):
        return {}
    out = {}
    pattern = re.compile(r" t=(\d+)ms event=([a-z-]+)")
    for line in open(log_path, errors="replace"):
        m = pattern.search(line)
        if not m:
            continue
        t = int(m.group(1))
        # A daemon on the common clock logs wall-clock ms since the epoch; an older one
        # ms since its own start.
        t_real_ns = t * 1e6 if t > 10**11 else start_real_s * 1e9 + t * 1e6
        if t_real_ns < crash_real:
            continue
        name = m.group(2)
        key = "new_" + name.replace("-", "_") + "_ms"
        if name in BREAKDOWN_EVENTS and key not in out:
            out[key] = round((t_real_ns - crash_real) / 1e6)
    return out


def cmd_wait_answers(args):
    deadline = time.monotonic() + args.timeout
    while True:
        try:
            answers, _ = read_answers(args.log)
        except FileNotFoundError:
            answers = []
        n = len([a for a in answers if a[3] == args.server and a[0] > args.since])
        if n >= args.count:
            return 0
        if time.monotonic() >= deadline:
            print(f"wait-answers: {n} of {args.count} answers from {args.server} in {args.timeout}s", file=sys.stderr)
            return 1
        time.sleep(0.05)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("respond")
    r.add_argument("--name", required=True)
    r.add_argument("--port", type=int, required=True)
    pr = sub.add_parser("probe")
    pr.add_argument("--target", required=True)
    pr.add_argument("--port", type=int, required=True)
    pr.add_argument("--log", required=True)
    pr.add_argument("--interval-ms", type=float, default=10.0)
    pr.add_argument("--duration", type=float, default=0.0)
    c = sub.add_parser("crash")
    c.add_argument("--netns", required=True)
    c.add_argument("--links", required=True)
    c.add_argument("--pgid", type=int, action="append", default=[])
    a = sub.add_parser("analyze")
    a.add_argument("--log", required=True)
    a.add_argument("--crash", type=int, required=True)
    a.add_argument("--old", required=True)
    a.add_argument("--new", required=True)
    a.add_argument("--daemon-log", help="the new server's baton log (for the takeover breakdown)")
    a.add_argument("--daemon-start-real", help="file with the wall-clock start of that daemon (s)")
    a.add_argument("--crash-real", type=int, help="wall-clock ns of the crash")
    w = sub.add_parser("wait-answers")
    w.add_argument("--log", required=True)
    w.add_argument("--server", required=True)
    w.add_argument("--count", type=int, default=20)
    w.add_argument("--timeout", type=float, default=30.0)
    w.add_argument("--since", type=int, default=0)
    sub.add_parser("now")
    args = p.parse_args()
    if args.cmd == "respond":
        cmd_respond(args)
    elif args.cmd == "probe":
        cmd_probe(args)
    elif args.cmd == "crash":
        cmd_crash(args)
    elif args.cmd == "analyze":
        return cmd_analyze(args)
    elif args.cmd == "wait-answers":
        return cmd_wait_answers(args)
    elif args.cmd == "now":
        print(time.monotonic_ns())
    return 0


if __name__ == "__main__":
    sys.exit(main())
