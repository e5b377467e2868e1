"""The FastAPI application: ``create_app(settings, store)``; ``fabmind serve`` runs it with uvicorn."""

from __future__ import annotations

import secrets
import time

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.middleware.sessions import SessionMiddleware

from fabmind import __version__
from fabmind.api import problems
from fabmind.api.auth import UserDirectory
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
    app.state.registry = CollectorRegistry()
    requests = Counter("fabmind_http_requests", "HTTP requests", ["method", "route", "status"],
                       registry=app.state.registry)
    latency = Histogram("fabmind_http_request_seconds", "HTTP request latency", ["route"],
                        registry=app.state.registry)

    secret = settings.secret_key.get_secret_value() or secrets.token_urlsafe(32)  # dev: per-process key
    app.add_middleware(SessionMiddleware, secret_key=secret, same_site="lax",
                       https_only=settings.environment == "production", max_age=12 * 3600)

    @app.middleware("http")
    async def _observe(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        requests.labels(request.method, path, str(response.status_code)).inc()
        latency.labels(path).observe(time.perf_counter() - t0)
        return response

    problems.install(app)
    import importlib

    for name in ROUTERS:
        app.include_router(importlib.import_module(f"fabmind.api.routes.{name}").router)
    from fabmind.web import routes as web

    web.install(app)
    return app
