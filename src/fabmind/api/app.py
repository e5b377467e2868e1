"""The FastAPI application: ``create_app(settings, store)``; ``fabmind serve`` runs it with uvicorn."""

from __future__ import annotations

import secrets
import time

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fabmind import __version__
from fabmind.api import problems
from fabmind.api.auth import UserDirectory
from fabmind.api.cache import ChangeMarker, MarkedCache
from fabmind.config import Settings

# routers, one per area; each module exposes `router`
ROUTERS = ["system", "equipment", "alarms", "models", "analysis", "energy", "approvals", "ingest"]


def create_app(settings: Settings | None = None, store=None) -> FastAPI:
    settings = settings or Settings()
    if store is None:
        from fabmind.store import Store

        store = Store(settings.db_url)
    app = FastAPI(
        title="fabmind",
        version=__version__,
        description="Industrial AI for fabs: equipment, runs, alarms, models, yield, energy, knowledge, assistant, "
        "reports, approvals. Authenticate with `Authorization: Bearer <token>` or a browser session.",
    )
    app.state.settings = settings
    app.state.store = store
    app.state.directory = UserDirectory(store.engine)
    marker = ChangeMarker(store.engine)  # one per app: polled answers and token lookups, valid until a commit
    app.state.response_cache = MarkedCache(marker, max_entries=256)
    app.state.auth_cache = MarkedCache(marker, max_entries=1024)
    app.state.registry = CollectorRegistry()

    secret = settings.secret_key.get_secret_value() or secrets.token_urlsafe(32)  # dev: per-process key
    app.add_middleware(SessionMiddleware, secret_key=secret, same_site="lax",
                       https_only=settings.environment == "production", max_age=12 * 3600)

    app.add_middleware(Observe, requests=Counter("fabmind_http_requests", "HTTP requests", ["method", "route", "status"],
                                                 registry=app.state.registry),
                       latency=Histogram("fabmind_http_request_seconds", "HTTP request latency", ["route"],
                                         registry=app.state.registry))
    problems.install(app)
    import importlib

    for name in ROUTERS:
        app.include_router(importlib.import_module(f"fabmind.api.routes.{name}").router)
    from fabmind.web import routes as web

    web.install(app)
    return app


class Observe:
    """Request counts and latency per route for ``/metrics`` (pure ASGI: no per-request task or
    response buffering, unlike ``@app.middleware('http')``). Latency runs to the last body byte sent."""

    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram):
        self.app = app
        self.requests = requests
        self.latency = latency
        self._children: dict[tuple[str, str, int], tuple] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            key = (scope["method"], route, status)
            children = self._children.get(key)
            if children is None:
                children = (self.requests.labels(scope["method"], route, str(status)), self.latency.labels(route))
                self._children[key] = children
            children[0].inc()
            children[1].observe(time.perf_counter() - t0)
