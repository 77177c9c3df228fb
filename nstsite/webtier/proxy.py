"""The reverse proxy in front of the site: nginx, with a configuration written from the settings.

    python -m nstsite.webtier.proxy --bind 127.0.0.1 --port 8000 --pages 127.0.0.1:8001 --sockets 127.0.0.1:8002

writes `nginx.conf` and the 413 page into NST_PROXY_DIR (default var/proxy/), then becomes nginx
(exec, in the foreground: SIGTERM or SIGINT stop it, as they stop the other processes). nginx is
the one public port:

- `/static/` from STATIC_ROOT (what collectstatic wrote), with the precompressed `.gz` files next
  to them (gzip_static) and far-future caching for the names that carry a content hash
  (ManifestStaticFilesStorage's `site.0123456789ab.css`), one minute for the others;
- `/ws/` to the ASGI server (daphne: websockets), upgraded;
- everything else to the WSGI server (gunicorn: pages), with compression of the answers;
- request bodies up to settings.NST_MAX_REQUEST_BYTES (NST_MAX_REQUEST_MB: the same one setting
  as the application's), larger ones refused with the site's 413 page before they reach Python;
- the submission URL's larger limit (a clip) for a signed-in session only (issue 24, finding 2):
  before it reads a byte of such a body, nginx asks Django whether the request's session is signed
  in (auth_request to a cheap view, nstsite.request_limits.anonymous_uploads, without the body) and sends anyone
  else to the log-in page; and at most UPLOADS_PER_ADDRESS such requests at once per address, so
  that nobody fills the proxy's body folder with anonymous uploads held open;
- `X-Forwarded-For` and `X-Forwarded-Proto` set to what nginx itself saw, overwriting whatever the
  client sent (so a forged header never reaches the application), and `X-Sendfile-Type`, which
  lets the download views hand large files back to nginx (nstsite/webtier/sendfile.py);
- MEDIA_ROOT only as an internal location, for those hand-backs: no media file is public; with the
  job files in an S3 bucket (NST_STORAGE=s3), an internal location that fetches the object with a
  short-lived presigned URL instead (object_store_location below);
- the gallery's pages for visitors who are not signed in, kept in a cache of nginx's own and
  purged when they change (nstsite/webtier/page_cache.py, its own part of the configuration).

Why nginx rather than Caddy (both are in Debian): nginx's X-Accel-Redirect is what the download
hand-back needs (Caddy 2.6, Debian's, needs a handle_response block for it), it has gzip_static
for the precompressed files, its 413 and lingering close are long-tested, and it is the reverse
proxy that Django's and gunicorn's deployment documentation describe. TLS is not terminated here:
put it in front (a load balancer, or a TLS proxy) and name it in NST_FRONT_PROXIES, whose
X-Forwarded-For and -Proto nginx then believes (its realip module).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from nstsite.webtier import page_cache
from nstsite.webtier.page_cache import PageCache

# Files whose name carries ManifestStaticFilesStorage's content hash ("site.0123456789ab.css")
# never change: a browser may keep them for a year without asking again.
HASHED_STATIC = r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$"
HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
OTHER_STATIC_CACHE_CONTROL = "public, max-age=60"  # as WhiteNoise does for names without a hash
COMPRESSED_TYPES = ("text/css", "text/javascript", "application/javascript", "application/json",
                    "image/svg+xml", "text/plain", "text/csv")  # text/html is always compressed
ERROR_LOCATION = "/_nst_internal/errors/"
UPLOAD_CHECK_LOCATION = "/_nst_internal/may-upload"
# Large uploads at once from one address: a batch is one request, a browser rarely opens more.
UPLOADS_PER_ADDRESS = 4
# Django's security headers (SecurityMiddleware, XFrameOptionsMiddleware, a CSP), which nginx
# would drop from a response it replaces with a file (X-Accel-Redirect).
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy",
                    "Content-Security-Policy")


@dataclass(frozen=True)
class ProxyConfig:
    host: str
    port: int
    pages: str                 # the WSGI server: "host:port"
    sockets: str               # the ASGI server (websockets): "host:port"
    folder: Path               # nginx's prefix: this config, its pid file, its body buffers
    static_root: Path
    media_root: Path
    max_body_bytes: int
    # Exact paths with a larger body limit: the submission form, which may carry a clip (issue 12;
    # nstsite.request_limits.limits.body_limits(), the table the application's own layers use too).
    larger_bodies: tuple[tuple[str, int], ...] = ()
    # Django's answer to "may this session upload?" (nstsite.request_limits.anonymous_uploads) and where a session
    # that may not is sent: the larger bodies are only for a signed-in session.
    upload_check: str = "/accounts/may-upload/"
    login_url: str = "/accounts/login/"
    front_proxies: tuple[str, ...] = ()   # addresses/networks whose X-Forwarded-* nginx believes
    mime_types: Path | None = None        # nginx's mime.types, when installed
    workers: str = "auto"
    as_root: bool = False                 # started by root (see render)
    object_store: str = ""                # the S3 endpoint of the job files (NST_STORAGE=s3); "" = local disk
    page_cache: PageCache | None = None   # the gallery's pages for visitors (nstsite/webtier/page_cache.py)


def upstream_address(address: str) -> str:
    """nginx's spelling of a backend address: "host:port" as it is, "unix:/path" likewise."""
    if address.startswith("unix:") or ":" in address:
        return address
    raise ValueError(f"{address!r} is not host:port or unix:/path")


