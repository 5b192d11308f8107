"""The `commentary` command line: thin wrappers over the stage functions.

``_app`` holds the app, the single error boundary and the shared options; each
other module registers its commands, in pipeline order, when imported here.
"""

from . import data, labels, models, scoring  # noqa: F401  (registers the commands)
from ._app import app, main

__all__ = ["app", "main"]
