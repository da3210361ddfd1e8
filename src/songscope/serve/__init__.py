"""``songscope serve``: a catalog's tracks and results over HTTP, with a library page and a track
viewer in the browser.

Modules: :mod:`.server` (catalog, token and socket, then uvicorn), :mod:`.app` (the FastAPI routes),
:mod:`.security` (token, origin and host checks, upload sniffing, name checks), :mod:`.jobs`
(upload analysis in the background), :mod:`.tracks` (what the API reads from the catalog) and
``static/`` (the pages, plain HTML, CSS and JavaScript). Importing this package loads neither
FastAPI nor uvicorn.
"""

from .server import run_server

__all__ = ["run_server"]
