"""``/docs`` and ``/redoc`` served with no request to any third party.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google): a privacy-first
service must not make an officer's browser call out, and offline the pages stay blank. The scripts and styles
come from the ``fastapi-offline`` package, which ships them, and are served here under ``/docs/assets``.
Swagger UI's online validator (a call to validator.swagger.io) is switched off, and both pages carry a
Content-Security-Policy that lets the browser load nothing from anywhere but the service. ReDoc's bundle
names one more third-party address, its "powered by" logo on cdn.redoc.ly, which it loads on every page (Redocly
declined an option to turn it off, redoc#2108): the bundle is served with that address pointed at the service's
own favicon.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

ASSETS = "/docs/assets"
#: Swagger UI starts itself from an inline script; ReDoc styles itself inline and renders in a blob worker.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def install(app: FastAPI) -> None:
    """Serve the interactive documentation pages and their assets (the app was made without FastAPI's own)."""
    static = resources.files("fastapi_offline") / "static"
    redoc_js = (static / "redoc.standalone.js").read_bytes().replace(_REDOC_LOGO, f"{ASSETS}/favicon.png".encode())

    @app.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})

    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _strict(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} - API",
                oauth2_redirect_url=_OAUTH2_REDIRECT,
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{ASSETS}/favicon.png",
                swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
            )
        )

    @app.get(_OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _strict(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} - API",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{ASSETS}/favicon.png",
                with_google_fonts=False,
            )
        )


def _strict(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page
