"""Binds the catalog to the app: loaded and validated once at start."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app

from kiosk.catalog import BUNDLED_CATALOG, Catalog, load_catalog


def catalog_path(app: Flask) -> Path:
    configured = app.config.get("CATALOG_PATH")
    if configured:
        return Path(configured)
    site = Path(app.instance_path) / "catalog.toml"
    return site if site.exists() else BUNDLED_CATALOG


def init_app(app: Flask) -> None:
    # a CatalogError propagates on purpose: the kiosk does not start with a broken checklist
    app.extensions["kiosk.catalog"] = load_catalog(catalog_path(app))


def get_catalog() -> Catalog:
    return current_app.extensions["kiosk.catalog"]
