"""One media URL served by the view that fits the chosen backend, an upload URL, a ready URL."""

from typing import Any

from django.conf import settings
from django.urls import path

from . import views


def _media_view() -> tuple[Any, dict[str, Any]]:
    backend = settings.BENCH_BACKEND
    if backend in ("http-floor", "http-floor-kept", "storage-floor"):
        return views.floor, {}
    if backend == "http-floor-same":
        return views.same_answer, {}
    if backend == "fs":
        from django.views.static import serve

        return serve, {"document_root": settings.MEDIA_ROOT}
    from inmemorystorage.views import serve

    return serve, {}


_view, _kwargs = _media_view()
urlpatterns = [
    path("media/<path:path>", _view, _kwargs),
    path("upload/", views.upload),
    path("ready/", views.ready),
]
