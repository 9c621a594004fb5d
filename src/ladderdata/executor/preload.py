"""Imported by the fork server (``local.py``) before it forks its first worker: imports the modules named in the
environment variable ``PRELOAD_ENV`` (comma-separated), so that every worker forked from the server starts with
them imported.

The server imports what it is told to preload and exits on any error but an ``ImportError``, which would make
every worker's start fail; importing the modules here, each on its own, keeps a module that fails to import
(an extension whose native library fails to initialise) from stopping the server: it is imported again where a
worker's work needs it, and its error is then that item's.
"""

import contextlib
import importlib
import os

PRELOAD_ENV = "LADDER_WORKER_PRELOAD"

for _name in filter(None, os.environ.get(PRELOAD_ENV, "").split(",")):
    with contextlib.suppress(Exception):
        importlib.import_module(_name)
