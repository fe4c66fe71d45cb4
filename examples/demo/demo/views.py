"""The demo page: an upload form, the stored files, and the storage's live stats."""

import mimetypes
from urllib.parse import urlencode

from django.core.files.storage import storages
from django.shortcuts import redirect, render
from django.urls import reverse

from inmemorystorage import StorageFull

from .forms import UploadForm


def index(request):
    storage = storages["default"]
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                name = storage.save(upload.name, upload)
            except StorageFull as exc:
                form.add_error("file", str(exc))
            else:
                return redirect(f"{reverse('index')}?{urlencode({'saved': name})}")
    else:
        form = UploadForm()
    saved = request.GET.get("saved")
    return render(
        request,
        "demo/index.html",
        {
            "form": form,
            "files": list(stored_files(storage)),
            "stats": storage.stats(),
            "saved": saved,
            "saved_url": storage.url(saved) if saved else None,
        },
    )


def stored_files(storage, directory=""):
    """Every stored file below *directory*: name, size, URL and how to preview it."""
    directories, files = storage.listdir(directory)
    for name in sorted(files):
        path = f"{directory}{name}"
        try:
            size = storage.size(path)
        except FileNotFoundError:
            continue  # evicted or replaced since listdir(): gone from the list too
        content_type = mimetypes.guess_type(name)[0] or ""
        yield {
            "name": path,
            "size": size,
            "url": storage.url(path),
            "kind": content_type.partition("/")[0],
        }
    for name in sorted(directories):
        yield from stored_files(storage, f"{directory}{name}/")
