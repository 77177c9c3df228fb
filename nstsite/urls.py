"""URL routes: the home page, style jobs under /jobs/ (namespace "engine"), accounts under
/accounts/ (django.contrib.auth's views plus sign-up) and the admin."""

from django.contrib import admin
from django.urls import include, path

from engine import accounts, views

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", include("engine.urls")),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]
