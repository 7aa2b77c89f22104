"""The ``kiosk`` command: ``kiosk run`` serves the kiosk, ``kiosk db upgrade`` migrates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext
from sqlalchemy.orm import Session
from waitress.server import create_server

from kiosk import create_app, db
from kiosk.clock import utcnow
from kiosk.config import ConfigError
from kiosk.domain import accounts, audit, ecp
from kiosk.domain.catalog import CatalogError, load_catalog
from kiosk.domain.catalog_doc import render_markdown
from kiosk.extensions import portal_key
from kiosk.infra import logs
from kiosk.infra.crypto import add_key
from kiosk.jobs import privacy_text
from kiosk.jobs.backup import backup_command, restore_command
from kiosk.jobs.sync import Backoff, Worker
from kiosk.models import StaffUser

T = TypeVar("T")

if TYPE_CHECKING:
    from kiosk.portal_sim.server import ServerThread


def _create_app() -> Flask:  # FlaskGroup calls this with no arguments
    try:
        return create_app()
    except CatalogError as exc:
        raise SystemExit(f"kiosk: the service catalog is broken, not starting: {exc}") from None
    except (ConfigError, db.DriverMissing) as exc:
        raise SystemExit(f"kiosk: not starting: {exc}") from None


class KioskGroup(FlaskGroup):
    """Flask's group, minus two costs of every call: listing the commands (``kiosk --help``) builds
    no app, since the kiosk adds none to ``app.cli``; and the simulator's command is loaded only
    when it is named or listed, since ``kiosk.portal_sim`` brings its models, test CA and signing
    (bench/import_memory.py) that a terminal talking to the real central system never uses.
    """

    lazy = {"portal-sim": ("kiosk.portal_sim.cli", "portal_sim_command")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*click.Group.list_commands(self, ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, name = self.lazy[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), name)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=KioskGroup, create_app=_create_app, add_default_commands=False, help="School services kiosk.")
def main() -> None:
    pass


main.add_command(routes_command)
main.add_command(shell_command)
main.add_command(backup_command)
main.add_command(restore_command)


@main.command("run")
@click.option("--host", default=None, help="Address to listen on (default RUN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default RUN_PORT, 8080).")
@with_appcontext
def run_command(host: str | None, port: int | None) -> None:
    """Migrate the database if it is behind the code, then serve the kiosk with waitress."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    logs.configure(app.config["LOG_FORMAT"])
    if not db.at_code_heads(app):  # a restart finds its schema as it left it, and loads no Alembic
        db.upgrade(app)
    host = host or app.config["RUN_HOST"]
    port = port or app.config["RUN_PORT"]
    # both ports are taken before anything starts: a second `kiosk run` (or another program on a
    # port) stops with one line saying which, not a traceback, and no simulator or worker left behind
    server = _listen(
        f"the kiosk's port {host}:{port} (RUN_PORT)",
        lambda: create_server(app, host=host, port=port, **waitress_options(app)),
    )
    if app.config["PORTAL"] == "embedded":
        sim_url = _listen(
            f"the simulator's port 127.0.0.1:{app.config['SIM_PORT']} (SIM_PORT)", lambda: start_embedded_simulator(app)
        ).url
        _say(app, f"Central system simulator on {sim_url}/ (the simulated phone: {sim_url}/phone)")
    if app.config["SYNC_IN_PROCESS"] and app.config["PORTAL"] != "demo":
        threading.Thread(target=make_worker(app, "in-process").run, name="sync", daemon=True).start()
        _say(app, "Sync worker running in this process")
    _say(app, f"Kiosk on http://{host}:{port}/ (catalog {app.extensions['kiosk.catalog'].version})")
    server.print_listen("Serving on http://{}:{}")
    server.run()


def _listen(what: str, bind: Callable[[], T]) -> T:
    """A server bound to its port, or the start stopped with the reason in one line."""
    try:
        return bind()
    except OSError as exc:
        raise SystemExit(f"kiosk: not starting: cannot listen on {what}: {exc.strerror or exc}") from None


