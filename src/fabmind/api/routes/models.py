"""Models: registered small models, their versions and metrics; activation and rollback (admins)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel

from fabmind.api.deps import Admin, DirectoryDep, SettingsDep, Viewer
from fabmind.models.registry import ModelRegistry

router = APIRouter(prefix="/api/models", tags=["models"])


@router.get("")
def list_models(user: Viewer, settings: SettingsDep) -> list[dict]:
    """Every (model, scope) with its active version."""
    reg = ModelRegistry.from_settings(settings)
    out = []
    for name in reg.names():
        for scope in reg.scopes(name):
            active = reg.active(name, scope)
            out.append({"name": name, "scope": scope, "versions": len(reg.versions(name, scope)),
                        "active": asdict(active) if active else None})
    return out


@router.get("/{name}/versions")
def versions(name: str, scope: str, user: Viewer, settings: SettingsDep) -> list[dict]:
    return [asdict(v) for v in ModelRegistry.from_settings(settings).versions(name, scope)]


class ActivateIn(BaseModel):
    scope: str
    version: int


@router.post("/{name}/activate")
def activate(name: str, body: ActivateIn, user: Admin, settings: SettingsDep, directory: DirectoryDep) -> dict:
    mv = ModelRegistry.from_settings(settings).activate(name, body.scope, body.version)
    directory.audit(user, "model.activate", target=mv.version)
    return asdict(mv)


class ScopeIn(BaseModel):
    scope: str


@router.post("/{name}/rollback")
def rollback(name: str, body: ScopeIn, user: Admin, settings: SettingsDep, directory: DirectoryDep) -> dict:
    mv = ModelRegistry.from_settings(settings).rollback(name, body.scope)
    directory.audit(user, "model.rollback", target=mv.version)
    return asdict(mv)
