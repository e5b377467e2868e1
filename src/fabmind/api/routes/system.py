"""Health, metrics, login and users."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Form, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from fabmind.api.auth import AuthError
from fabmind.api.deps import Admin, CurrentUser, DirectoryDep

router = APIRouter()

@router.get("/healthz", tags=["system"])
def healthz(request: Request) -> dict:
    """Liveness and the store's reachability."""
    from sqlalchemy import text

    try:
        with request.app.state.store.engine.connect() as con:
            con.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        db = f"error: {type(exc).__name__}"
    return {"status": "ok" if db == "ok" else "degraded", "db": db}

@router.get("/metrics", tags=["system"])
def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)

class Me(BaseModel):
    username: str
    role: str
    areas: list[str]

@router.post("/api/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, directory: DirectoryDep) -> Me:
    """Start a browser session (cookie)."""
    try:
        user = directory.authenticate(body.username, body.password)
    except AuthError as exc:
        raise HTTPException(401, str(exc)) from None
    request.session["user"] = user.username
    directory.audit(user, "login", remote=request.client.host if request.client else None)
    return Me(username=user.username, role=user.role, areas=list(user.areas))

@router.post("/api/auth/logout", tags=["auth"])
def logout(request: Request) -> dict:
    request.session.clear()
    return {"ok": True}

@router.get("/api/auth/me", tags=["auth"])
def me(user: CurrentUser) -> Me:
    return Me(username=user.username, role=user.role, areas=list(user.areas))

class TokenOut(BaseModel):
    token: str
    username: str

@router.post("/api/auth/tokens", tags=["auth"])
def new_token(user: CurrentUser, directory: DirectoryDep, name: str = "") -> TokenOut:
    """Issue an API token for yourself (shown once)."""
    token = directory.issue_token(user.username, name[:64])
    directory.audit(user, "token.issue", target=user.username)
    return TokenOut(token=token, username=user.username)

class TokenInfo(BaseModel):
    id: str
    username: str
    name: str
    created: datetime


@router.get("/api/auth/tokens", tags=["auth"])
def list_tokens(user: CurrentUser, directory: DirectoryDep, all_users: bool = False) -> list[TokenInfo]:
    """Your API tokens (admins: everyone's with ``all_users=true``); the tokens themselves are never shown."""
    if all_users and not user.has_role("admin"):
        raise HTTPException(403, "listing every user's tokens needs the admin role")
    return [TokenInfo(**t) for t in directory.list_tokens(None if all_users else user.username)]


@router.delete("/api/auth/tokens/{token_id}", tags=["auth"], status_code=204)
def revoke_token(token_id: str, user: CurrentUser, directory: DirectoryDep) -> Response:
    """Revoke one of your tokens (admins: anyone's); it stops working on the next request."""
    owner = None if user.has_role("admin") else user.username
    if not directory.revoke_token_id(token_id, owner):
        raise HTTPException(404, f"no API token {token_id!r}" + ("" if owner is None else " of yours"))
    directory.audit(user, "token.revoke", target=token_id)
    return Response(status_code=204)


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(viewer|engineer|admin)$")
    areas: str = Field("*", max_length=256)

@router.get("/api/users", tags=["users"])
def list_users(user: Admin, directory: DirectoryDep) -> list[Me]:
    return [Me(username=u.username, role=u.role, areas=list(u.areas)) for u in directory.list_users()]

@router.post("/api/users", tags=["users"], status_code=201)
def add_user(body: UserIn, user: Admin, directory: DirectoryDep) -> Me:
    """Create or update a user (admin)."""
    created = directory.add_user(body.username, body.password, body.role, body.areas)
    directory.audit(user, "user.upsert", target=body.username, detail={"role": body.role, "areas": body.areas})
    return Me(username=created.username, role=created.role, areas=list(created.areas))

@router.get("/api/audit", tags=["users"])
def audit(user: Admin, directory: DirectoryDep, limit: int = 100) -> list[dict]:
    return directory.audit_entries(max(1, min(limit, 1000)))

