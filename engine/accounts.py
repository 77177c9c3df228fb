"""Sign-up, the one account view Django does not ship, and the password-reset form with its limit
per e-mail address. Log in/out, password change and reset are django.contrib.auth's views
(nstsite/urls.py, which wraps log-in and reset in their rate limits), with templates in
templates/registration/.

What these pages tell about other people's accounts (issue 14): the log-in form gives the same
answer for an unknown username and a wrong password, and so does its lockout (django-axes); the
password reset gives the same page whether or not the address has an account, also when that
address has had its share of e-mails. Sign-up must refuse a username that is taken (a username is
public anyway: it is shown on every published artwork), but not an e-mail address: two accounts
may share one (a reset link then goes out for each), so that the form never says whether an
address is registered. Sign-ups are limited per address (nstsite.request_limits.rate_limits), which also bounds
how fast the form can be used to try usernames.

Issue 24: a new username may not pass for an existing one (engine.usernames: mixed scripts, or the
skeleton of a taken name), and a new address is sent only the link that confirms it
(engine.email_verification, within engine.mail_cap's caps): nothing else is mailed to it until
that link is followed. "Your e-mail address" (email_status) says whether it is confirmed and
sends the link again.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters

from engine import email_verification, usernames
from nstsite.request_limits.rate_limits import email_over_limit, limit_posts


class SignupForm(UserCreationForm):
    """Username, e-mail (needed for password resets) and a password checked by
    settings.AUTH_PASSWORD_VALIDATORS."""

    email = forms.EmailField(label="E-mail", help_text="For resetting your password, and the e-mails you ask "
                                                        "for about your jobs once you confirm it.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_username(self) -> str:
        username = super().clean_username()  # NFKC-normalised; None when taken (Django adds that error)
        problem = usernames.problem(username) if username else ""
        if problem:
            raise forms.ValidationError(problem, code="look_alike")
        return username

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip()


class LimitedPasswordResetForm(PasswordResetForm):
    """Django's form, sending nothing once the address asked for has had its share of e-mails
    (settings.NST_RATE_LIMITS["password_reset_email"]); the page says the same either way."""

    def save(self, *args, request: HttpRequest | None = None, **kwargs) -> None:
        if request is not None and email_over_limit(request):
            return
        super().save(*args, request=request, **kwargs)


@sensitive_post_parameters("password1", "password2")
@limit_posts("signup_ip")
def signup(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "engine:my_jobs")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.get_username()}! Your account is ready.")
        if email_verification.send_link(user, request.build_absolute_uri("/")):
            messages.info(request, f"We sent a link to {user.email}: open it to confirm the address, and we can "
                                   "e-mail you when your jobs finish.")
        return redirect(next_url or "engine:submit")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@login_required
def email_status(request: HttpRequest) -> HttpResponse:
    """Whether the user's address is confirmed; a POST sends the link again (engine.mail_cap's
    caps: a few a day per address)."""
    user = request.user
    verified = email_verification.is_verified(user)
    if request.method == "POST" and user.email and not verified:
        if email_verification.send_link(user, request.build_absolute_uri("/")):
            messages.success(request, f"We sent a new link to {user.email}.")
        else:
            messages.error(request, f"No link could be sent to {user.email} just now (it has had its share of "
                                    "e-mails today). Please try again tomorrow.")
        return redirect("email_status")
    return render(request, "registration/email_status.html", {"verified": verified})


def verify_email(request: HttpRequest, key: str) -> HttpResponse:
    """The link's page: a button that confirms (a POST, see engine.email_verification)."""
    found = email_verification.pending(key)
    if found is not None and request.method == "POST":
        email_verification.confirm(found)
        messages.success(request, f"Thank you: {found.email} is confirmed.")
        return redirect("engine:my_jobs" if request.user.is_authenticated else "login")
    return render(request, "registration/verify_email.html", {"pending": found},
                  status=200 if found is not None else 404)
