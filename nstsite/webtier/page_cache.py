"""The proxy's page cache: nginx keeps the gallery's pages for visitors who are not signed in and
answers them without asking Python (gallery/page_cache.py decides what may be kept and purges it).
These are the parts of nginx.conf that do it; nstsite.webtier.proxy puts them in.

- Only under /gallery/, only GET and HEAD, and only responses that carry `X-Accel-Expires` (the
  application sets it on a visitor's page, never on a signed-in user's): Cache-Control and
  Expires are not read here, so nothing else is ever kept. A response that sets a cookie is never
  kept (nginx's rule, left on), and one that varies by Cookie is kept per Cookie header.
- A request with a session (or messages) cookie neither reads nor fills the cache: a signed-in
  user always gets their own page from the application.
- The key starts with the gallery's generation, which nginx asks the application for in an
  internal subrequest (auth_request) and keeps for NST_PAGE_CACHE_CHECK_SECONDS: a purge (a new
  generation) makes every kept page stale, on every proxy, within that time. While the
  application is down, the last generation it gave stays in use.
- One request per page goes to the application when a page is missing (proxy_cache_lock); the
  others wait for its answer. `X-Cache-Status` says HIT, MISS, EXPIRED or BYPASS.
- The cache is a folder of the proxy's own (no shared disk: a worker on another machine purges
  through the generation in the database) and starts empty with the proxy, so that pages of a
  previous release are never served after an upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PAGES_ZONE, GENERATION_ZONE = "nst_pages", "nst_generation"
GENERATION_LOCATION = "/_nst_internal/page-generation"
CACHED_PREFIX = "/gallery/"
MAX_SIZE = "256m"        # pages on disk (a grid page is about 20 KB)
INACTIVE = "10m"         # a page nobody asked for in this long leaves the disk (old generations too)


@dataclass(frozen=True)
class PageCache:
    folder: Path             # the cache's files: emptied at every start (prepare)
    generation_path: str     # the application's view (gallery.page_cache.generation)
    internal_host: str       # a Host the application accepts, for the subrequest
    skip_cookies: tuple[str, ...] = ("sessionid", "messages")  # any of them: no cache for that request


def internal_host(allowed_hosts: list[str]) -> str:
    """A Host header the application accepts (settings.ALLOWED_HOSTS), for nginx's own subrequest:
    it must not depend on what a browser sent."""
    for host in allowed_hosts:
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


def http_part(c: PageCache) -> str:
    """Inside `http { }`: the two cache zones, and whether a request may use the cache."""
    cookies = "".join(f"$cookie_{name}" for name in c.skip_cookies)
    return f"""
    # --- page cache (nstsite/webtier/page_cache.py) ---
    proxy_cache_path {c.folder}/pages levels=1:2 keys_zone={PAGES_ZONE}:10m max_size={MAX_SIZE}
                     inactive={INACTIVE} use_temp_path=off;
    proxy_cache_path {c.folder}/generation levels=1 keys_zone={GENERATION_ZONE}:1m max_size=1m
                     inactive=1d use_temp_path=off;
    map "{cookies}" $nst_skip_page_cache {{
        "" 0;
        default 1;
    }}
    # --- end of page cache ---
"""


def locations(c: PageCache, to_pages: str) -> str:
    """Inside `server { }`: /gallery/ through the cache, and the internal generation subrequest.
    `to_pages`: how the proxy sends a page's request to the application (as its "location /")."""
    return f"""
        # --- page cache (nstsite/webtier/page_cache.py) ---
        location {CACHED_PREFIX} {{
            auth_request {GENERATION_LOCATION};
            auth_request_set $nst_page_generation $upstream_http_x_page_generation;
            proxy_cache {PAGES_ZONE};
            proxy_cache_key "$nst_page_generation|$nst_forwarded_proto|$http_host|$request_uri";
            proxy_cache_bypass $nst_skip_page_cache;
            proxy_no_cache $nst_skip_page_cache;
            # Only X-Accel-Expires (a visitor's page) lets a response be kept.
            proxy_ignore_headers Cache-Control Expires;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 5s;
            proxy_cache_use_stale updating;
            add_header X-Cache-Status $upstream_cache_status always;
            {to_pages}
        }}

        location = {GENERATION_LOCATION} {{
            internal;
            proxy_pass http://nst_pages{c.generation_path};
            proxy_method GET;   # whatever the page's own request was (a like is a POST)
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Cookie "";
            proxy_set_header Host {c.internal_host};
            proxy_cache {GENERATION_ZONE};
            proxy_cache_key "generation";
            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;
            proxy_cache_lock on;
            proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;
        }}

        location = {c.generation_path} {{
            return 404;   # the proxy's own business
        }}
        # --- end of page cache ---
"""
