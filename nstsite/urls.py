"""URL routes: the home page, style jobs under /jobs/ (namespace "engine"), the gallery under
/gallery/ ("gallery"), accounts under /accounts/ (django.contrib.auth's views plus sign-up and the
"API tokens" page), the REST API under /api/ ("api": api/urls.py), the
admin, and django-rq's queue dashboard under /admin/rq/ (its views are staff-only themselves:
staff_member_required; linked from the admin index); /favicon.ico, which browsers ask for on
every site whatever the page says.

The log-in pages (the site's and the admin's) and the password reset come first, wrapped in their
rate limits (nstsite.request_limits.rate_limits); django.contrib.auth.urls, included after them, has the same
URLs and names for them, so they are matched here first and reverse() gives the same URLs."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import FileResponse, HttpRequest
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from api import token_pages
from engine import accounts, views
from nstsite.request_limits.anonymous_uploads import may_upload
from nstsite.request_limits.rate_limits import limit_posts


@require_safe
@cache_control(public=True, max_age=7 * 24 * 3600)
def favicon(request: HttpRequest) -> FileResponse:
    return FileResponse((settings.BASE_DIR / "static" / "favicon.ico").open("rb"), content_type="image/x-icon")


# The admin's navigation sidebar takes 300 px of every list: without it the job list, with its
# filters, fits a 1280 px screen (the admin index lists the same models).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("jobs/", include("engine.urls")),
    path("gallery/", include("gallery.urls")),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/email/", accounts.email_status, name="email_status"),
    path("accounts/email/verify/<str:key>/", accounts.verify_email, name="verify_email"),
    path("accounts/may-upload/", may_upload, name="may_upload"),  # the proxy's question (nstsite.webtier.proxy)
    path("accounts/login/", limit_posts(failed_logins=True)(auth_views.LoginView.as_view()), name="login"),
    path("accounts/password_reset/",
         limit_posts("password_reset_ip")(auth_views.PasswordResetView.as_view(
             form_class=accounts.LimitedPasswordResetForm)),
         name="password_reset"),
    path("accounts/api-tokens/", token_pages.tokens_page, name="api_tokens"),
    path("accounts/api-tokens/<int:pk>/revoke/", token_pages.revoke, name="api_token_revoke"),
    path("accounts/api-tokens/secret/", token_pages.new_webhook_secret, name="api_webhook_secret"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/", include("api.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/login/", limit_posts(failed_logins=True)(admin.site.login), name="admin_login"),
    path("admin/", admin.site.urls),
]
