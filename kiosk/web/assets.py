"""htmx, served by the app itself at /vendor/htmx/: the terminal works offline, and nothing
third-party is committed.

The release is pinned here (version and the npm registry's sha512 integrity of its tarball) and
fetched at install time into ``vendor/htmx/`` (git-ignored) by ``make`` or, on a server,
``python -m kiosk.web.assets``: ``npm pack`` downloads it, the integrity is checked, and only
``dist/htmx.min.js`` and the licence are kept. To move to a newer 2.0.x, see README.md
("Dependencies").
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from flask import Blueprint, Flask

from kiosk import ROOT

HTMX_VERSION = "2.0.11"
HTMX_INTEGRITY = "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
HTMX_DIR = ROOT / "vendor" / "htmx"
_KEPT = {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"}
_STAMP = ".release"  # the version and integrity of what is in the folder


class AssetsMissing(RuntimeError):
    """htmx has not been fetched (or an older pin's copy is there)."""


def installed(folder: Path) -> bool:
    """Whether the folder holds exactly the pinned release."""
    stamp = folder / _STAMP
    return (folder / "htmx.min.js").is_file() and stamp.is_file() and stamp.read_text() == _pin()


def _pin() -> str:
    return f"htmx.org@{HTMX_VERSION} {HTMX_INTEGRITY}\n"


def fetch_htmx(folder: Path) -> bool:
    """Fetch the pinned release into ``folder`` unless it is there already; True if it fetched."""
    if installed(folder):
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsMissing("npm is needed once, to fetch htmx: apt-get install npm (README.md, Dependencies)")
    with tempfile.TemporaryDirectory(prefix="kiosk-htmx-") as tmp:
        packed = subprocess.run(
            [npm, "pack", f"htmx.org@{HTMX_VERSION}", "--pack-destination", tmp, "--silent"],
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp,
        ).stdout.split()[-1]
        tarball = Path(tmp) / packed
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
        if integrity != HTMX_INTEGRITY:
            raise AssetsMissing(f"htmx.org@{HTMX_VERSION}: the tarball's integrity {integrity} is not the pinned one")
        staging = Path(tmp) / "htmx"
        staging.mkdir()
        with tarfile.open(tarball) as archive:
            for member, name in _KEPT.items():
                source = archive.extractfile(member)
                if source is None:
                    raise AssetsMissing(f"htmx.org@{HTMX_VERSION} has no {member}")
                (staging / name).write_bytes(source.read())
        (staging / _STAMP).write_text(_pin())
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), folder)
    return True


def init_app(app: Flask) -> None:
    if not installed(HTMX_DIR):
        raise AssetsMissing(
            f"htmx {HTMX_VERSION} is not in {HTMX_DIR}: run `make run` or `make test` (they fetch it),"
            " or `.venv/bin/python -m kiosk.web.assets` on a server (README.md, Dependencies)"
        )
    bp = Blueprint("vendor", __name__, static_folder=str(HTMX_DIR), static_url_path="/vendor/htmx")
    app.register_blueprint(bp)


if __name__ == "__main__":
    try:
        fetched = fetch_htmx(HTMX_DIR)
    except (AssetsMissing, subprocess.CalledProcessError) as exc:
        sys.exit(f"kiosk.web.assets: {exc}")
    print(f"htmx {HTMX_VERSION} {'fetched into' if fetched else 'already in'} {HTMX_DIR}")
