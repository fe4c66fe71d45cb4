"""Views that save an upload to the default storage: one lets StorageFull go, one catches it."""

from django.core.files.storage import default_storage
from django.http import HttpResponse
from django.urls import path

from inmemorystorage import StorageFull


def save(request):
    """Save the uploaded file; a StorageFull is left to the middleware."""
    upload = request.FILES["file"]
    return HttpResponse(default_storage.save(upload.name, upload))


def save_into(request, folder):
    """Save the uploaded file under *folder*, creating its directories."""
    upload = request.FILES["file"]
    return HttpResponse(default_storage.save(f"{folder}/{upload.name}", upload))


def save_or_explain(request):
    """Save the uploaded file, answering a StorageFull itself, as a form view may."""
    upload = request.FILES["file"]
    try:
        name = default_storage.save(upload.name, upload)
    except StorageFull as exc:
        return HttpResponse(f"please upload less: {exc}", status=200)
    return HttpResponse(name)


def fail(request):
    """Raise something else than StorageFull."""
    msg = "not a storage problem"
    raise OSError(msg)


urlpatterns = [
    path("save/", save),
    path("save-into/<path:folder>/", save_into),
    path("save-or-explain/", save_or_explain),
    path("fail/", fail),
]
