"""Sphinx configuration: Markdown pages (MyST), the API reference from the docstrings."""
# ruff: noqa: INP001  # Sphinx loads this file by path; docs/ is no package

from __future__ import annotations

import inspect
import sys
from importlib.metadata import version as _version
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Autodoc imports the Django adapters, which need configured settings.
settings.configure(
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.staticfiles",
    ],
    STORAGES={"default": {"BACKEND": "inmemorystorage.InMemoryStorage"}},
    USE_TZ=True,
)
django.setup()

project = "dj-inmemorystorage"
author = "The inmemorystorage developers"
copyright = "the inmemorystorage developers"  # noqa: A001  # Sphinx's name for it
release = _version("dj-inmemorystorage")
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist", "fieldlist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "dj-inmemorystorage"


def _init_signature(app, what, name, obj, options, signature, return_annotation):  # noqa: ANN001, ANN202, ARG001  # Sphinx's event signature
    """Show a class's ``__init__`` arguments, not the ``(*args, **kwargs)`` of a wrapper.

    Django's ``@deconstructible`` adds a ``__new__(cls, *args, **kwargs)``,
    which autodoc would otherwise show as the class's signature.
    """
    if what == "class" and signature == "(*args, **kwargs)":
        init = inspect.signature(obj.__init__)
        parameters = [  # without self; the annotations are in the argument list below
            p.replace(annotation=p.empty) for p in list(init.parameters.values())[1:]
        ]
        signature = str(init.replace(parameters=parameters, return_annotation=init.empty))
    return signature, return_annotation


def setup(app) -> None:  # noqa: ANN001  # Sphinx's application object
    """Connect the signature fix."""
    app.connect("autodoc-process-signature", _init_signature)
