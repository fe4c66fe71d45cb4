"""A minimal Django project that ``httpbench`` serves with ``manage.py runserver``.

``BENCH_HTTP_BACKEND`` picks the storage and the view: ``ours``
(``inmemorystorage.views.serve``), ``django`` (Django's ``InMemoryStorage``
behind the same generic view), ``fs`` (``FileSystemStorage`` behind
``django.views.static.serve``) or ``http-floor`` (constant bytes, no storage).
"""
