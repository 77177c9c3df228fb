"""Who is calling: a personal token (`Authorization: Bearer nst_...`, api.tokens), or the site's own
log-in session with its CSRF check (the pages' scripts call the API too). A program never needs a
CSRF token: a token is not a cookie, so no other site's page can make a browser send it.

A request that names a token that is unknown, revoked or expired gets 401 with
`WWW-Authenticate: Bearer`, even if it also has a session: the caller meant the token.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from api import tokens

INVALID = ("This API token is not valid: it is unknown, revoked or expired. Make a new one on your "
           "\"API tokens\" page.")


def bearer_credentials(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for any other header."""
    scheme, _, credentials = authorization.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        plain = bearer_credentials(request.META.get("HTTP_AUTHORIZATION", ""))
        if plain is None:
            return None
        token = tokens.find(plain)
        if token is None:
            raise AuthenticationFailed(INVALID, code="invalid_token")
        tokens.touch(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class SessionWithCsrf(SessionAuthentication):
    """The site's session (the pages' own scripts), with Django's CSRF check on every write."""


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A personal token from the \"API tokens\" page: `Authorization: Bearer nst_...`."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.SessionWithCsrf"
    name = "sessionAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "The site's log-in session (its own pages); writes need the X-CSRFToken header."}
