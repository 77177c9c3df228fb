"""Proof that an account's e-mail address is its owner's (issue 24, finding 4): until the link sent
to it is followed, the site mails the address nothing but that link (engine.notifications checks
`is_verified`), so signing up with someone else's address cannot make the site mail them.

As django-allauth does it (EmailConfirmationHMAC): the link carries a signed, timestamped key
(django.core.signing, its own salt) naming the user and the address, valid for
settings.NST_EMAIL_VERIFICATION_DAYS; nothing is stored until it is followed. Following it shows a
page with a button (a POST confirms: mail scanners that open links must not confirm for the user,
allauth's ACCOUNT_CONFIRM_EMAIL_ON_GET = False); it works without being logged in, in any browser.
A link for an address the account no longer has is refused. Links are sent at sign-up and on
request (engine.accounts), within engine.mail_cap's caps.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from engine import mail_cap
from engine.models import VerifiedEmail

SALT = "engine.email_verification"


@dataclass(frozen=True)
class Pending:
    """What a good link names: the user and the address to confirm."""

    user: object
    email: str


def is_verified(user) -> bool:
    """Whether the user's current address is one they confirmed (one query)."""
    return bool(user.email) and VerifiedEmail.objects.filter(user=user, email__iexact=user.email).exists()


def key_for(user) -> str:
    return signing.dumps({"user": user.pk, "email": user.email}, salt=SALT, compress=True)


def pending(key: str) -> Pending | None:
    """The user and address a key confirms, or None: forged, expired, or for an address the
    account no longer has."""
    try:
        data = signing.loads(key, salt=SALT, max_age=settings.NST_EMAIL_VERIFICATION_DAYS * 86400)
    except signing.BadSignature:  # SignatureExpired included
        return None
    user = get_user_model().objects.filter(pk=data.get("user"), is_active=True).first()
    if user is None or not user.email or user.email.lower() != str(data.get("email", "")).lower():
        return None
    return Pending(user, user.email)


def confirm(found: Pending) -> None:
    VerifiedEmail.objects.update_or_create(user=found.user, defaults={"email": found.email,
                                                                    "verified_at": timezone.now()})


def send_link(user, site_url: str) -> bool:
    """E-mail `user` the link that confirms their address (`site_url`: scheme and host the user
    reached the site at); False when it was not sent (the day's caps, a mail server's refusal)."""
    link = site_url.rstrip("/") + reverse("verify_email", args=[key_for(user)])
    days = settings.NST_EMAIL_VERIFICATION_DAYS
    body = (f"Hello {user.get_username()},\n\nplease confirm that this is your e-mail address by opening this "
            f"link within {days} days and pressing the button on the page:\n\n{link}\n\n"
            "Until then we send this address nothing else (no job or batch e-mails). If you did not sign up, "
            "ignore this message: nothing more will come.\n")
    return mail_cap.send(user.email, "Confirm your e-mail address", body, kind=mail_cap.VERIFICATION)
