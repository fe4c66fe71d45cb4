"""The views of the benchmark site: the HTTP floors, and uploads into the chosen storage."""

import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse

from benchmarks.content import make_content

#: The floor's answer: the same bytes the other backends serve, made once.
CONSTANT = make_content("media/" + settings.BENCH_FILE_NAME, 1, settings.BENCH_FILE_SIZE)
#: The uploads ``http-floor-kept`` keeps: a dict, no storage (unlocked: one store per request).
KEPT: dict[str, bytes] = {}
#: What ``http-floor-same`` answers with: the headers ``inmemorystorage.views.serve`` sends for
#: the served file (the same names, values of the same lengths), set as ours sets them.
SAME_HEADERS = {
    "Content-Type": "application/octet-stream",
    "Content-Length": str(len(CONSTANT)),
    "Accept-Ranges": "bytes",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "ETag": '"18eeceb3d02847ba-10000-661ffaaf5ccdf"',
    "Last-Modified": "Sun, 06 Dec 2026 23:42:53 GMT",
    "Content-Security-Policy": "sandbox",
}


def floor(request: HttpRequest, path: str) -> FileResponse:
    """The fastest runserver can answer: constant bytes, no storage at all."""
    return FileResponse(io.BytesIO(CONSTANT))


def same_answer(request: HttpRequest, path: str) -> HttpResponse:
    """The floor of a view that answers ours' headers: the same answer from constant bytes."""
    return HttpResponse(CONSTANT, headers=SAME_HEADERS)


def upload(request: HttpRequest) -> HttpResponse:
    """Save the request body under ``uploads/<name>``; answer with the name actually used."""
    name = "uploads/" + request.GET["name"]
    data = request.body
    if settings.BENCH_BACKEND == "http-floor-kept":
        KEPT[name] = data
    elif settings.BENCH_BACKEND != "http-floor":
        name = default_storage.save(name, ContentFile(data))
    return _sized(HttpResponse(name, content_type="text/plain"))


def _sized(response: HttpResponse) -> HttpResponse:
    # Without Content-Length, runserver closes the connection after each answer
    # (CommonMiddleware would add it; this site has no middleware).
    response["Content-Length"] = str(len(response.content))
    return response


def ready(request: HttpRequest) -> HttpResponse:
    """Answers once the server is up."""
    return _sized(HttpResponse("ok", content_type="text/plain"))
