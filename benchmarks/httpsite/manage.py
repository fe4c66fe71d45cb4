"""``manage.py`` for the benchmark site; ``httpbench`` runs ``runserver --noreload`` with it."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.httpsite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
