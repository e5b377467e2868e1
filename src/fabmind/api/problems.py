"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from fabmind.domain import DomainError

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str = "", instance: str = "", **extra) -> JSONResponse:
    body = {"type": f"https://fabmind.dev/problems/{status}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


_TITLES = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 422: "Invalid input", 503: "Unavailable"}


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        resp = problem(exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail or ""),
                       request.url.path)
        if exc.headers:
            resp.headers.update(exc.headers)
        return resp

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", "")} for e in exc.errors()]
        first = errors[0] if errors else {"loc": [], "msg": ""}
        return problem(422, "Invalid input", f"{'.'.join(first['loc'])}: {first['msg']}", request.url.path,
                       errors=errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        return problem(422, "Invalid record", str(exc), request.url.path, field=exc.field)

    @app.exception_handler(LookupError)
    async def _lookup(request: Request, exc: LookupError):
        return problem(404, "Not found", str(exc).strip("'\""), request.url.path)

    @app.exception_handler(PermissionError)
    async def _forbidden(request: Request, exc: PermissionError):  # e.g. someone else's / unknown conversation
        return problem(403, "Forbidden", str(exc), request.url.path)

    @app.exception_handler(ValueError)
    async def _value(request: Request, exc: ValueError):
        return problem(400, "Bad request", str(exc), request.url.path)
