"""``tfface train --workers N``: N local worker processes of one MultiWorkerMirroredStrategy run.

Each worker is ``tfface train <the same flags> --strategy=multiworker`` with a ``TF_CONFIG`` naming all N
on free loopback ports and itself; each is pinned to its share of this machine's CPUs.  Worker 0 is the
chief: it prints the progress lines and writes the run directory.  SIGINT/SIGTERM are passed on to every
worker (all checkpoint at the same step and stop; one still running ``GRACE`` seconds later is killed: its
checkpoint is already written).  When a worker dies, the others stop too: their next
collective fails (its connections are gone) and they exit with WorkerLost; any worker still running
``GRACE`` seconds after the first failure is killed.  Re-running the same command resumes
all of them from the last checkpoint.

On real machines, start ``tfface train --strategy=multiworker ...`` once per host with that host's
``TF_CONFIG`` (README, "Training on several machines").
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time

from tfface.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Interrupted, WorkerLost

GRACE = 60  # seconds the other workers get to stop on their own after one fails
PR_SET_PDEATHSIG = 1


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def without_workers_flag(argv):
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--workers":
            skip = True
        elif not a.startswith("--workers="):
            out.append(a)
    return out


def cpu_sets(n):
    """This process's CPUs split into ``n`` disjoint shares (round-robin; shared when there are fewer)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < n:
        return [{cpus[i % len(cpus)]} for i in range(n)]
    return [set(cpus[i::n]) for i in range(n)]


def _worker_setup(cpus):
    """In each worker before it starts: its CPUs, and SIGTERM when the launcher dies (Linux's parent-death
    signal), so a killed launcher never leaves workers training on their own."""
    os.sched_setaffinity(0, cpus)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not glibc Linux: the workers then outlive a killed launcher
        pass


def run_local_workers(argv, n, say=print):
    """Start ``n`` workers with ``argv`` (the train flags) and wait for them; raises on any failure."""
    ports = free_ports(n)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    base = [sys.executable, "-m", "tfface", "train", *without_workers_flag(argv), "--strategy=multiworker"]
    procs = []
    for i, cpus in enumerate(cpu_sets(n)):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})}
        procs.append(subprocess.Popen(base, env=env, preexec_fn=lambda c=cpus: _worker_setup(c)))
    say(f"workers: {n} local processes (pids {', '.join(str(p.pid) for p in procs)}) on 127.0.0.1 ports "
        f"{', '.join(map(str, ports))}; worker 0 is the chief")

    received, stopping_since = [], []

    def forward(signum, frame):
        received.append(signum)
        stopping_since.append(time.monotonic())
        for p in procs:
            if p.poll() is None:
                p.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        first_failure, failed_at = None, None
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                code = p.poll()
                if code not in (None, 0) and first_failure is None:
                    first_failure, failed_at = (i, code), time.monotonic()
            since = failed_at if first_failure else (stopping_since[0] if stopping_since else None)
            if since is not None and time.monotonic() - since > GRACE:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.2)
        codes = [p.returncode for p in procs]
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if all(c == 0 for c in codes):
        return
    if received or all(c in (EXIT_INTERRUPTED, EXIT_TERMINATED) for c in codes):
        # A signal here, or on one worker (a preemption): all of them checkpointed the same step and stopped.
        code = (EXIT_INTERRUPTED if received[0] == signal.SIGINT else EXIT_TERMINATED) if received else codes[0]
        raise Interrupted(f"stopped all {n} workers after they saved a checkpoint; re-run the same command to resume",
                          code)
    i, code = first_failure or next((k, c) for k, c in enumerate(codes) if c != 0)
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    raise WorkerLost(f"worker {i} {how}; the other workers stopped (exit codes {codes}). Re-run the same command "
                     f"to resume all workers from the last checkpoint")
