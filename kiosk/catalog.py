"""The service catalog: reviewed data in TOML, loaded once into frozen objects.

Services and their checklists change with policy, not per visitor, so they live in a data file
that is reviewed like code (``kiosk/catalog.toml``); a site may put its own copy in
``instance/catalog.toml``. A broken file stops the start with a message naming the service and
the field, because a kiosk that shows a wrong checklist is worse than one that does not start.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES = ("kk", "ru", "en")
CHANNEL_KINDS = ("school", "body", "body_gfc", "portal")
# the application fields the kiosk knows how to ask for (their labels and checks: kiosk/applications.py)
FORM_FIELDS = (
    "child_iin",
    "child_name",
    "grade",
    "language",
    "category",
    "settlement",
    "distance_km",
    "camp",
    "season",
    "school_from",
)
BUNDLED_CATALOG = Path(__file__).with_name("catalog.toml")


class CatalogError(ValueError):
    """The catalog file cannot be trusted; the message says where."""


@dataclass(frozen=True)
class Text:
    """One phrase in every visitor language."""

    kk: str
    ru: str
    en: str

    def get(self, lang: str) -> str:
        return getattr(self, lang)


@dataclass(frozen=True)
class Document:
    code: str
    name: Text
    note: Text | None  # when it is needed, e.g. only if missing from the civil registry


@dataclass(frozen=True)
class ChecklistItem:
    document: Document
    original: bool  # shown in original for comparison and handed back


@dataclass(frozen=True)
class Channel:
    kind: str
    documents: tuple[ChecklistItem, ...]
    result: Text
    time_limit: Text | None  # only where a source gives it


@dataclass(frozen=True)
class Category:
    code: str
    name: Text
    document: Document


@dataclass(frozen=True)
class Window:
    """A yearly application window, e.g. 1 April to 31 August, both days included."""

    start_month: int
    start_day: int
    end_month: int
    end_day: int


@dataclass(frozen=True)
class Group:
    code: str
    name: Text


@dataclass(frozen=True)
class Service:
    code: str
    group: Group
    name: Text
    purpose: Text
    info_system: str | None
    channels: tuple[Channel, ...]
    categories: tuple[Category, ...]
    window: Window | None
    takes_applications: bool
    where_to_apply: Text | None
    legal_basis: Text
    register_code: str | None
    form: tuple[str, ...] = ()
    child_age_by_year_end: int | None = None  # grade 1: six, or turning six this calendar year
    child_max_age: int | None = None  # grade 1: and seven-year-olds; the two hold for a grade 1 answer only

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)


@dataclass(frozen=True)
class Catalog:
    version: str
    groups: tuple[Group, ...]
    services: tuple[Service, ...]
    categories: tuple[Category, ...]
    documents: Mapping[str, Document]

    def service(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    def by_group(self) -> list[tuple[Group, list[Service]]]:
        """Groups in file order, each with its services, empty groups left out."""
        out = []
        for group in self.groups:
            members = [s for s in self.services if s.group is group]
            if members:
                out.append((group, members))
        return out


# --- window arithmetic -------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowState:
    """Where today falls in a service's window, for the visitor's screen."""

    is_open: bool
    opens_on: dt.date | None  # set when closed: the next opening day
    closes_on: dt.date | None  # set when open: the last day
    days_left: int | None  # set when open: days including today


def window_state(window: Window | None, today: dt.date) -> WindowState:
    if window is None:
        return WindowState(True, None, None, None)
    start = _day(today.year, window.start_month, window.start_day)
    end = _day(today.year, window.end_month, window.end_day)
    if start <= end:  # a window inside one calendar year
        if start <= today <= end:
            return WindowState(True, None, end, (end - today).days + 1)
        opens = start if today < start else _day(today.year + 1, window.start_month, window.start_day)
        return WindowState(False, opens, None, None)
    # a window across the new year, e.g. 1 December to 31 January
    if today >= start:
        end = _day(today.year + 1, window.end_month, window.end_day)
        return WindowState(True, None, end, (end - today).days + 1)
    if today <= end:
        return WindowState(True, None, end, (end - today).days + 1)
    return WindowState(False, start, None, None)


def _day(year: int, month: int, day: int) -> dt.date:
    # 29 February in a common year falls back to the 28th rather than crashing the kiosk
    try:
        return dt.date(year, month, day)
    except ValueError:
        return dt.date(year, month, 28)


# --- loading and validation --------------------------------------------------------------------


def load_catalog(path: Path | str = BUNDLED_CATALOG) -> Catalog:
    """Read and validate a catalog file; raise CatalogError naming the place of any fault."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"{path.name}: file not found") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path.name}: not valid TOML: {exc}") from exc
    try:
        return _build(raw)
    except CatalogError as exc:
        raise CatalogError(f"{path.name}: {exc}") from None


