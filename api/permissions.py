"""What a token's scope allows: a read token reads (GET, HEAD, OPTIONS, and a view's
`reads_only` POSTs, which change nothing: a websocket ticket, reading a PNG's settings); a
read-and-write token and the site's session do everything their user may. Which jobs a user may
see or change is the one rule of engine.models, asked by the views."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from api.models import ApiToken

READ_ONLY = ("This token may only read. Make a token with the \"read and write\" scope on your \"API tokens\" "
             "page to submit, cancel or delete jobs.")


class TokenScope(BasePermission):
    message = READ_ONLY
    code = "read_only_token"

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or getattr(view, "reads_only", False):
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.may_write
