"""A minimal Django project that ``httpbench`` serves with ``manage.py runserver``.

``BENCH_HTTP_BACKEND`` picks the storage and the view: ``ours``
(``inmemorystorage.views.serve``), ``django`` (Django's ``InMemoryStorage``
behind the same generic view), ``fs`` (``FileSystemStorage`` behind
``django.views.static.serve``) or ``http-floor`` (constant bytes, no storage).
Two upload floors serve GETs as ``http-floor`` does: ``http-floor-kept``
keeps each upload's body in a dict (the least an upload that is kept costs),
and ``storage-floor`` saves it into a dict behind Django's Storage API.
``http-floor-same`` answers GETs with the very headers ours sends, from constant
bytes (the least a view that answers as ours does costs); it is not sent uploads.
"""