def listen_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def render(c: ProxyConfig) -> str:
    """The nginx.conf text for `c` (pure: nothing is read or written)."""
    from nstsite.webtier.sendfile import INTERNAL_MEDIA_PREFIX

    folder = c.folder
    static_root, media_root = str(c.static_root).rstrip("/") + "/", str(c.media_root).rstrip("/") + "/"
    types = (f"include {c.mime_types};" if c.mime_types else
             "types { text/html html; text/css css; text/javascript js; application/json json; image/png png; "
             "image/jpeg jpg jpeg; image/webp webp; image/svg+xml svg; video/mp4 mp4; text/plain txt; }")
    if c.front_proxies:
        # Requests that come through a proxy we were told to trust: its X-Forwarded-For (the
        # realip module replaces $remote_addr with the address it names) and its -Proto count.
        real_ip = "\n".join(f"    set_real_ip_from {p};" for p in c.front_proxies)
        trusted = "\n".join(f"        {p} 1;" for p in c.front_proxies)
        front = f"""{real_ip}
    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    geo $realip_remote_addr $nst_from_front {{
        default 0;
{trusted}
    }}
    map "$nst_from_front:$http_x_forwarded_proto" $nst_forwarded_proto {{
        default $scheme;
        "1:https" https;
        "1:http" http;
    }}"""
    else:
        front = """    map $scheme $nst_forwarded_proto {
        default $scheme;
    }"""
    forwarded = """proxy_set_header Host $http_host;
            # Overwritten, never appended: the application sees the address nginx saw (after
            # NST_FRONT_PROXIES, if any), never what a client wrote into its own request.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $nst_forwarded_proto;
            proxy_set_header X-Real-IP "";
            proxy_set_header Forwarded "";
            # gunicorn also reads these as "the browser used https" from the proxy's address.
            proxy_set_header X-Forwarded-Ssl "";
            proxy_set_header X-Forwarded-Protocol "";"""
    # How a page's request goes to the WSGI server ("location /" below, and the page cache's).
    to_pages = f"""proxy_pass http://nst_pages;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            {forwarded}
            proxy_set_header X-Sendfile-Type X-Accel-Redirect;
            proxy_redirect off;
            proxy_read_timeout 120s;"""
    security_headers = "\n".join(
        f"            add_header {name} $upstream_http_{name.lower().replace('-', '_')} always;"
        for name in SECURITY_HEADERS)
    # Started by root, nginx would switch its workers to "nobody", who cannot read a private folder
    # (a temporary one, a home): they run as whoever started it, as the other processes do.
    user = "user root root;\n" if c.as_root else ""
    # The same as "location /" below, with its own body limit (nginx matches "=" locations first).
    larger = "".join(f"""
        location = {path} {{
            client_max_body_size {limit};
            # A body this large from a signed-in session only: Django is asked (without the body)
            # before nginx reads a byte of it; anyone else goes to the log-in page.
            auth_request {UPLOAD_CHECK_LOCATION};
            {"# a program is answered 401" if path.startswith("/api/") else "error_page 401 = @nst_sign_in;"}
            error_page 413 {ERROR_LOCATION}413.html;   # an error_page here hides the server's
            limit_conn nst_uploads {UPLOADS_PER_ADDRESS};
            proxy_pass http://nst_pages;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            {forwarded}
            proxy_set_header X-Sendfile-Type X-Accel-Redirect;
            proxy_redirect off;
            proxy_read_timeout 300s;
        }}
""" for path, limit in c.larger_bodies)
    if c.larger_bodies:
        larger += f"""
        location = {UPLOAD_CHECK_LOCATION} {{
            internal;
            # The subrequest carries the request's Content-Length, but never its body.
            client_max_body_size 0;
            proxy_pass http://nst_pages{c.upload_check};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            {forwarded}
        }}

        location @nst_sign_in {{
            absolute_redirect off;   # as Django's: the scheme and host stay the browser's
            return 302 {c.login_url}?next=$uri;
        }}
"""
    return f"""# Written by nstsite/webtier/proxy.py at start-up; edits are lost at the next start.
{user}worker_processes {c.workers};
pid {folder}/nginx.pid;
error_log stderr warn;
daemon off;

events {{
    worker_connections 4096;
}}

http {{
    {types}
    default_type application/octet-stream;
    charset_types text/css text/javascript application/javascript application/json text/plain;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 10000;

    log_format nst '$remote_addr "$request" $status $body_bytes_sent $request_time s '
                   '(upstream $upstream_response_time s)';
    access_log /dev/stdout nst buffer=64k flush=1s;

    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;

    gzip on;
    gzip_comp_level 5;
    gzip_min_length 1024;
    gzip_proxied any;
    gzip_vary on;
    gzip_types {" ".join(COMPRESSED_TYPES)};

{front}

    map $uri $nst_static_cache_control {{
        "~{HASHED_STATIC}" "{HASHED_CACHE_CONTROL}";
        default "{OTHER_STATIC_CACHE_CONTROL}";
    }}
    # Large uploads at once per address (the submission URL: see its location).
    limit_conn_zone $binary_remote_addr zone=nst_uploads:1m;
    limit_conn_status 429;

    map $http_upgrade $nst_connection_upgrade {{
        default upgrade;
        "" close;
    }}

{page_cache.http_part(c.page_cache) if c.page_cache else ""}
    upstream nst_pages {{
        server {upstream_address(c.pages)};
        keepalive 32;
    }}
    upstream nst_sockets {{
        server {upstream_address(c.sockets)};
    }}

    server {{
        listen {listen_address(c.host, c.port)} backlog=4096;
        server_name _;

        # The one request size limit (NST_MAX_REQUEST_MB). Bodies under it are received here
        # (memory, then a file in {folder}/tmp/body) and handed to the WSGI server at once, so
        # a slow upload never holds one of its threads.
        client_max_body_size {c.max_body_bytes};
        client_body_buffer_size 1m;
        error_page 413 {ERROR_LOCATION}413.html;

        location {ERROR_LOCATION} {{
            internal;
            alias {folder}/errors/;
            default_type text/html;
            charset utf-8;
            # No limit here: the error page must not be refused for the size of the request it answers.
            client_max_body_size 0;
            add_header Cache-Control "no-store" always;
        }}

        location /static/ {{
            alias {static_root};
            gzip_static on;
            add_header Cache-Control $nst_static_cache_control;
            access_log off;
        }}

        location {INTERNAL_MEDIA_PREFIX} {{
            # Only reachable through X-Accel-Redirect, after Django's access check (nstsite/webtier/sendfile.py).
            internal;
            alias {media_root};
            # nginx keeps only a few of the application's headers (Content-Type, -Disposition,
            # Cache-Control, Expires, Set-Cookie) when it sends the file: the security ones are
            # copied from its answer here (an empty value adds nothing).
{security_headers}
        }}
{object_store_location(c)}
        location /ws/ {{
            proxy_pass http://nst_sockets;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $nst_connection_upgrade;
            {forwarded}
            proxy_buffering off;
            # daphne pings every 20 s; a socket with neither pings nor events is dead.
            proxy_read_timeout 300s;
            proxy_send_timeout 300s;
        }}

{larger}
{page_cache.locations(c.page_cache, to_pages) if c.page_cache else ""}
        location / {{
            {to_pages}
        }}
    }}
}}
"""


