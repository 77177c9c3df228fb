"""Accounts: sign up, log in, log out, change and reset a password."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.web_client import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-Long-passphrase-7"


def signup(client, **overrides):
    data = {"username": "newbie", "email": "newbie@example.org", "password1": PASSWORD, "password2": PASSWORD}
    data.update(overrides)
    return client.post(reverse("signup"), data)


def test_signing_up_creates_the_account_and_logs_in(client):
    response = signup(client)
    assert response.status_code == 302 and response["Location"] == reverse("engine:submit")
    user = get_user_model().objects.get(username="newbie")
    assert user.email == "newbie@example.org" and user.check_password(PASSWORD)
    assert "Welcome, newbie" in client.get(response["Location"]).content.decode()
    assert client.get(reverse("engine:my_jobs")).status_code == 200


def test_signing_up_returns_to_the_page_that_asked_for_it(client):
    response = signup(client, next=reverse("engine:my_jobs"))
    assert response["Location"] == reverse("engine:my_jobs")
    response = signup(client.__class__(), username="x2", email="x2@example.org", next="https://evil.example/")
    assert response["Location"] == reverse("engine:submit")


@pytest.mark.parametrize("password, message", [
    ("short", "too short"),
    ("password123", "too common"),
    ("38475619203847", "entirely numeric"),
    ("newbie2024", "too similar"),
])
def test_weak_passwords_are_refused_by_djangos_validators(client, password, message):
    response = signup(client, password1=password, password2=password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()


def test_sign_up_needs_a_valid_email_and_a_unique_username(client, owner):
    assert "Enter a valid email address" in signup(client, email="not-an-address").content.decode()
    assert "already exists" in signup(client, username=owner.username).content.decode()


def test_sign_up_does_not_say_whether_an_email_address_has_an_account(client, owner):
    # Issue 14: "An account with this e-mail address exists already" told anyone which addresses
    # are registered. Accounts may share an address; the answer is the same as for a new one.
    response = signup(client, email=owner.email.upper())
    assert response.status_code == 302 and response["Location"] == reverse("engine:submit")
    assert get_user_model().objects.filter(email__iexact=owner.email).count() == 2


def test_the_signup_and_login_pages_render(client):
    for name in ("signup", "login", "password_reset"):
        response = client.get(reverse(name))
        assert response.status_code == 200
        assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_log_in_and_out(client, owner):
    response = client.post(reverse("login"), {"username": owner.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert owner.username in client.get(reverse("home")).content.decode()
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("engine:my_jobs")).status_code == 302  # back to the login page


def test_a_wrong_password_is_refused(client, owner):
    response = client.post(reverse("login"), {"username": owner.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_returns_to_the_page_that_asked_for_it(client, owner):
    page = client.get(reverse("engine:my_jobs"))
    assert page["Location"] == f"{reverse('login')}?next={reverse('engine:my_jobs')}"
    response = client.post(page["Location"], {"username": owner.username, "password": PASSWORD,
                                              "next": reverse("engine:my_jobs")})
    assert response["Location"] == reverse("engine:my_jobs")


def test_the_logged_in_menu_offers_log_out_as_a_form(owner_client):
    html = owner_client.get(reverse("home")).content.decode()
    assert re.search(r'<form method="post" action="/accounts/logout/"', html)
    assert reverse("engine:my_jobs") in html


def test_password_change(owner_client, owner):
    response = owner_client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == reverse("password_change_done")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_password_reset_by_email(client, owner):
    response = client.post(reverse("password_reset"), {"email": owner.email})
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link)["Location"]  # Django swaps the token for a session key
    page = client.get(form_url)
    assert "Choose a new password" in page.content.decode()
    response = client.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response["Location"] == reverse("password_reset_complete")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)


def test_password_reset_does_not_reveal_unknown_addresses(client):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_quick_try_takes_a_visitor_to_sign_up_and_then_to_the_form(client) -> None:
    html = client.get(reverse("home")).content.decode()
    link = re.search(r'<a [^>]*href="([^"]+)" id="quick-try"', html).group(1).replace("&amp;", "&")
    assert link.startswith(reverse("signup") + "?next=")
    page = client.get(link).content.decode()
    assert "Please log in to see that page" not in page and 'id="signup-why"' in page
    next_url = re.search(r'<input type="hidden" name="next" value="([^"]+)"', page).group(1).replace("&amp;", "&")
    response = client.post(reverse("signup"), {"username": "newcomer", "email": "new@example.org",
                                               "password1": "Brush-strokes-of-1889",
                                               "password2": "Brush-strokes-of-1889", "next": next_url})
    assert response.status_code == 302 and response["Location"] == reverse("engine:submit") + "?mode=fast"


# --- issue 24, finding 4: an address gets nothing but its verification link until it is confirmed ----------

def link_in(message) -> str:
    return re.search(r"https?://[^/]+(/accounts/email/verify/\S+/)", message.body).group(1)


def test_sign_up_mails_only_the_link_that_confirms_the_address(client, make_job, rq_redis):
    from engine.jobs import service as jobs
    from engine.models import StyleJob

    assert signup(client, email="victim@example.org").status_code == 302
    assert [(m.to, m.subject) for m in mail.outbox] == [(["victim@example.org"], "Confirm your e-mail address")]
    user = get_user_model().objects.get(username="newbie")
    job = make_job(user=user)
    StyleJob.objects.filter(pk=job.pk).update(notify_email=True)
    job.refresh_from_db()
    assert jobs.fail(job, "broken")
    assert len(mail.outbox) == 1  # the job's end mailed nothing to an address no one confirmed


def test_following_the_link_confirms_the_address_with_a_post(client):
    from engine import email_verification

    signup(client)
    user = get_user_model().objects.get(username="newbie")
    link = link_in(mail.outbox[0])
    anonymous = client.__class__()  # the link works in another browser, logged in or not
    page = anonymous.get(link)
    assert page.status_code == 200 and 'id="verify-email-form"' in page.content.decode()
    assert not email_verification.is_verified(user)  # a GET (a mail scanner opening links) confirms nothing
    assert anonymous.post(link).status_code == 302
    assert email_verification.is_verified(user)
    assert "is confirmed" in client.get(reverse("email_status")).content.decode()


def test_a_forged_expired_or_outdated_link_confirms_nothing(client, settings):
    from django.core import signing

    from engine import email_verification

    signup(client)
    user = get_user_model().objects.get(username="newbie")
    link = link_in(mail.outbox[0])
    forged = link.replace("/verify/", "/verify/x")
    assert client.post(forged).status_code == 404
    other = signing.dumps({"user": user.pk, "email": user.email}, salt="another-salt", compress=True)
    assert client.post(reverse("verify_email", args=[other])).status_code == 404
    user.email = "changed@example.org"
    user.save()
    assert client.post(link).status_code == 404  # the link was for the address the account had then
    settings.NST_EMAIL_VERIFICATION_DAYS = 0
    assert client.post(reverse("verify_email", args=[email_verification.key_for(user)])).status_code == 404
    assert not email_verification.is_verified(user)


def test_links_to_one_address_are_capped_per_day(client, settings):
    settings.NST_VERIFICATION_MAILS_PER_ADDRESS_PER_DAY = 3
    for n in range(3):
        signup(client.__class__(), username=f"signup{n}", email="Victim@Example.org")
    signup(client, username="signup3", email="victim@example.org ")
    assert len(mail.outbox) == 3
    page = client.post(reverse("email_status"), follow=True).content.decode()
    assert "No link could be sent" in page and len(mail.outbox) == 3


def test_the_address_page_sends_the_link_again(client):
    signup(client)
    mail.outbox.clear()
    page = client.post(reverse("email_status"), follow=True).content.decode()
    assert "We sent a new link to newbie@example.org" in page
    assert [m.subject for m in mail.outbox] == ["Confirm your e-mail address"]


# --- issue 24, finding 13: look-alike usernames ---------------------------------------------------------------

@pytest.mark.parametrize("username, words", [
    ("ѕ3vіc", "mixes letters of different alphabets (Cyrillic, Latin)"),   # the issue's, next to "s3vic"
    ("ѕ3ѵіс", "looks too much like one that is taken"),                      # all Cyrillic: its skeleton
    ("0livia", "looks too much like one that is taken"),                     # 0 for O
    ("paypaI", "looks too much like one that is taken"),
    ("rnike", "looks too much like one that is taken"),                      # rn for m
    ("S3VIC", "already exists"),                                             # Django's own, case-insensitive
    ("ｓ３ｖｉｃ", "already exists"),                                         # full-width: NFKC makes it s3vic
])
def test_a_username_that_passes_for_an_existing_one_is_refused(client, django_user_model, username, words):
    for name in ("s3vic", "olivia", "paypal", "mike"):
        django_user_model.objects.create_user(name, f"{name}@example.org", PASSWORD)
    response = signup(client, username=username)
    assert response.status_code == 200 and words in response.content.decode(), username
    assert not django_user_model.objects.filter(email="newbie@example.org").exists()


def test_names_in_one_script_or_a_cjk_language_are_accepted(client, django_user_model):
    django_user_model.objects.create_user("s3vic", "s3vic@example.org", PASSWORD)
    for n, username in enumerate(("сергей", "名前.テスト", "Zoë_Ørsted", "s3vic2", "ὀδυσσεύς")):
        response = signup(client.__class__(), username=username, email=f"n{n}@example.org")
        assert response.status_code == 302, (username, response.content.decode()[-2000:])


def test_every_user_has_the_skeleton_of_their_name_however_made(django_user_model):
    from engine.models import UsernameSkeleton
    from engine.usernames import skeletons

    user = django_user_model.objects.create_superuser("Admin", "admin@example.org", PASSWORD)
    assert UsernameSkeleton.objects.get(user=user).skeleton == skeletons("Admin")[0] == "adrnin"
    user.username = "root"
    user.save()
    assert UsernameSkeleton.objects.get(user=user).folded == "root"
def test_the_headers_log_in_and_sign_up_keep_where_the_visitor_was_going(client) -> None:
    """Issue 23, 11: an anonymous "Remix" led to the log-in page, whose header's "Sign up" dropped the remix."""
    from urllib.parse import quote

    remix = reverse("engine:submit") + "?remix=7"
    login_page = client.get(reverse("engine:submit") + "?remix=7", follow=True).content.decode()
    for link in ("nav-login", "nav-signup"):  # on an account page: the `next` it was given, passed on
        assert re.search(rf'href="[^"]*\?next={re.escape(quote(remix))}"[^>]*id="{link}"', login_page), link
    gallery = client.get(reverse("gallery:index")).content.decode()  # elsewhere: the page itself
    assert f'href="{reverse("signup")}?next={quote(reverse("gallery:index"))}"' in gallery
    home = client.get(reverse("home")).content.decode()  # from home, sign-up goes on to the form, as before
    assert f'href="{reverse("signup")}" class="button button-small" id="nav-signup"' in home
    signup = client.post(reverse("signup") + f"?next={quote(remix, safe='')}", {
        "username": "newcomer", "email": "n@example.org", "password1": PASSWORD, "password2": PASSWORD,
        "next": remix})
    assert signup["Location"] == remix
