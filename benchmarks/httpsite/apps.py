"""Store the file the clients will GET before the server answers its first request."""

from django.apps import AppConfig
from django.conf import settings


class BenchSiteConfig(AppConfig):
    """Preloads the 64 KiB file into the chosen storage (the floor needs none)."""

    name = "benchmarks.httpsite"
    label = "benchsite"

    def ready(self) -> None:
        """Save the served file; touching the storage here also builds it once, race-free."""
        if settings.BENCH_BACKEND in settings.BENCH_FLOORS:
            return
        from django.core.files.base import ContentFile
        from django.core.files.storage import default_storage

        from benchmarks.content import make_content

        data = make_content("media/" + settings.BENCH_FILE_NAME, 1, settings.BENCH_FILE_SIZE)
        default_storage.save(settings.BENCH_FILE_NAME, ContentFile(data))
