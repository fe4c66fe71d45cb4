"""The demo's URLs: the page, and the stored files under MEDIA_URL."""

from django.urls import path

from inmemorystorage.urls import media_urlpatterns

from . import views

urlpatterns = [path("", views.index, name="index"), *media_urlpatterns()]
