"""``fabmind serve`` and ``fabmind users …``: the web service and its accounts."""

from __future__ import annotations

import secrets

import typer
from rich.console import Console

console = Console()
users_app = typer.Typer(help="Manage dashboard/API users and tokens.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")


def serve(
    host: str = typer.Option("", help="bind address (default FABMIND_API_HOST or 127.0.0.1)"),
    port: int = typer.Option(0, help="port (default FABMIND_API_PORT or 8000)"),
    db: str = typer.Option("", "--db", help="database URL (default FABMIND_DB_URL)"),
    access_log: bool = typer.Option(True, help="log every request (turn off to save CPU under heavy load)"),
) -> None:
    """Serve the API and the dashboard."""
    import uvicorn

    from fabmind.api.app import create_app
    from fabmind.config import Settings

    settings = Settings(**({"db_url": db} if db else {}))
    app = create_app(settings)
    uvicorn.run(app, host=host or settings.api_host, port=port or settings.api_port, log_level="info",
                access_log=access_log)


def ensure_demo_admin(store) -> tuple[str, str]:
    """Create the demo's admin with a generated password (printed once by the demo; never a default)."""
    from fabmind.api.auth import UserDirectory

    password = secrets.token_urlsafe(12)
    UserDirectory(store.engine).add_user("admin", password, "admin")
    return "admin", password


@users_app.command("add")
def users_add(
    username: str,
    role: str = typer.Option("viewer", help="viewer | engineer | admin"),
    areas: str = typer.Option("*", help="comma-separated area ids the user acts in ('*' = all)"),
    password: str = typer.Option("", help="leave empty to generate one"),
    db: str = typer.Option("", "--db", help="database URL (default FABMIND_DB_URL)"),
) -> None:
    """Create or update a user; prints the password if it was generated."""
    from fabmind.api.auth import UserDirectory
    from fabmind.config import Settings
    from fabmind.store import Store

    settings = Settings(**({"db_url": db} if db else {}))
    generated = not password
    password = password or secrets.token_urlsafe(12)
    UserDirectory(Store(settings.db_url).engine).add_user(username, password, role, areas)
    console.print(f"user [bold]{username}[/] ({role}, areas {areas})" + (f", password: {password}" if generated else ""))


@users_app.command("token")
def users_token(username: str, name: str = "cli", db: str = typer.Option("", "--db")) -> None:
    """Issue an API token for a user (shown once)."""
    from fabmind.api.auth import UserDirectory
    from fabmind.config import Settings
    from fabmind.store import Store

    settings = Settings(**({"db_url": db} if db else {}))
    console.print(UserDirectory(Store(settings.db_url).engine).issue_token(username, name))
