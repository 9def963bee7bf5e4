"""The API's documentation page, served entirely by Pouch (a ministry's network is
often offline): Swagger UI from the ``fastapi-offline`` package's copy, started by
a script file of Pouch's own, so that the page needs no CDN and no inline script.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

#: Where Swagger UI's bundle and style sheet are served from.
ASSETS = "/api/docs/assets"
PATH = "/api/docs"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pouch API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""


def swagger_ui_directory() -> Path:
    """Swagger UI's files as the installed ``fastapi-offline`` ships them."""
    return Path(str(files("fastapi_offline") / "static"))


def install(app: FastAPI, *, openapi_url: str) -> None:
    app.mount(ASSETS, StaticFiles(directory=swagger_ui_directory()), name="api-docs-assets")
    page = _PAGE.format(assets=ASSETS, openapi_url=openapi_url)

    @app.get(PATH, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """The API's reference, browsable: Swagger UI over ``/api/openapi.json``."""
        return HTMLResponse(page)
