"""The static files: htmx, fetched at install, and ours, served fingerprinted and precompressed.

htmx is served by the app itself at /vendor/htmx/: the terminal works offline, and nothing
third-party is committed.

The release is pinned here (version and the npm registry's sha512 integrity of its tarball) and
fetched at install time into ``vendor/htmx/`` (git-ignored) by ``make`` or, on a server,
``python -m kiosk.web.assets``: ``npm pack`` downloads it, the integrity is checked, and only
``dist/htmx.min.js`` and the licence are kept, with a gzip copy of the script made there once by
Zopfli (the densest gzip, 3 % under zlib's best: 500 bytes of a terminal's first view, at a cost of
half a second that install can pay and a start should not). To move to a newer 2.0.x, see README.md
("Dependencies").

Every static URL the pages write carries its file's content hash (``?v=...``, ``url_for`` adds
it), and a request with the current hash is answered ``Cache-Control: public, max-age=31536000,
immutable``: a navigation takes the CSS and scripts from the browser's cache without asking. A
changed file gets a new hash, hence a new URL; a request without the hash, or with an old one, is
answered ``no-cache`` (the browser revalidates). The text files (CSS, JavaScript, SVG) are
gzipped once at start into ``<instance>/static-gz/`` (a cache, never committed, made again when
a file changes, htmx's copied from its install-time one) and sent compressed to a browser that
accepts gzip.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import zopfli.gzip
from flask import Blueprint, Flask, abort, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.security import safe_join

from kiosk import ROOT

HTMX_VERSION = "2.0.11"
HTMX_INTEGRITY = "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
HTMX_DIR = ROOT / "vendor" / "htmx"
_KEPT = {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "LICENSE"}
_STAMP = ".release"  # the version and integrity of what is in the folder


class AssetsMissing(RuntimeError):
    """htmx has not been fetched (or an older pin's copy is there)."""


def installed(folder: Path) -> bool:
    """Whether the folder holds exactly the pinned release, and its gzip copy."""
    stamp, script = folder / _STAMP, folder / "htmx.min.js"
    return (
        script.is_file()
        and stamp.is_file()
        and stamp.read_text() == _pin()
        and _install_gzip(script, content_hash(script.read_bytes())).is_file()
    )


def content_hash(data: bytes) -> str:
    """A file's fingerprint: the first 12 hex digits of its sha256 (in its URLs and its gzip copies' names)."""
    return hashlib.sha256(data).hexdigest()[:12]


def _install_gzip(path: Path, fingerprint: str) -> Path:
    """Where a file that comes with a gzip copy made at install keeps it, beside itself."""
    return path.with_name(f"{path.name}.{fingerprint}.gz")


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
        script = (staging / "htmx.min.js").read_bytes()
        _install_gzip(staging / "htmx.min.js", content_hash(script)).write_bytes(zopfli.gzip.compress(script))
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
    assert app.static_folder
    files = StaticFiles(
        {"static": Path(app.static_folder), "vendor.static": HTMX_DIR}, Path(app.instance_path) / "static-gz"
    )
    files.precompress()
    app.extensions["kiosk.static"] = files
    for endpoint in files.folders:
        app.view_functions[endpoint] = files.serve
    app.url_defaults(files.add_fingerprint)
    # the icon is 220 bytes: inside the page it costs less than the headers of a request of its own
    icon = (Path(app.static_folder) / "favicon.svg").read_text(encoding="utf-8").strip()
    # ":" escaped too, so the SVG's namespace never reads as an address the page would fetch
    app.jinja_env.globals["favicon_uri"] = "data:image/svg+xml," + quote(icon, safe=" =/'\"")


@lru_cache(maxsize=64)
def _gzipped_bytes(path: Path, fingerprint: str) -> bytes:
    """A file gzipped, once per version of it in this process (the tests make many instance folders);
    htmx's copy was made at install."""
    made = _install_gzip(path, fingerprint)
    if made.is_file():
        return made.read_bytes()
    return gzip.compress(path.read_bytes(), 9, mtime=0)


# served gzipped: what compresses (images other than SVG already are)
TEXT_SUFFIXES = (".css", ".js", ".svg", ".txt", ".json")
LONG_LIVED = "public, max-age=31536000, immutable"


class StaticFiles:
    """The static folders by endpoint, their files' fingerprints and gzipped copies."""

    def __init__(self, folders: dict[str, Path], cache: Path) -> None:
        self.folders = folders
        self.cache = cache
        self._hashes: dict[Path, tuple[int, int, str]] = {}  # path: (mtime_ns, size, hash)

    def fingerprint(self, path: Path) -> str:
        """The first 12 hex digits of the file's sha256, kept while its mtime and size stay."""
        stat = path.stat()
        known = self._hashes.get(path)
        if known and known[:2] == (stat.st_mtime_ns, stat.st_size):
            return known[2]
        digest = content_hash(path.read_bytes())
        self._hashes[path] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest

    def gzipped(self, endpoint: str, path: Path) -> Path:
        """Where this version of the file's gzip copy is kept (its hash in the name: a new file, a new copy)."""
        relative = path.relative_to(self.folders[endpoint])
        return self.cache / endpoint / relative.parent / f"{relative.name}.{self.fingerprint(path)}.gz"

    def precompress(self) -> None:
        """Gzip each text file that has no copy of its current version yet (at start: no request waits)."""
        for endpoint, folder in self.folders.items():
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix in TEXT_SUFFIXES:
                    target = self.gzipped(endpoint, path)
                    if not target.exists():
                        target.parent.mkdir(parents=True, exist_ok=True)
                        tmp = target.with_name(target.name + f".{uuid.uuid4().hex}.tmp")
                        tmp.write_bytes(_gzipped_bytes(path, self.fingerprint(path)))
                        tmp.replace(target)  # atomic: two processes starting at once never serve half a file

    def path(self, endpoint: str, filename: str) -> Path | None:
        joined = safe_join(str(self.folders[endpoint]), filename)
        if joined is None:
            return None
        path = Path(joined)
        return path if path.is_file() else None

    def add_fingerprint(self, endpoint: str, values: dict[str, object]) -> None:
        """``url_for('static', filename=...)`` gets ``v=<hash>``: the URL changes when the file does."""
        if endpoint in self.folders and "v" not in values and isinstance(values.get("filename"), str):
            path = self.path(endpoint, values["filename"])  # type: ignore[arg-type]
            if path is not None:
                values["v"] = self.fingerprint(path)

    def serve(self, filename: str) -> ResponseReturnValue:
        """A static file: long-lived under its current hash, gzipped when the browser takes it."""
        endpoint = request.endpoint or "static"
        path = self.path(endpoint, filename)
        if path is None:
            abort(404)
        current = request.args.get("v") == self.fingerprint(path)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        compressed = None
        if path.suffix in TEXT_SUFFIXES and request.accept_encodings["gzip"]:
            compressed = self.gzipped(endpoint, path)
            if not compressed.exists():  # a file added or changed since the start
                self.precompress()
        # under its current hash a file is never revalidated (immutable): it goes without the validators
        # and range support a revalidation needs, 110 bytes of headers less on every file of a first view
        response = send_file(
            compressed or path,
            mimetype=mimetype,
            conditional=not current,
            etag=not current,
            max_age=None,
            last_modified=path.stat().st_mtime,
        )
        if current:
            response.headers.pop("Last-Modified", None)
        response.headers.pop("Content-Disposition", None)  # send_file names the gzip copy; nothing is downloaded here
        if response.status_code == 304:
            response.close()  # no body goes out, and Werkzeug would leave the file open until the collector came
        if compressed:
            response.headers["Content-Encoding"] = "gzip"
        if path.suffix in TEXT_SUFFIXES:
            response.vary.add("Accept-Encoding")
        response.headers["Cache-Control"] = LONG_LIVED if current else "no-cache"
        return response


if __name__ == "__main__":
    try:
        fetched = fetch_htmx(HTMX_DIR)
    except (AssetsMissing, subprocess.CalledProcessError) as exc:
        sys.exit(f"kiosk.web.assets: {exc}")
    print(f"htmx {HTMX_VERSION} {'fetched into' if fetched else 'already in'} {HTMX_DIR}")
