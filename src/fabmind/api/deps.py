"""Dependencies shared by the routers, as named ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from fabmind.api.auth import User, UserDirectory, token_hash
from fabmind.api.cache import MarkedCache
from fabmind.config import Settings


async def get_settings(request: Request) -> Settings:  # async: no threadpool hop for a lookup
    return request.app.state.settings


async def get_store(request: Request):
    return request.app.state.store


async def get_directory(request: Request) -> UserDirectory:
    return request.app.state.directory


async def current_user(request: Request) -> User:
    """Bearer API token, or the browser's session cookie. Checked on every request; the lookup is reused
    only while nothing was committed to the store (a revoked token or a changed role counts on the next
    request, see :mod:`fabmind.api.cache`)."""
    directory: UserDirectory = request.app.state.directory
    cache: MarkedCache = request.app.state.auth_cache
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        digest = token_hash(header[7:].strip())
        user = await cache.get_or_compute(("token", digest), lambda: directory.user_for_token_hash(digest))
        if user is None:
            raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
        return user
    username = request.session.get("user") if "session" in request.scope else None
    if username:
        user = await cache.get_or_compute(("user", username), lambda: directory.get(username))
        if user is not None:
            return user
    raise HTTPException(401, "log in or send 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})


def require(role: str):
    async def _dep(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.has_role(role):
            raise HTTPException(403, f"this needs the {role} role; {user.username} is {user.role}")
        return user

    return _dep


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[object, Depends(get_store)]
DirectoryDep = Annotated[UserDirectory, Depends(get_directory)]
CurrentUser = Annotated[User, Depends(current_user)]
Viewer = Annotated[User, Depends(require("viewer"))]
Engineer = Annotated[User, Depends(require("engineer"))]
Admin = Annotated[User, Depends(require("admin"))]
