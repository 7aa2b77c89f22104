"""The service catalog: reviewed data in TOML, loaded once into frozen objects.

Services and their checklists change with policy, not per visitor, so they live in a data file
that is reviewed like code (``kiosk/domain/catalog.toml``); a site may put its own copy in
``instance/catalog.toml``. A broken file stops the start with a message naming the service and
the field, because a kiosk that shows a wrong checklist is worse than one that does not start.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LANGUAGES = ("kk", "ru", "en")
CHANNEL_KINDS = ("school", "body", "body_gfc", "gfc", "portal")
# the application fields the kiosk knows how to ask for (their labels and checks: kiosk/domain/applications.py)
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
class Source:
    """Where a fact on screen comes from: a key of ``[sources]``, a short label and the address."""

    key: str
    label: Text
    url: str | None


@dataclass(frozen=True)
class Document:
    code: str
    name: Text
    note: Text | None  # what it is for, e.g. "to identify the person"
    condition: Text | None = None  # needed only then, e.g. only if missing from the civil registry
    made_here: bool = False  # the application itself: the kiosk (or the portal) makes it


@dataclass(frozen=True)
class ChecklistItem:
    document: Document
    original: bool  # shown in original for comparison and handed back
    copy: bool = False  # a copy is handed in
    sources: tuple[Source, ...] = ()  # never empty in a loaded catalog


@dataclass(frozen=True)
class Category:
    code: str
    name: Text
    document: Document


@dataclass(frozen=True)
class Channel:
    """One way to apply: its place, the documents it asks for, its result and time limit, each with sources."""

    kind: str
    documents: tuple[ChecklistItem, ...]
    result: Text | None  # only where a source gives it
    time_limit: Text | None  # only where a source gives it
    place: Text | None = None  # where exactly, when the kind's own label would not say it right
    sources: tuple[Source, ...] = ()  # that this channel exists
    result_sources: tuple[Source, ...] = ()
    time_limit_sources: tuple[Source, ...] = ()
    unconfirmed: bool = False  # no public source lists its documents: the list is to be confirmed at the office
    partial: bool = False  # the source's list goes on beyond the documents recorded here
    categories: tuple[Category, ...] = ()  # the family situations this channel's source lists
    category_original: bool = False  # the status document is shown in original too
    category_copy: bool = False  # a copy of the status document is handed in
    category_sources: tuple[Source, ...] = ()
    differs: Text | None = None  # what another source says about this channel, where they disagree
    differs_sources: tuple[Source, ...] = ()

    def category_item(self, category: Category | None) -> ChecklistItem | None:
        """The status document this channel asks of a family in ``category``, if its source lists one."""
        if category is None or category not in self.categories:
            return None
        return ChecklistItem(category.document, self.category_original, self.category_copy, self.category_sources)

    def checklist(self, category: Category | None = None) -> tuple[ChecklistItem, ...]:
        """Every document of this channel for a family in ``category`` (None: the common ones)."""
        extra = self.category_item(category)
        return self.documents if extra is None else (*self.documents, extra)

    def all_sources(self) -> tuple[Source, ...]:
        """Every source this channel cites, each once, in the order met."""
        seen: dict[str, Source] = {}
        groups = [self.sources, *(i.sources for i in self.documents), self.category_sources]
        groups += [self.result_sources, self.time_limit_sources, self.differs_sources]
        for group in groups:
            for source in group:
                seen.setdefault(source.key, source)
        return tuple(seen.values())


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
    kiosk_channel: Channel | None = None  # where an application made here goes on (its office)
    legal_basis_sources: tuple[Source, ...] = ()
    portal_title: Text | None = None  # the title of the service's page on egov.kz, where it differs
    portal_title_sources: tuple[Source, ...] = ()
    to_confirm: tuple[str, ...] = ()  # for the reviewers (docs/services.md), never on screen
    child_max_age: int | None = None  # grade 1: and seven-year-olds; the two hold for a grade 1 answer only

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def categories_elsewhere(self) -> list[tuple[Category, tuple[Channel, ...]]]:
        """Situations the sources list on another channel only, with the channels that take them.

        The form offers only what the kiosk's office lists; a parent who chose another situation on
        the service page must read where it is applied for, not find it silently gone.
        """
        here = set(self.kiosk_categories)
        return [(c, tuple(ch for ch in self.channels if c in ch.categories)) for c in self.categories if c not in here]

    @property
    def kiosk_categories(self) -> tuple[Category, ...]:
        """The family situations an application made here can claim: those its office lists."""
        return self.kiosk_channel.categories if self.kiosk_channel is not None else ()


@dataclass(frozen=True)
class Catalog:
    version: str
    groups: tuple[Group, ...]
    services: tuple[Service, ...]
    categories: tuple[Category, ...]
    documents: Mapping[str, Document]
    sources: Mapping[str, Source] = dataclasses.field(default_factory=dict)

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
    sources = {}
    for key, src in _table(raw, "sources", "catalog").items():
        where = f"sources.{key}"
        url = src.get("url")
        if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            raise CatalogError(f"{where}: field 'url': must be an http(s) address")
        sources[key] = Source(key, _text(src, "label", where), url)
    documents = {}
    for code, d in _table(raw, "documents", "catalog").items():
        where = f"documents.{code}"
        made_here = d.get("made_here", False)
        if not isinstance(made_here, bool):
            raise CatalogError(f"{where}: field 'made_here': must be true or false")
        documents[code] = Document(
            code,
            _text(d, "name", where),
            _opt_text(d, "note", where),
            _opt_text(d, "condition", where),
            made_here,
        )
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
        cats = []
        for cat in _list(s, "categories", where, of=str):
            if cat not in categories:
                raise CatalogError(f"{where}: field 'categories': unknown category {cat!r}")
            cats.append(categories[cat])
        channels = tuple(
            _channel(c, f"{where} channels[{j}]", documents, sources, tuple(cats))
            for j, c in enumerate(_list(s, "channels", where))
        )
        if not channels:
            raise CatalogError(f"{where}: field 'channels': at least one channel is needed")
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
        kiosk_channel = _kiosk_channel(s, where, channels, takes)
        if "category" in form and not (kiosk_channel and kiosk_channel.categories):
            raise CatalogError(f"{where}: field 'form': 'category' needs categories on the kiosk's channel")
        min_age = s.get("child_age_by_year_end")
        max_age = s.get("child_max_age")
        for key, age in (("child_age_by_year_end", min_age), ("child_max_age", max_age)):
            if age is not None and (not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= 18):
                raise CatalogError(f"{where}: field '{key}': must be a whole number of years")
        if min_age is not None and max_age is not None and max_age < min_age:
            raise CatalogError(f"{where}: field 'child_max_age': must not be below 'child_age_by_year_end'")
        portal_title = _opt_text(s, "portal_title", where)
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
            kiosk_channel=kiosk_channel,
            legal_basis_sources=_sources(s, "legal_basis_source", where, sources),
            portal_title=portal_title,
            portal_title_sources=_sources(s, "portal_title_source", where, sources, needed=portal_title is not None),
            to_confirm=tuple(_list(s, "to_confirm", where, of=str)),
            child_max_age=max_age,
        )
    return Catalog(
        version, tuple(groups.values()), tuple(services.values()), tuple(categories.values()), documents, sources
    )


def _kiosk_channel(raw: dict[str, Any], where: str, channels: tuple[Channel, ...], takes: bool) -> Channel | None:
    """The office where an application made at this kiosk goes on: the receipt lists what to bring there."""
    kind = raw.get("kiosk_channel")
    if kind is None:
        if takes:
            raise CatalogError(f"{where}: field 'kiosk_channel': needed when the kiosk takes applications")
        return None
    matching = [c for c in channels if c.kind == kind]
    if not isinstance(kind, str) or len(matching) != 1:
        raise CatalogError(f"{where}: field 'kiosk_channel': {kind!r} must name exactly one of its channels")
    channel = matching[0]
    if channel.kind == "portal" or channel.unconfirmed or channel.result is None:
        raise CatalogError(f"{where}: field 'kiosk_channel': must be an office with confirmed documents and a result")
    return channel


def _channel(
    raw: Any,
    where: str,
    documents: dict[str, Document],
    sources: dict[str, Source],
    service_categories: tuple[Category, ...],
) -> Channel:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be a table")
    kind = _str(raw, "kind", where)
    if kind not in CHANNEL_KINDS:
        raise CatalogError(f"{where}: field 'kind': {kind!r} is not one of {', '.join(CHANNEL_KINDS)}")
    flags = {}
    for flag in ("unconfirmed", "partial", "category_original", "category_copy"):
        flags[flag] = raw.get(flag, False)
        if not isinstance(flags[flag], bool):
            raise CatalogError(f"{where}: field {flag!r}: must be true or false")
    items = []
    for k, item in enumerate(_list(raw, "documents", where)):
        iw = f"{where} documents[{k}]"
        original = item.get("original", False)
        if not isinstance(original, bool):
            raise CatalogError(f"{iw}: field 'original': must be true or false")
        copy = item.get("copy", False)
        if not isinstance(copy, bool):
            raise CatalogError(f"{iw}: field 'copy': must be true or false")
        document = _doc_ref(item, "doc", iw, documents)
        items.append(ChecklistItem(document, original, copy, _sources(item, "source", iw, sources)))
    if flags["unconfirmed"] and items:
        raise CatalogError(f"{where}: field 'documents': an unconfirmed list must be empty")
    if not flags["unconfirmed"] and not items:
        raise CatalogError(f"{where}: field 'documents': empty; mark the channel unconfirmed = true instead")
    if "categories" in raw:
        cats = []
        for cat in _list(raw, "categories", where, of=str):
            found = next((c for c in service_categories if c.code == cat), None)
            if found is None:
                raise CatalogError(f"{where}: field 'categories': {cat!r} is not one of the service's categories")
            cats.append(found)
        categories = tuple(cats)
    else:
        categories = service_categories
    result = _opt_text(raw, "result", where)
    time_limit = _opt_text(raw, "time_limit", where)
    differs = _opt_text(raw, "differs", where)
    return Channel(
        kind=kind,
        documents=tuple(items),
        result=result,
        time_limit=time_limit,
        place=_opt_text(raw, "place", where),
        sources=_sources(raw, "source", where, sources),
        result_sources=_sources(raw, "result_source", where, sources, needed=result is not None),
        time_limit_sources=_sources(raw, "time_limit_source", where, sources, needed=time_limit is not None),
        unconfirmed=flags["unconfirmed"],
        partial=flags["partial"],
        categories=categories,
        category_original=flags["category_original"],
        category_copy=flags["category_copy"],
        category_sources=_sources(raw, "category_source", where, sources, needed=bool(categories)),
        differs=differs,
        differs_sources=_sources(raw, "differs_source", where, sources, needed=differs is not None),
    )


def _sources(
    raw: dict[str, Any], key: str, where: str, sources: dict[str, Source], needed: bool = True
) -> tuple[Source, ...]:
    """A fact's source keys (one key or a list): every document and time limit on screen must have one."""
    value = raw.get(key)
    if value is None:
        if needed:
            raise CatalogError(f"{where}: field {key!r}: missing (every fact needs the key of its source)")
        return ()
    if not needed:
        raise CatalogError(f"{where}: field {key!r}: cites a source for nothing")
    keys = [value] if isinstance(value, str) else value
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise CatalogError(f"{where}: field {key!r}: must be a source key or a list of them")
    unknown = [k for k in keys if k not in sources]
    if unknown:
        raise CatalogError(f"{where}: field {key!r}: unknown source {unknown[0]!r}")
    return tuple(sources[k] for k in keys)


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
