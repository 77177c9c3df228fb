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
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import PasswordResetForm, UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters

from nstsite.request_limits.rate_limits import email_over_limit, limit_posts


class SignupForm(UserCreationForm):
    """Username, e-mail (needed for password resets) and a password checked by
    settings.AUTH_PASSWORD_VALIDATORS."""

    email = forms.EmailField(label="E-mail", help_text="Only used to reset your password.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

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
        return redirect(next_url or "engine:submit")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})
