"""Dashboard pages. Each page calls the same service functions as the API."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from fabmind.api.auth import AuthError, User

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    def __init__(self, path: str):
        self.path = path


def page_user(request: Request) -> User:
    username = request.session.get("user")
    user = request.app.state.directory.get(username) if username else None
    if user is None:
        raise LoginRequired(request.url.path)
    return user


def render(request: Request, template: str, user: User | None, active: str = "", **ctx) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, {"user": user, "active": active, **ctx})


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/"):
    return render(request, "login.html", None, next=next if next.startswith("/") else "/")


@router.post("/login")
def login_submit(request: Request, username: str = Form(...), password: str = Form(...), next: str = Form("/")):
    directory = request.app.state.directory
    try:
        user = directory.authenticate(username, password)
    except AuthError as exc:
        return render(request, "login.html", None, error=str(exc), next=next)
    request.session["user"] = user.username
    directory.audit(user, "login", remote=request.client.host if request.client else None)
    return RedirectResponse(next if next.startswith("/") and not next.startswith("//") else "/", status_code=303)


@router.get("/logout")
def logout(request: Request):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


def install(app) -> None:
    """Mount the static assets, the pages and the login redirect."""
    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static")

    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired):
        return RedirectResponse(f"/login?next={quote(exc.path)}", status_code=303)

    from fabmind.web import pages

    app.include_router(router)
    app.include_router(pages.router)