def waitress_options(app: Flask) -> dict[str, Any]:
    """waitress's own limits; its body limit is above Flask's, so Flask's page in the visitor's language answers."""
    if app.config["RUN_MAX_BODY"] <= app.config["MAX_CONTENT_LENGTH"]:
        raise click.UsageError(
            f"RUN_MAX_BODY ({app.config['RUN_MAX_BODY']}) must be larger than MAX_UPLOAD_SIZE + MAX_FORM_BODY "
            f"({app.config['MAX_CONTENT_LENGTH']}): a larger upload would get waitress's page in English"
        )
    return {
        "threads": app.config["RUN_THREADS"],
        "ident": "kiosk",
        "max_request_body_size": app.config["RUN_MAX_BODY"],
        "max_request_header_size": app.config["RUN_MAX_HEADER_BYTES"],
        "channel_timeout": app.config["RUN_CHANNEL_TIMEOUT_S"],
        "connection_limit": app.config["RUN_CONNECTION_LIMIT"],
        # waitress drops X-Forwarded-* unless told; ProxyFix (kiosk/infra/security.py) trusts exactly
        # TRUSTED_PROXIES hops of them
        "clear_untrusted_proxy_headers": not app.config["TRUSTED_PROXIES"],
    }


def _say(app: Flask, text: str) -> None:
    """A start-up line: on the terminal as it is, or as a log record when every line must be JSON."""
    if app.config["LOG_FORMAT"] == "json":
        logging.getLogger("kiosk.cli").info(text)
    else:
        click.echo(text)


def start_embedded_simulator(app: Flask) -> ServerThread:
    """The embedded default: the central system's simulator in a thread, on its own port and
    database; and the kiosk trusts its test CA (``trust_the_simulators_test_ca``)."""
    # a terminal that talks to the real system never loads the simulator
    from kiosk.portal_sim import create_sim_app
    from kiosk.portal_sim.server import ServerThread

    sim = create_sim_app(
        {
            "SIM_KIOSK_KEYS": {app.config["KIOSK_ID"]: portal_key(app).hex()},
            "SIM_INSTANCE_PATH": str(Path(app.instance_path) / "portal_sim"),
            "SIM_CONTRACT_AT_START": False,
        }
    )
    trust_the_simulators_test_ca(app, sim)
    return ServerThread(sim, port=app.config["SIM_PORT"], threads=4)


def trust_the_simulators_test_ca(app: Flask, sim: Flask) -> None:
    """The demo's ЭЦҚ: besides the roots the site installed (``ECP_TRUST_DIR``), the kiosk trusts
    the TEST root of the simulator it runs (the CA whose keys the simulator keeps in
    ``portal_sim/ca/``, which signs on its phone page for eGov Mobile), and asks that CA's OCSP
    in-process (its certificates name an address that resolves nowhere). Only ``PORTAL=embedded``
    starts a simulator, so a kiosk on the real central system never trusts it."""
    test = sim.extensions["portal_sim"].ecp
    setup = app.extensions["kiosk.ecp"]
    roots = test.roots()
    setup.trust = ecp.Trust(setup.trust.roots + roots, setup.trust.intermediates)
    setup.revocation = dataclasses.replace(setup.revocation, fetch=test.fetcher(others=setup.revocation.fetch))
    names = ", ".join(root.subject.rfc4514_string() for root in roots)
    _say(app, f"ЭЦҚ in this demo: the kiosk also trusts the simulator's TEST root ({names}), never a НУЦ one")


def make_worker(app: Flask, worker_id: str) -> Worker:
    return Worker(
        app,
        app.extensions["kiosk.portal"],
        worker_id=worker_id,
        batch=app.config["SYNC_BATCH"],
        lease=dt.timedelta(seconds=app.config["SYNC_LEASE_S"]),
        backoff=Backoff(app.config["SYNC_BACKOFF_BASE_S"], app.config["SYNC_BACKOFF_CAP_S"]),
        idle_sleep=app.config["SYNC_IDLE_S"],
        concurrency=app.config["SYNC_CONCURRENCY"],
    )


