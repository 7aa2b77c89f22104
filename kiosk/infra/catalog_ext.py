"""Binds the catalog to the app: loaded and validated once at start."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from flask_babel import gettext as _

from kiosk.domain.catalog import BUNDLED_CATALOG, Catalog, Channel, Source, load_catalog


def catalog_path(app: Flask) -> Path:
    configured = app.config.get("CATALOG_PATH")
    if configured:
        return Path(configured)
    site = Path(app.instance_path) / "catalog.toml"
    return site if site.exists() else BUNDLED_CATALOG


def init_app(app: Flask) -> None:
    # a CatalogError propagates on purpose: the kiosk does not start with a broken checklist
    app.extensions["kiosk.catalog"] = load_catalog(catalog_path(app))
    app.jinja_env.globals.update(channel_place=channel_place, source_labels=source_labels)


def get_catalog() -> Catalog:
    return current_app.extensions["kiosk.catalog"]


def channel_place(channel: Channel, lang: str) -> str:
    """Where a channel is, in the reader's words: the catalog's own place, else its kind's label."""
    if channel.place is not None:
        return channel.place.get(lang)
    labels = {
        "school": _("Here at the school office"),
        "body": _("At the education department"),
        "body_gfc": _("At the education department or a Government for Citizens centre"),
        "gfc": _("At a Government for Citizens centre"),
        "portal": _("Online on egov.kz"),
    }
    return labels[channel.kind]


def source_labels(sources: tuple[Source, ...], lang: str) -> str:
    """The labels of a fact's sources, as the visitor reads them beside it."""
    return "; ".join(source.label.get(lang) for source in sources)
