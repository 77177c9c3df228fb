"""URL routes: the home page, style jobs under /jobs/ (namespace "engine"), the gallery under
/gallery/ ("gallery"), accounts under /accounts/ (django.contrib.auth's views plus sign-up), the
admin, and django-rq's queue dashboard under /admin/rq/ (its views are staff-only themselves:
staff_member_required; linked from the admin index)."""

from django.contrib import admin
from django.urls import include, path

from engine import accounts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", include("engine.urls")),
    path("gallery/", include("gallery.urls")),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
]
