"""Rendering console pages: the Jinja2 environment, the two languages, and the headers every page carries.

Pages are rendered on the server; the browser loads scripts, styles and data only from the service itself, so
the Content-Security-Policy allows nothing else (no inline script or style, no third-party host). The one
exception is a tile server the operator configured (``console_tile_url``): its origin may serve images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date, datetime
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from geo_offers.settings import Settings

LANGUAGES = ("en", "de")
LANG_COOKIE = "geo_console_lang"
Translate = Callable[..., str]


@cache
def messages(lang: str) -> dict[str, str]:
    """The message catalogue of a language (``locales/<lang>.json``, shipped in the package)."""
    text = (resources.files("geo_offers.console") / "locales" / f"{lang}.json").read_text(encoding="utf-8")
    catalogue: dict[str, str] = json.loads(text)
    return catalogue


def translator(lang: str) -> Translate:
    """``t(key, **values)``: the message in ``lang`` with its ``{placeholders}`` filled in."""
    catalogue = messages(lang)

    def t(key: str, **values: Any) -> str:
        text = catalogue[key]  # a missing key is a bug: tests/test_console_units.py keeps the catalogues aligned
        return text.format(**values) if values else text

    return t


def language(request: Request) -> str:
    """The chosen language (cookie), else the browser's first of German or English, else English."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(request.headers.get("accept-language", "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            weighted.append((-quality, position, primary))
    return min(weighted)[2] if weighted else "en"


def tile_origin(url: str) -> str:
    """The CSP source of a tile URL template (Leaflet's ``{s}`` subdomains become a wildcard label)."""
    parts = urlsplit(url.replace("{s}", "tile-subdomain"))
    return f"{parts.scheme}://{parts.netloc.replace('tile-subdomain', '*')}"


def csp(settings: Settings) -> str:
    """The Content-Security-Policy of every console page."""
    images = "'self' data:"
    if settings.console_tile_url:
        images += f" {tile_origin(settings.console_tile_url)}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        f"img-src {images}; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def secure_headers(settings: Settings) -> dict[str, str]:
    """Headers of every console page: the policy, no caching of personal data, no referrer to other sites (same-origin
    keeps the Origin header of the console's own form posts), no framing."""
    return {
        "Content-Security-Policy": csp(settings),
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
    }


def _when(value: Any, lang: str) -> str:
    """A date or time as the language writes it (times with their offset, as the API gave them)."""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        stamp = value.strftime("%d.%m.%Y %H:%M" if lang == "de" else "%Y-%m-%d %H:%M")
        offset = value.strftime("%z")
        return f"{stamp} {offset[:3]}:{offset[3:]}" if offset else stamp
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y" if lang == "de" else "%Y-%m-%d")
    return "" if value is None else str(value)


def _number(value: Any, lang: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return text.replace(",", ".") if lang == "de" and isinstance(value, int) else text


def _json_data(value: Any) -> Markup:
    # For <script type="application/json">: data, never executed. With <, > and & as JSON escapes no text of
    # a store or deal name can close the element or open a comment in it.
    text = json.dumps(value, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment (templates ship in the package)."""
    env = Environment(
        loader=PackageLoader("geo_offers.console", "templates"),
        autoescape=select_autoescape(["html", "svg"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["json_data"] = _json_data
    return env


def render(
    request: Request,
    settings: Settings,
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page in the visitor's language with the console's security headers."""
    lang = language(request)
    values = {
        "lang": lang,
        "t": translator(lang),
        "known": lambda key: key in messages(lang),
        "when": lambda value: _when(value, lang),
        "number": lambda value: _number(value, lang),
        "path": request.url.path,
        "query": request.url.query,
        "signed_in": None,
        "problem": None,
        **context,
    }
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=secure_headers(settings))
