"""The ``kiosk`` command: ``kiosk run`` serves the kiosk, ``kiosk db upgrade`` migrates."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from kiosk import create_app, db
from kiosk.catalog import CatalogError, load_catalog


def _create_app():  # noqa: ANN202 - FlaskGroup calls this with no arguments
    try:
        return create_app()
    except CatalogError as exc:
        raise SystemExit(f"kiosk: the service catalog is broken, not starting: {exc}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, help="School services kiosk.")
def main() -> None:
    pass


main.add_command(routes_command)
main.add_command(shell_command)


@main.command("run")
@click.option("--host", default=None, help="Address to listen on (default RUN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default RUN_PORT, 8080).")
@with_appcontext
def run_command(host: str | None, port: int | None) -> None:
    """Migrate the database, then serve the kiosk with waitress."""
    from waitress import serve

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(app)
    host = host or app.config["RUN_HOST"]
    port = port or app.config["RUN_PORT"]
    click.echo(f"Kiosk on http://{host}:{port}/ (catalog {app.extensions['kiosk.catalog'].version})")
    serve(
        app,
        host=host,
        port=port,
        threads=app.config["RUN_THREADS"],
        ident="kiosk",
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
    )


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    db.upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"database at {revision}")


@main.command("check-catalog")
@click.argument("path", type=click.Path(dir_okay=False))
def check_catalog(path: str) -> None:
    """Validate a catalog file before a site puts it in instance/."""
    try:
        catalog = load_catalog(path)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"catalog {catalog.version}: {len(catalog.services)} services, all fields present")
