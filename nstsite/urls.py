"""URL routes: the home page, style jobs under /jobs/ (namespace "engine"), the gallery under
/gallery/ ("gallery"), accounts under /accounts/ (django.contrib.auth's views plus sign-up), the
admin, and django-rq's queue dashboard under /admin/rq/ (its views are staff-only themselves:
staff_member_required; linked from the admin index); /favicon.ico, which browsers ask for on
every site whatever the page says."""

from django.conf import settings
from django.contrib import admin
from django.http import FileResponse, HttpRequest
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from engine import accounts, views


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
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
