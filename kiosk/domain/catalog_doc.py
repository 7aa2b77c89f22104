"""The catalog as a page a school can review: each service, its sources, what is confirmed and what is not.

docs/services.md is this page, written by ``kiosk catalog-doc``; tests/test_catalog_doc.py fails when the
file and the catalog disagree, so the page cannot go stale.
"""

from __future__ import annotations

from kiosk.domain.catalog import Catalog, Channel, ChecklistItem, Service, Source

KIND_LABELS = {
    "school": "the school office",
    "body": "the education department (state body)",
    "body_gfc": "the education department or a Government for Citizens centre",
    "gfc": "a Government for Citizens centre",
    "portal": "online on egov.kz",
}

PREFACE = """# The services and their sources

Written by `kiosk catalog-doc` from `kiosk/domain/catalog.toml`; do not edit by hand (tests/test_catalog_doc.py
compares the two). For each service: its names, where the kiosk sends the parent, every document, result and
time limit with the key of its source (the sources are listed at the end, with their addresses), and what is
**still to be confirmed at the office**. Where no public source was found for a list of documents, the kiosk
shows no list: it says the list is to be confirmed at the office. The seeds are the two source texts of the
project (`shared/seeds/`); the Kazakh names are theirs, but where a service's note says otherwise.

A school reviewing this page: check each list against what your office asks for, and send corrections with
their source (a service standard on adilet.zan.kz, a page of egov.kz, an order of the akimat).

Changes from the seeds' Kazakh text, each also declared beside it in the catalog:

- rehab: the seed cuts the name off ("Оңалту және әлеуметтік бейімдеу, балалар мен жасөспірімдерді"); the
  catalog gives the full name of order No. 223, annex 2 [R223].
- two typos of seed 000 are fixed where the catalog quotes it: "түрлерлерінен" -> "түрлерінен" (income
  documents) and "коса" -> "қоса" (the medical advisory commission's conclusion);
- the seed's Latin "i" inside Kazakh words (үшiн, фотосуретi) is the Kazakh letter "і".
"""


def render_markdown(catalog: Catalog) -> str:
    """The review page for ``catalog``, in English (the Kazakh and Russian wording is in the catalog itself)."""
    out = [PREFACE, f"Catalog version: `{catalog.version}`.", ""]
    out += ["## Summary", "", "| service | applied for here | lists of documents | time limits |", "|---|---|---|---|"]
    for service in catalog.services:
        lists = [_list_state(c) for c in service.channels]
        limits = ", ".join(f"{c.kind}: {c.time_limit.en}" for c in service.channels if c.time_limit) or "none"
        here = f"yes ({service.kiosk_channel.kind})" if service.kiosk_channel else "no"
        out.append(f"| [{service.code}](#{service.code}) | {here} | {'; '.join(lists)} | {limits} |")
    out.append("")
    for service in catalog.services:
        out += _service(service)
    out += ["## Sources", "", "| key | label on screen (en) | address |", "|---|---|---|"]
    for source in catalog.sources.values():
        out.append(f"| {source.key} | {source.label.en} | {source.url or 'a seed text (shared/seeds/), not online'} |")
    return "\n".join(out).rstrip() + "\n"


def _list_state(channel: Channel) -> str:
    if channel.unconfirmed:
        return f"{channel.kind}: to be confirmed"
    return f"{channel.kind}: {'partial' if channel.partial else 'confirmed'}"


def _keys(sources: tuple[Source, ...]) -> str:
    return ", ".join(s.key for s in sources)


def _service(service: Service) -> list[str]:
    out = [f'<a id="{service.code}"></a>', f"## {service.code}: {service.name.en}", ""]
    out += [f"- kk: {service.name.kk}", f"- ru: {service.name.ru}"]
    if service.portal_title:
        title = f"{service.portal_title.en} / {service.portal_title.kk}"
        out.append(f"- on egov.kz: {title} [{_keys(service.portal_title_sources)}]")
    out.append(f"- legal basis: {service.legal_basis.en} [{_keys(service.legal_basis_sources)}]")
    if service.info_system:
        out.append(f"- information system: {service.info_system}")
    if service.kiosk_channel:
        out.append(f"- applied for at this kiosk; the application goes on at {_place(service.kiosk_channel)}")
    else:
        out.append(f"- not applied for at this kiosk: {service.where_to_apply.en if service.where_to_apply else ''}")
    if service.categories:
        out.append(f"- family situations: {', '.join(c.code for c in service.categories)}")
    out.append("")
    for channel in service.channels:
        out += _channel(channel)
    out.append("**Still to be confirmed at the office:**")
    out.append("")
    pending = list(service.to_confirm)
    pending += [f"the list of documents at {_place(c)}" for c in service.channels if c.unconfirmed]
    pending += [
        f"the rest of the list at {_place(c)} (the source's list goes on)" for c in service.channels if c.partial
    ]
    out += [f"- {item}" for item in pending] or ["- nothing known"]
    out.append("")
    return out


def _place(channel: Channel) -> str:
    return channel.place.en.lower() if channel.place else KIND_LABELS[channel.kind]


def _channel(channel: Channel) -> list[str]:
    out = [f"### {_place(channel)} [{_keys(channel.sources)}]", ""]
    if channel.differs:
        out.append(f"- another source differs: {channel.differs.en} [{_keys(channel.differs_sources)}]")
    if channel.unconfirmed:
        out.append("- documents: **no public source found: the screen says to confirm the list at the office**")
    for item in channel.documents:
        out.append(f"- {_item(item)}")
    if channel.categories:
        codes = ", ".join(c.code for c in channel.categories)
        how = "copy" if channel.category_copy else "document"
        how += ", original shown" if channel.category_original else ""
        keys = _keys(channel.category_sources)
        out.append(f"- plus the status document of the family's situation ({how}) for: {codes} [{keys}]")
    if channel.partial:
        out.append("- (the source's list goes on: only these documents are recorded)")
    if channel.result:
        out.append(f"- result: {channel.result.en} [{_keys(channel.result_sources)}]")
    if channel.time_limit:
        out.append(f"- time limit: {channel.time_limit.en} [{_keys(channel.time_limit_sources)}]")
    out.append("")
    return out


def _item(item: ChecklistItem) -> str:
    flags = [f for f, on in (("original shown and handed back", item.original), ("copy handed in", item.copy)) if on]
    text = item.document.name.en
    if item.document.condition:
        text += f" ({item.document.condition.en.rstrip('.')})"
    if flags:
        text += f" ({', '.join(flags)})"
    return f"{text} [{_keys(item.sources)}]"
