"""The header's "Log in" and "Sign up" links keep where the visitor was going (issue 23, 11: an
anonymous "Remix: use this look" led to the log-in page, whose header's "Sign up" dropped the remix)."""

from django import template
from django.http import HttpRequest

register = template.Library()

# Pages whose own `next` is where the visitor was going: theirs is passed on, not their own address.
ACCOUNT_PAGES = {"login", "signup", "logout", "password_reset", "password_reset_done", "password_reset_confirm",
                 "password_reset_complete"}


@register.filter
def return_address(request: HttpRequest) -> str:
    """Where to come back to after logging in or signing up from this page: the page itself, or
    on an account page the `next` it was given ("" for none: an error page, a form sent by POST).
    The views that take it check it is on this site (url_has_allowed_host_and_scheme)."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.url_name == "home":  # an error page; home: sign-up's own default is better
        return ""
    if match.url_name in ACCOUNT_PAGES:
        return request.GET.get("next", "")
    return request.get_full_path() if request.method == "GET" else ""
