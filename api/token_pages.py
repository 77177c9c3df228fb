"""The "API tokens" page (/accounts/api-tokens/): a user makes, names and revokes their personal
tokens, and sees (and can replace) the secret their webhooks are signed with. A new token is shown
once, on the answer to the form that made it (never again: only its hash is kept)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from api import tokens
from api.models import ApiToken, Scope, WebhookSecret
from api.webhooks import signing
from api.webhooks.delivery import secret_for

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name",
                           help_text="What it is for, e.g. \"photo-booth script\": to tell your tokens apart.")
    scope = forms.ChoiceField(choices=Scope.choices, initial=Scope.READ, widget=forms.RadioSelect, label="It may")
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="It expires")

    def expires_at(self):
        days = self.cleaned_data.get("expires")
        return timezone.now() + timedelta(days=int(days)) if days else None


def _page(request: HttpRequest, form: TokenForm, new_token: str = "", status: int = 200) -> HttpResponse:
    rows = ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id")
    return render(request, "api/tokens.html", {
        "form": form, "tokens": rows, "new_token": new_token, "webhook_secret": secret_for(request.user.pk),
    }, status=status)


@login_required
def tokens_page(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        _, plain = tokens.issue(request.user, form.cleaned_data["name"], form.cleaned_data["scope"], form.expires_at())
    except tokens.TokenRefused as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    return _page(request, TokenForm(), new_token=plain, status=201)


@login_required
@require_POST
def revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = tokens.revoke(request.user, pk)
    if token is None:
        messages.info(request, "That token was revoked already (or is not yours).")
    else:
        messages.success(request, f"The token \"{token.name}\" is revoked: programs using it are refused from now on.")
    return redirect("api_tokens")


@login_required
@require_POST
def new_webhook_secret(request: HttpRequest) -> HttpResponse:
    """A new signing secret: deliveries from now on are signed with it (the old one stops working)."""
    WebhookSecret.objects.update_or_create(user=request.user, defaults={"secret": signing.new_secret(),
                                                                        "created_at": timezone.now()})
    messages.success(request, "Your webhooks are signed with the new secret from now on.")
    return redirect("api_tokens")
