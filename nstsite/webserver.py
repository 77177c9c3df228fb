"""The web server: daphne, in several processes listening on one port.

    python -m nstsite.webserver --bind 127.0.0.1 --port 8000 [--processes N] [daphne options]

One daphne process runs Python on one core at a time (the GIL), so on a machine with more cores
one process leaves them idle while requests queue (docs/benchmarks.md, "Gallery": two processes
served the gallery index at about 1.7 times the rate of one). This opens N listening sockets on
the port (SO_REUSEPORT) and starts a daphne process on each (`daphne --fd`); the kernel spreads
new connections over them.
Channels needs nothing more: the processes share the Redis channel layer.

N comes from --processes, else NST_WEB_PROCESSES, else the number of CPUs (at most 4). With
N = 1 this simply becomes daphne. The parent only supervises: SIGTERM or SIGINT stops every
process (daphne closes its connections itself); if one of them dies, the others are stopped and
the server exits with an error, so that scripts/run or the container's restart policy notices,
instead of running on at part strength unnoticed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

APPLICATION = "nstsite.asgi:application"
MAX_DEFAULT_PROCESSES = 4
STOP_SECONDS = 10.0  # how long the processes get to finish after SIGTERM before SIGKILL


def process_count(requested: int | None) -> int:
    if requested is None:
        value = os.environ.get("NST_WEB_PROCESSES", "").strip()
        if value:
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                raise SystemExit(f"NST_WEB_PROCESSES={value!r} must be a whole number of at least 1.")
            return int(value)
        return max(1, min(MAX_DEFAULT_PROCESSES, os.cpu_count() or 1))
    if requested < 1:
        raise SystemExit("--processes must be at least 1.")
    return requested


def listening_socket(host: str, port: int) -> socket.socket:
    """One listening socket per process, all on the same port (SO_REUSEPORT): the kernel spreads new
    connections evenly over them. One socket shared by all would let whichever process wakes first
    take a connection, and keep-alive connections then pile up unevenly on one process."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=None)
    args, daphne_options = parser.parse_known_args(argv)
    count = process_count(args.processes)
    daphne = [sys.executable, "-m", "daphne"]
    if count == 1:
        os.execv(sys.executable, [*daphne, "--bind", args.bind, "--port", str(args.port),
                                  *daphne_options, APPLICATION])
    sockets = [listening_socket(args.bind, args.port) for _ in range(count)]
    children = [subprocess.Popen([*daphne, "--fd", str(sock.fileno()), *daphne_options, APPLICATION],
                                 pass_fds=[sock.fileno()]) for sock in sockets]
    print(f"nstsite.webserver: {count} daphne processes on {args.bind}:{args.port} "
          f"(pids {', '.join(str(c.pid) for c in children)})", flush=True)
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.2)
    died = [child for child in children if child.poll() is not None]
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    if died and not stopping:
        print(f"nstsite.webserver: daphne process {died[0].pid} ended (code {died[0].returncode}); "
              "stopped the others.", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
