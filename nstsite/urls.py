"""URL routes. The platform's pages arrive with the platform issue; for now the admin and a
plain home page that says what is running."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import path


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("nstsite: neural style transfer. The web platform is not built yet; "
                        "see README.md for the command line.", content_type="text/plain")


urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
]
