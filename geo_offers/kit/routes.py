"""The app's routes looked up by path, as its router looks them up: for the 405 ``Allow`` header and for the
contract checks, which run before routing."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.types import Scope


def routes_at(app: FastAPI, path: str) -> list[RouteContext]:
    """Every route whose path pattern (with its converters) matches ``path``, in the router's order."""
    found = []
    for context in iter_route_contexts(app.routes):
        pattern = getattr(context, "path_regex", None)
        if pattern is not None and pattern.match(path):
            found.append(context)
    return found


def methods_at(app: FastAPI, path: str) -> list[str]:
    """Every method of the resource at ``path``, sorted.

    Where a fixed path and a template both match (``/v1/consents/decline`` and ``/v1/consents/{subject_id}``),
    the resource is the one the fixed path names, as in the OpenAPI document: the template's methods are not
    the decline action's.
    """
    found = routes_at(app, path)
    fewest = min((str(c.path_format).count("{") for c in found), default=0)
    methods: set[str] = set()
    for context in found:
        if str(context.path_format).count("{") == fewest:
            methods |= context.methods or set()
    return sorted(methods)


def route_for(scope: Scope) -> RouteContext | None:
    """The route the router will hand an HTTP request to: the first at its path that takes its method."""
    for context in routes_at(scope["app"], scope["path"]):
        if context.methods is None or scope["method"] in context.methods:
            return context
    return None
