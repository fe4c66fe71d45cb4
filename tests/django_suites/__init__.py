"""Django's own test suites run against a chosen default storage (``nox -s django_suites``)."""