# --- downloads from the object store (issue 21) ------------------------------------------------------

def object_store_location(c: ProxyConfig) -> str:
    """The internal location through which nginx sends a job file kept in an S3 bucket: Django checks
    access, presigns a GET valid for a minute and answers `X-Accel-Redirect: <prefix><bucket>/<key>?
    <signature>` (nstsite/webtier/sendfile.py); nginx fetches it from the store and streams it out.
    The browser sees neither the store nor the URL, which it could not use anyway (the store listens
    where only the site's hosts reach it). "" when the files are on local disk."""
    if not c.object_store:
        return ""
    from nstsite.webtier.sendfile import INTERNAL_OBJECT_PREFIX

    # nginx keeps only a few of the application's headers across the hand-off, and once the store
    # answers, $upstream_http_* are the store's: the security headers Django sent are saved first.
    # An internal redirect runs the server's rewrite phase again, before the new upstream exists.
    saved = {name: "$nst_app_" + name.lower().replace("-", "_") for name in SECURITY_HEADERS}
    save = "\n".join(f"        set {var} $upstream_http_{name.lower().replace('-', '_')};"
                      for name, var in saved.items())
    restore = "\n".join(f"            add_header {name} {var} always;" for name, var in saved.items())
    return f"""
{save}

        location {INTERNAL_OBJECT_PREFIX} {{
            # Only reachable through X-Accel-Redirect, after Django's access check.
            internal;
            proxy_pass {c.object_store.rstrip("/")}/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The presigned URL signs the store's host; nothing of the browser's goes to the store
            # but what a download needs (Range, If-None-Match, If-Modified-Since pass unchanged).
            proxy_set_header Cookie "";
            proxy_set_header Authorization "";
            proxy_set_header X-Forwarded-For "";
            proxy_set_header X-Forwarded-Proto "";
            # Django's Content-Type and Content-Disposition (kept across the hand-off) stand; the
            # store's own and its request ids do not reach the browser.
            proxy_hide_header Content-Type;
            proxy_hide_header Content-Disposition;
            proxy_hide_header Cache-Control;
            proxy_hide_header Set-Cookie;
            proxy_hide_header Server;
            proxy_hide_header x-amz-request-id;
            proxy_hide_header x-amz-id-2;
            proxy_hide_header X-Amz-Meta-Mtime;
            proxy_hide_header Seaweed-X-Amz-ETag;
            proxy_hide_header Seaweed-X-Amz-Owner;
            proxy_buffering on;
            proxy_buffer_size 64k;
            proxy_buffers 16 64k;         # a 1 MB window per download: few round trips to the store
            proxy_max_temp_file_size 0;   # stream a large video, never spool it to this host's disk
            # A refused or missing object is the site's 404, not the store's XML.
            proxy_intercept_errors on;
            error_page 403 404 = @nst_object_gone;
{restore}
        }}

        location @nst_object_gone {{
            return 404;
        }}
"""