def _build(raw: dict[str, Any]) -> Catalog:
    version = _str(raw, "version", "catalog")
    documents = {
        code: Document(code, _text(d, "name", f"documents.{code}"), _opt_text(d, "note", f"documents.{code}"))
        for code, d in _table(raw, "documents", "catalog").items()
    }
    groups = {}
    for i, g in enumerate(_list(raw, "groups", "catalog")):
        where = f"groups[{i}]"
        code = _str(g, "code", where)
        if code in groups:
            raise CatalogError(f"group {code!r}: duplicate code")
        groups[code] = Group(code, _text(g, "name", f"group {code!r}"))
    categories = {}
    for code, c in _table(raw, "categories", "catalog").items():
        where = f"category {code!r}"
        categories[code] = Category(code, _text(c, "name", where), _doc_ref(c, "document", where, documents))

    services: dict[str, Service] = {}
    for i, s in enumerate(_list(raw, "services", "catalog")):
        code = _str(s, "code", f"services[{i}]")
        where = f"service {code!r}"
        if code in services:
            raise CatalogError(f"{where}: duplicate code")
        group_code = _str(s, "group", where)
        if group_code not in groups:
            raise CatalogError(f"{where}: field 'group': unknown group {group_code!r}")
        takes = s.get("takes_applications", False)
        if not isinstance(takes, bool):
            raise CatalogError(f"{where}: field 'takes_applications': must be true or false")
        channels = tuple(
            _channel(c, f"{where} channels[{j}]", documents) for j, c in enumerate(_list(s, "channels", where))
        )
        if not channels:
            raise CatalogError(f"{where}: field 'channels': at least one channel is needed")
        cats = []
        for cat in _list(s, "categories", where, of=str):
            if cat not in categories:
                raise CatalogError(f"{where}: field 'categories': unknown category {cat!r}")
            cats.append(categories[cat])
        where_to_apply = _opt_text(s, "where_to_apply", where)
        if not takes and where_to_apply is None:
            raise CatalogError(f"{where}: field 'where_to_apply': needed when the kiosk takes no applications")
        info_system = s.get("info_system")
        if info_system is not None and not (isinstance(info_system, str) and info_system.strip()):
            raise CatalogError(f"{where}: field 'info_system': must be a non-empty string")
        register_code = s.get("register_code")
        if register_code is not None and not (
            isinstance(register_code, str) and register_code.isdigit() and len(register_code) == 8
        ):
            raise CatalogError(f"{where}: field 'register_code': must be 8 digits")
        form = tuple(_list(s, "form", where, of=str))
        unknown = [f for f in form if f not in FORM_FIELDS]
        if unknown:
            raise CatalogError(f"{where}: field 'form': unknown field {unknown[0]!r}")
        if takes and "child_iin" not in form:
            raise CatalogError(f"{where}: field 'form': a service taking applications needs 'child_iin'")
        if "category" in form and not cats:
            raise CatalogError(f"{where}: field 'form': 'category' needs the service's categories")
        min_age = s.get("child_age_by_year_end")
        max_age = s.get("child_max_age")
        for key, age in (("child_age_by_year_end", min_age), ("child_max_age", max_age)):
            if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 18):
                raise CatalogError(f"{where}: field '{key}': must be a whole number of years")
        if min_age is not None and max_age is not None and max_age < min_age:
            raise CatalogError(f"{where}: field 'child_max_age': must not be below 'child_age_by_year_end'")
        services[code] = Service(
            code=code,
            group=groups[group_code],
            name=_text(s, "name", where),
            purpose=_text(s, "purpose", where),
            info_system=info_system,
            channels=channels,
            categories=tuple(cats),
            window=_window(s.get("window"), where),
            takes_applications=takes,
            where_to_apply=where_to_apply,
            legal_basis=_text(s, "legal_basis", where),
            register_code=register_code,
            form=form,
            child_age_by_year_end=min_age,
            child_max_age=max_age,
        )
    return Catalog(version, tuple(groups.values()), tuple(services.values()), tuple(categories.values()), documents)


def _channel(raw: Any, where: str, documents: dict[str, Document]) -> Channel:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table")
    kind = _str(raw, "kind", where)
    if kind not in CHANNEL_KINDS:
        raise CatalogError(f"{where}: field 'kind': {kind!r} is not one of {', '.join(CHANNEL_KINDS)}")
    items = []
    for k, item in enumerate(_list(raw, "documents", where)):
        iw = f"{where} documents[{k}]"
        original = item.get("original", False)
        if not isinstance(original, bool):
            raise CatalogError(f"{iw}: field 'original': must be true or false")
        items.append(ChecklistItem(_doc_ref(item, "doc", iw, documents), original))
    return Channel(kind, tuple(items), _text(raw, "result", where), _opt_text(raw, "time_limit", where))


def _window(raw: Any, where: str) -> Window | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: field 'window': must be a table with start and end")
    parts = []
    for key in ("start", "end"):
        value = raw.get(key)
        try:
            month, day = (int(x) for x in str(value).split("-"))
            dt.date(2024, month, day)  # a leap year, so 02-29 is allowed
        except (TypeError, ValueError):
            raise CatalogError(f"{where}: field 'window.{key}': {value!r} is not a MM-DD day") from None
        parts += [month, day]
    return Window(*parts)


def _doc_ref(raw: Any, key: str, where: str, documents: dict[str, Document]) -> Document:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table")
    code = _str(raw, key, where)
    if code not in documents:
        raise CatalogError(f"{where}: field {key!r}: unknown document {code!r}")
    return documents[code]


def _text(raw: dict[str, Any], key: str, where: str) -> Text:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: field {key!r}: missing (needs kk, ru and en)")
    for lang in LANGUAGES:
        if not isinstance(value.get(lang), str) or not value[lang].strip():
            raise CatalogError(f"{where}: field '{key}.{lang}': missing or empty")
    return Text(*(value[lang].strip() for lang in LANGUAGES))


def _opt_text(raw: dict[str, Any], key: str, where: str) -> Text | None:
    return None if raw.get(key) is None else _text(raw, key, where)


def _str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: field {key!r}: missing or empty")
    if value != value.strip():
        raise CatalogError(f"{where}: field {key!r}: {value!r} has spaces around it")
    return value


def _list(raw: dict[str, Any], key: str, where: str, of: type = dict) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise CatalogError(f"{where}: field {key!r}: must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, of):
            kind = "a table" if of is dict else "a string"
            raise CatalogError(f"{where}: field {key!r}: entry {i} must be {kind}")
    return value


def _table(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise CatalogError(f"{where}: field {key!r}: must be a table of tables")
    return value
