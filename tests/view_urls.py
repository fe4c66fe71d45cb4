"""URLs for the view tests: the default storage's files under /media/."""

from django.urls import path

from inmemorystorage.views import serve

urlpatterns = [path("media/<path:path>", serve)]