@main.command("sync")
@click.option("--once", is_flag=True, help="Drain what is due now and pull the feed once, then exit.")
@click.option("--worker-id", default=None, help="A name for this worker (default: host and pid).")
@with_appcontext
def sync_command(once: bool, worker_id: str | None) -> None:
    """Deliver queued applications to the central system and bring their status back."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config["PORTAL"] == "demo":
        raise click.ClickException("PORTAL=demo has no central system to sync with")
    logs.configure(app.config["LOG_FORMAT"])
    db.upgrade(app)
    worker = make_worker(app, worker_id or f"{socket.gethostname()}-{os.getpid()}")
    if once:
        sent, pulled = worker.run_once()
        click.echo(f"sent {sent}, status changes {pulled}")
        return
    worker.stop_on_signals()
    worker.run()


@main.group("keys")
def keys_group() -> None:
    """The data keys in instance/keys/."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Make a new data key the current one; the old keys stay, to open what they sealed."""
    key_id = add_key(Path(current_app.instance_path) / "keys")
    click.echo(f"new data key {key_id}; restart the kiosk and the workers to seal with it")


@main.group("staff")
def staff_group() -> None:
    """School staff accounts (the first admin is made here; there is no default password)."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@staff_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(accounts.ROLES), default="operator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@with_appcontext
def staff_add(username: str, role: str, password_stdin: bool) -> None:
    """Add a member of staff."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(app)
    with db.new_session(app) as s:
        try:
            accounts.add_user(s, username, _password(password_stdin), role, utcnow(), actor="cli")
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
    click.echo(f"{username} added as {role}")


@staff_group.command("list")
@with_appcontext
def staff_list() -> None:
    """The staff accounts, their roles and whether they can sign in."""
    with db.new_session(current_app._get_current_object()) as s:  # type: ignore[attr-defined]
        now = utcnow()
        for user in accounts.all_users(s):
            click.echo(f"{user.username}\t{user.role}\t{accounts.state(user, now)}")


def _change_user(username: str, change: Callable[[Session, StaffUser], None]) -> None:
    """Find the account, make the change (with its audit entry), commit; a name with no account is an error."""
    with db.new_session(current_app._get_current_object()) as s:  # type: ignore[attr-defined]
        user = accounts.by_name(s, username)
        if user is None:
            raise click.ClickException(f"no user {username}")
        try:
            change(s, user)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()


def _staff_change(name: str, help: str, change: Callable[[Session, StaffUser], None]) -> None:
    """``kiosk staff NAME USERNAME``: one change to one account, said done on the terminal."""

    @staff_group.command(name, help=help)
    @click.argument("username")
    @with_appcontext
    def command(username: str) -> None:
        _change_user(username, change)
        click.echo(f"{username}: {name} done")


_staff_change(
    "disable",
    "Stop a member of staff from signing in.",
    lambda s, user: accounts.disable(s, user, utcnow(), actor="cli"),
)
_staff_change(
    "enable",
    "Let a disabled member of staff sign in again.",
    lambda s, user: accounts.enable(s, user, utcnow(), actor="cli"),
)
_staff_change(
    "unlock",
    "Lift the lock after repeated failed sign-ins.",
    lambda s, user: accounts.unlock(s, user, utcnow(), actor="cli"),
)
_staff_change(
    "password",
    "Set a new password.",
    lambda s, user: accounts.set_password(s, user, _password(False), utcnow(), actor="cli"),
)


