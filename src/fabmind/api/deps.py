"""Dependencies shared by the routers, as named ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from fabmind.api.auth import User, UserDirectory
from fabmind.config import Settings


async def get_settings(request: Request) -> Settings:  # async: no threadpool hop for a lookup
    return request.app.state.settings


async def get_store(request: Request):
    return request.app.state.store


async def get_directory(request: Request) -> UserDirectory:
    return request.app.state.directory


def current_user(request: Request) -> User:
    """Bearer API token, or the browser's session cookie."""
    directory: UserDirectory = request.app.state.directory
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = directory.user_for_token(header[7:].strip())
        if user is None:
            raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
        return user
    username = request.session.get("user") if "session" in request.scope else None
    if username:
        user = directory.get(username)
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
