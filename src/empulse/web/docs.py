"""The API docs page, served entirely from this process (no CDN): Swagger UI from the
`swagger-ui-bundle` package, and a small initialiser script instead of an inline one, so the
page works offline and under a CSP without 'unsafe-inline' scripts."""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path


def mount_docs(app: FastAPI, *, docs_url: str, openapi_url: str, title: str) -> None:
    assets_url = f"{docs_url}/assets"
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{assets_url}/swagger-ui.css">
<link rel="icon" type="image/png" href="{assets_url}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{assets_url}/swagger-ui-bundle.js"></script>
<script src="{assets_url}/swagger-ui-standalone-preset.js"></script>
<script src="{docs_url}/init.js"></script>
</body>
</html>
"""
    init_js = """window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null,
    withCredentials: true
  });
});
"""

    async def docs_page() -> HTMLResponse:
        return HTMLResponse(page)

    async def docs_init() -> Response:
        return Response(init_js, media_type="text/javascript")

    app.add_api_route(docs_url, docs_page, include_in_schema=False, methods=["GET"])
    app.add_api_route(f"{docs_url}/init.js", docs_init, include_in_schema=False, methods=["GET"])
    app.mount(assets_url, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
