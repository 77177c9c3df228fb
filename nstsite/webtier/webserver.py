"""The two application servers behind the proxy (nstsite/webtier/proxy.py), as scripts/run starts them:

    python -m nstsite.webtier.webserver pages --bind unix:var/run/pages.sock       # gunicorn (WSGI): every page
    python -m nstsite.webtier.webserver sockets --bind unix:var/run/sockets.sock   # daphne (ASGI): /ws/ only

Each listens on a Unix socket (or host:port, when told), in a folder only their user may enter
(scripts/run makes var/run/ with mode 700): nobody but the proxy, which runs as the same user,
can reach them, so that the X-Forwarded-For the proxy writes is the only one they ever see, and
gunicorn's missing body limit never meets a client (issue 24, finding 9). They believe the proxy's
X-Forwarded-For because a Unix socket's peer can only be the proxy (nstsite/security/client_ip.py).

Pages go to a WSGI server because the ASGI path costs several times Django's own time for each
synchronous view (docs/benchmarks.md, "Gallery"): gunicorn with the gthread worker, one process
per core (NST_WEB_PROCESSES, default the number of CPUs, at most 4), each with NST_WEB_THREADS
threads (default 8) so that a request waiting on the database or Redis does not hold the core.
gunicorn's master restarts a worker that dies. Websockets are the only thing that needs ASGI:
one daphne process (they are idle most of the time), believing the proxy's X-Forwarded-For, which
runs nstsite.asgi's `sockets_application`: websockets, and a 404 for any plain HTTP request, so
that no page can be had from it past the proxy's limits.

Both run in the foreground (exec, no supervisor of ours) and stop on SIGTERM or SIGINT: gunicorn
lets running requests finish for up to GRACEFUL_SECONDS, daphne closes its sockets (the pages
reconnect and take a fresh snapshot).
"""

from __future__ import annotations

import argparse
import os
import sys

WSGI_APPLICATION = "nstsite.wsgi:application"
ASGI_APPLICATION = "nstsite.asgi:sockets_application"
UNIX = "unix:"
MAX_DEFAULT_PROCESSES = 4
DEFAULT_THREADS = 8
GRACEFUL_SECONDS = 5      # below scripts/run's NST_STOP_GRACE (8 s) and Docker's 10 s
# Longer than nginx keeps an idle upstream connection (60 s), so that nginx, not gunicorn, closes
# it: nginx then never sends a request down a connection gunicorn is closing.
KEEPALIVE_SECONDS = 75


def positive_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or int(value) < 1:  # isdigit() alone takes "²"
        raise SystemExit(f"{name}={value!r} must be a whole number of at least 1.")
    return int(value)


def split_address(address: str) -> tuple[str, int]:
    """"host:port" (IPv6 as "[::1]:8001") -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or not host:
        raise SystemExit(f"--bind {address!r}: expected unix:/path or host:port, e.g. unix:var/run/pages.sock")
    return host.strip("[]"), int(port)


def socket_path(address: str) -> str | None:
    """The path of "unix:/path", else None (host:port)."""
    if not address.startswith(UNIX):
        return None
    path = address[len(UNIX):]
    if not path:
        raise SystemExit(f"--bind {address!r}: the socket's path is missing")
    return path


def pages_command(bind: str, extra: list[str]) -> list[str]:
    if socket_path(bind) is None:
        split_address(bind)  # a clear message for a bad address, before gunicorn's
    processes = positive_env("NST_WEB_PROCESSES", max(1, min(MAX_DEFAULT_PROCESSES, os.cpu_count() or 1)))
    threads = positive_env("NST_WEB_THREADS", DEFAULT_THREADS)
    return [sys.executable, "-m", "gunicorn", "--bind", bind, "--worker-class", "gthread",
            "--workers", str(processes), "--threads", str(threads),
            "--graceful-timeout", str(GRACEFUL_SECONDS), "--keep-alive", str(KEEPALIVE_SECONDS),
            # gunicorn's control socket defaults to one path per user ($HOME/.gunicorn): two
            # servers of one user (tests, a second checkout) would share it.
            "--no-control-socket",
            # Heartbeat files in memory, not on a disk that may stall (gunicorn's advice for containers).
            "--worker-tmp-dir", "/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
            *extra, WSGI_APPLICATION]


def sockets_command(bind: str, extra: list[str]) -> list[str]:
    path = socket_path(bind)
    if path is not None:
        where = ["-u", path]
    else:
        host, port = split_address(bind)
        where = ["--bind", host, "--port", str(port)]
    # --proxy-headers: the consumers' scope["client"] is the browser's address from the proxy's
    # X-Forwarded-For (which the proxy overwrites; daphne is only reachable through it).
    return [sys.executable, "-m", "daphne", *where, "--proxy-headers", *extra, ASGI_APPLICATION]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("server", choices=("pages", "sockets"))
    parser.add_argument("--bind", required=True, help="host:port to listen on")
    args, extra = parser.parse_known_args(argv)
    command = (pages_command if args.server == "pages" else sockets_command)(args.bind, extra)
    os.execv(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