def find_nginx() -> str:
    """The nginx binary: NST_NGINX, else on PATH, else Debian's /usr/sbin/nginx (not on a normal
    user's PATH)."""
    for candidate in (os.environ.get("NST_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("nstsite.webtier.proxy: nginx is not installed (scripts/run installs it; Debian: apt-get install "
                     "nginx), or set NST_NGINX to its path.")


def mime_types(nginx: str) -> Path | None:
    """The mime.types beside nginx's own configuration, if the package installed one."""
    for folder in (Path("/etc/nginx"), Path(nginx).resolve().parent.parent / "conf"):
        if (folder / "mime.types").is_file():
            return folder / "mime.types"
    return None


def prepare(c: ProxyConfig, page_413: bytes) -> Path:
    """Write the configuration and the error page into c.folder; returns the config's path."""
    for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "errors"):
        (c.folder / sub).mkdir(parents=True, exist_ok=True)
    (c.folder / "errors" / "413.html").write_bytes(page_413)
    if c.page_cache is not None:  # pages of the last run (perhaps of another release) are not served
        shutil.rmtree(c.page_cache.folder, ignore_errors=True)
        c.page_cache.folder.mkdir(parents=True)
    conf = c.folder / "nginx.conf"
    temporary = conf.with_suffix(".tmp")
    temporary.write_text(render(c))
    temporary.replace(conf)
    return conf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", default="127.0.0.1", help="the public address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="the public port (8000)")
    parser.add_argument("--pages", required=True, help="the WSGI server, host:port")
    parser.add_argument("--sockets", required=True, help="the ASGI (websocket) server, host:port")
    parser.add_argument("--print-config", action="store_true", help="print nginx.conf and stop")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nstsite.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.messages.storage.cookie import CookieStorage
    from django.shortcuts import resolve_url
    from django.urls import reverse

    from nstsite.object_storage import download_endpoint
    from nstsite.request_limits.limits import body_limits, too_large_page

    nginx = find_nginx() if not args.print_config else (shutil.which("nginx") or "/usr/sbin/nginx")
    limits = body_limits()  # the same table the application's own layers use (nstsite.request_limits.limits)
    config = ProxyConfig(
        host=args.bind, port=args.port, pages=args.pages, sockets=args.sockets,
        folder=Path(settings.NST_PROXY_DIR), static_root=Path(settings.STATIC_ROOT),
        media_root=Path(settings.MEDIA_ROOT), max_body_bytes=limits.default,
        larger_bodies=tuple(limits.larger.items()),
        front_proxies=tuple(settings.NST_FRONT_PROXIES), mime_types=mime_types(nginx), as_root=os.geteuid() == 0,
        upload_check=reverse("may_upload"), login_url=resolve_url(settings.LOGIN_URL),
        object_store=download_endpoint(settings.STORAGES),
        page_cache=PageCache(
            folder=Path(settings.NST_PROXY_DIR) / "cache", generation_path=reverse("gallery:page_generation"),
            internal_host=page_cache.internal_host(settings.ALLOWED_HOSTS),
            skip_cookies=(settings.SESSION_COOKIE_NAME, CookieStorage.cookie_name)))
    if args.print_config:
        print(render(config))
        return 0
    conf = prepare(config, too_large_page(config.max_body_bytes))
    print(f"nstsite.webtier.proxy: nginx on http://{listen_address(config.host, config.port)}/ "
          f"(pages -> {config.pages}, "
          f"/ws/ -> {config.sockets}; config {conf})", flush=True)
    os.execv(nginx, [nginx, "-p", str(config.folder), "-c", str(conf), "-e", "stderr"])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
