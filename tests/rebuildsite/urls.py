"""Save a file through ``storages["default"]``, and list what it holds."""

import contextlib
import threading

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from inmemorystorage import InMemoryStorage

#: The first two builds of the storage wait for each other, so that two
#: requests arriving at once both find Django's storages handler empty.
_first_two_builds = threading.Barrier(2, timeout=5)


class RacingInMemoryStorage(InMemoryStorage):
    """InMemoryStorage whose first two instances are built at the same moment."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # A later build, or a first request that came alone, finds the barrier broken.
        with contextlib.suppress(threading.BrokenBarrierError):
            _first_two_builds.wait()


def save(request: HttpRequest, name: str) -> HttpResponse:
    saved = storages["default"].save(name, ContentFile(name.encode()))
    return HttpResponse(saved)


def names(request: HttpRequest) -> JsonResponse:
    return JsonResponse(sorted(storages["default"].listdir("")[1]), safe=False)


urlpatterns = [path("save/<str:name>", save), path("names", names)]
