"""``kiosk portal-sim``: the central system simulator on its own port, served by waitress.

A plain click command (no app context): it never loads the kiosk app, only its own.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
import waitress

from kiosk import ROOT
from kiosk.portal_sim import create_sim_app


def _parse_keys(values: tuple[str, ...]) -> dict[str, str]:
    """``ID=HEX`` or ``ID=@FILE`` (a file holding the hex key, like the kiosk's instance/portal_key)."""
    keys: dict[str, str] = {}
    for value in values:
        kiosk_id, sep, key = value.partition("=")
        if not sep or not kiosk_id:
            raise click.BadParameter(f"{value!r}: use KIOSK_ID=HEX or KIOSK_ID=@FILE", param_hint="--kiosk-key")
        if key.startswith("@"):
            key = Path(key[1:]).read_text().strip()
        try:
            bytes.fromhex(key)
        except ValueError:
            raise click.BadParameter(f"{kiosk_id}: the key is not hex", param_hint="--kiosk-key") from None
        keys[kiosk_id] = key
    return keys


def _default_keys() -> tuple[dict[str, str], str]:
    """The local kiosk's key when it has one (instance/portal_key), else a new one to copy over."""
    instance = Path(os.environ.get("KIOSK_INSTANCE_PATH") or ROOT / "instance")
    kiosk_id = os.environ.get("KIOSK_KIOSK_ID", "kiosk-1").strip('"')
    path = instance / "portal_key"
    if path.exists():
        return {kiosk_id: path.read_text().strip()}, f"{kiosk_id}: the key in {path}"
    key = secrets.token_hex(32)
    return {kiosk_id: key}, f"{kiosk_id}: new key {key} (set the kiosk's PORTAL_KEY to it)"


@click.command("portal-sim")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8090, show_default=True, type=int, help="Port.")
@click.option(
    "--instance",
    "instance",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder for its database (default: a new temporary one).",
)
@click.option(
    "--kiosk-key",
    "kiosk_keys",
    multiple=True,
    metavar="ID=HEX|ID=@FILE",
    help="A kiosk and its signing key; repeat for more kiosks.",
)
@click.option("--step-seconds", default=20.0, show_default=True, type=float, help="How fast statuses move on.")
@click.option("--school-capacity", default=3, show_default=True, type=int, help="Grade 1 places before refusals.")
@click.option("--latency-ms", default=0, type=int, help="Sleep this long before every answer.")
@click.option(
    "--error-rate", default=0.0, type=click.FloatRange(0, 1), help="Share of requests answered with an error."
)
@click.option("--error-codes", default="500,503,429", show_default=True, help="The errors to answer, comma-separated.")
@click.option(
    "--timeout-rate", default=0.0, type=click.FloatRange(0, 1), help="Share answered only after --timeout-sleep."
)
@click.option("--timeout-sleep", default=30.0, show_default=True, type=float, help="Seconds a 'timeout' sleeps.")
@click.option("--reset-rate", default=0.0, type=click.FloatRange(0, 1), help="Share of connections dropped unanswered.")
@click.option(
    "--drop-after-commit-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Share of stored applications whose answer is dropped.",
)
@click.option(
    "--down-for", default=0.0, type=float, help="Answer 503 to everything for this many seconds from the start."
)
@click.option("--seed", default=None, type=int, help="Seed for the faults, to repeat a run.")
@click.option("--threads", default=8, show_default=True, type=int, help="Waitress worker threads.")
def portal_sim_command(
    host: str,
    port: int,
    instance: str | None,
    kiosk_keys: tuple[str, ...],
    step_seconds: float,
    school_capacity: int,
    latency_ms: int,
    error_rate: float,
    error_codes: str,
    timeout_rate: float,
    timeout_sleep: float,
    reset_rate: float,
    drop_after_commit_rate: float,
    down_for: float,
    seed: int | None,
    threads: int,
) -> None:
    """Serve the central system simulator (contract/openapi.yaml) with its own database."""
    keys = _parse_keys(kiosk_keys)
    note = ", ".join(keys)
    if not keys:
        keys, note = _default_keys()
    try:
        codes = [int(c) for c in error_codes.split(",") if c.strip()]
    except ValueError:
        raise click.BadParameter("comma-separated HTTP codes", param_hint="--error-codes") from None
    app = create_sim_app(
        {
            "SIM_KIOSK_KEYS": keys,
            "SIM_INSTANCE_PATH": instance,
            "SIM_STEP_SECONDS": step_seconds,
            "SIM_SCHOOL_CAPACITY": school_capacity,
            "SIM_LATENCY_MS": latency_ms,
            "SIM_ERROR_RATE": error_rate,
            "SIM_ERROR_CODES": codes,
            "SIM_TIMEOUT_RATE": timeout_rate,
            "SIM_TIMEOUT_SLEEP_S": timeout_sleep,
            "SIM_RESET_RATE": reset_rate,
            "SIM_DROP_AFTER_COMMIT_RATE": drop_after_commit_rate,
            "SIM_DOWN_FOR_S": down_for,
            "SIM_FAULT_SEED": seed,
        }
    )
    url = f"http://{host}:{port}"
    click.echo(f"Central system simulator on {url}/ (database in {app.instance_path})")
    click.echo(f"Kiosks: {note}")
    click.echo(f"Simulated phones: {url}/phone  Faults: {url}/admin/faults  Stats: {url}/admin/stats")
    waitress.serve(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="portal-sim",
        max_request_body_size=app.config["MAX_CONTENT_LENGTH"],
    )