@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Walk the hash chain: exit 1 and say where, if an entry was changed or removed."""
    with db.new_session(current_app._get_current_object()) as s:  # type: ignore[attr-defined]
        problems = audit.verify(s)
        count = s.query(audit.AuditEntry).count()
    if problems:
        for problem in problems:
            click.echo(f"entry {problem.entry_id or '-'}: {problem.what}", err=True)
        raise SystemExit(1)
    click.echo(f"audit log intact: {count} entries")


@main.group("privacy")
def privacy_group() -> None:
    """Personal data: erase what is due, the inventory, the facts of a breach."""


def _retention(app: Flask) -> Any:
    from kiosk.jobs.privacy import Retention, RetentionError

    try:
        return Retention.from_config(app.config)
    except RetentionError as exc:
        raise click.ClickException(str(exc)) from None


@privacy_group.command("erase")
@click.option("--dry-run", is_flag=True, help="Say how many are due, erase nothing.")
@with_appcontext
def privacy_erase(dry_run: bool) -> None:
    """Erase the personal data of every application whose retention period has run out.

    Each one's own data key is destroyed, so its payload, photos and consent cannot be read again,
    in the database, its WAL or any backup. The reference, service, dates and states stay; an
    application without an outcome yet is never erased. Every erasure is an audit entry.
    """
    from sqlalchemy import func, select

    from kiosk.clock import utcnow
    from kiosk.jobs import privacy
    from kiosk.models import Submission

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    db.upgrade(app)
    retention = _retention(app)
    now = utcnow(app.config)
    if dry_run:
        with db.new_session(app) as s:
            due = s.scalar(select(func.count(Submission.id)).where(retention.due(now)))
        click.echo(f"{due} applications due for erasure now (nothing erased: --dry-run)")
        return
    result = privacy.erase_due(
        lambda: db.new_session(app),
        app.extensions["kiosk.keyring"],
        now,
        retention,
        actor="cli",
        batch=app.config["PRIVACY_ERASE_BATCH"],
        pause_s=app.config["PRIVACY_ERASE_PAUSE_S"],
    )
    click.echo(
        f"erased {result.erased} applications ({result.keys_destroyed} keys destroyed); "
        f"{result.released} one-per-child records released after their school year; "
        f"{result.orphan_keys} stray keys destroyed"
    )


@privacy_group.command("report")
@click.option(
    "--backups",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The folder of `kiosk backup` files, to name those older than the retention period.",
)
@with_appcontext
def privacy_report(backups: Path | None) -> None:
    """The kiosk's inventory of personal data, with no personal data in it."""
    from kiosk.clock import utcnow
    from kiosk.jobs import privacy

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    retention = _retention(app)
    now = utcnow(app.config)
    with db.new_session(app) as s:
        report = privacy.inventory(s, app.extensions["kiosk.keyring"], now, retention)
    if backups is not None:
        files = [
            (p.name, dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC))
            for p in sorted(backups.glob("kiosk-*"))
            if p.is_file()
        ]
        report.backups = privacy.old_backups(files, now, retention)
    click.echo(privacy_text.inventory_text(report, app.config, backups is not None))


@privacy_group.command("incident")
@click.option("--since", required=True, help="When the breach may have begun (YYYY-MM-DD or ISO time, Almaty).")
@click.option("--until", "until_", default=None, help="When it ended (default: now).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext
def privacy_incident(since: str, until_: str | None, output: Path | None) -> None:
    """The facts a report to the authority needs, from the database and the audit log."""
    from kiosk.clock import utcnow
    from kiosk.jobs import privacy

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    start = _moment(since, "--since")
    end = _moment(until_, "--until") if until_ else utcnow(app.config)
    if end < start:
        raise click.UsageError("--until comes before --since")
    with db.new_session(app) as s:
        facts = privacy.incident(s, start, end)
    page = privacy_text.incident_text(facts, app.config, utcnow(app.config))
    if output:
        output.write_text(page, encoding="utf-8")
        output.chmod(0o600)
        click.echo(f"written to {output}")
    else:
        click.echo(page, nl=False)


def _moment(value: str, name: str) -> dt.datetime:
    from kiosk.clock import ALMATY

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO time", param_hint=name) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=ALMATY)).astimezone(dt.UTC)


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


@main.command("catalog-doc")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the page here (default: print it).")
def catalog_doc(path: str | None, output: str | None) -> None:
    """Write the review page of a catalog (docs/services.md): each service with its sources."""
    try:
        catalog = load_catalog(path) if path else load_catalog()
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    page = render_markdown(catalog)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(page)
    else:
        click.echo(page, nl=False)


if __name__ == "__main__":
    main()
