"""A receipt's content in each of its languages, from the submission, its payload and the catalog:
the screen, the print view, the printer and the staff reprint all read it here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from flask import (
    current_app,
    request,
    url_for,
)
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _

from kiosk.domain.catalog import Catalog, ChecklistItem, Service, Source
from kiosk.domain.iin import mask
from kiosk.domain.receipts import ReceiptChecklist, ReceiptPart, receipt_checklist
from kiosk.domain.references import display
from kiosk.infra.catalog_ext import channel_place, source_labels
from kiosk.infra.i18n import megabytes
from kiosk.models import State, Submission
from kiosk.web import application_forms, consent
from kiosk.web.labels import attachment_label, receipt_signature_label, state_label

RECEIPT_LANGS = ("kk", "ru")  # state bodies' forms are in the state language and Russian


class Attached(Protocol):
    """An attached file as the receipt names it (kiosk.models.Attachment)."""

    kind: str
    size: int


def receipt_parts(
    submission: Submission,
    payload: dict[str, Any],
    catalog: Catalog,
    attachments: Sequence[Attached],
    *,
    first: str,
    qr: bool = True,
) -> list[ReceiptPart]:
    """The receipt in each of RECEIPT_LANGS: what was handed in (answers, attached files) and what to bring.

    ``first``: the reader's language, whose part comes first when it is one of RECEIPT_LANGS.
    ``qr``: whether the receipt carries the status QR code (the staff's reprint does not: its token
    was the parent's alone), so the note points only at a way the paper in hand offers.
    """
    service = catalog.service(submission.service_code)
    return [_part(lang, submission, payload, service, attachments, qr) for lang in receipt_langs(first)]


def receipt_langs(first: str) -> tuple[str, ...]:
    """RECEIPT_LANGS with the reader's language first; a reader of neither (English) keeps their order."""
    return (first, *(lang for lang in RECEIPT_LANGS if lang != first)) if first in RECEIPT_LANGS else RECEIPT_LANGS


def _answer_rows(service: Service | None, answers: dict[str, str], lang: str) -> list[tuple[str, str]]:
    """The form's answers under the form's labels, as the check page shows them, the child's IIN masked."""
    rows = application_forms.answer_rows(service, answers, lang)
    return [(label, mask(value) if name == "child_iin" else value) for name, label, value in rows]


def _part(
    lang: str,
    submission: Submission,
    payload: dict[str, Any],
    service: Service | None,
    attachments: Sequence[Attached],
    qr: bool,
) -> ReceiptPart:
    with force_locale(lang):
        channel = service.kiosk_channel if service else None
        answers = payload["answers"]
        category = service.category(answers.get("category", "")) if service else None
        rows = [
            (_("Reference"), display(submission.reference)),
            (_("Service"), service.name.get(lang) if service else submission.service_code),
            (_("Submitted"), format_datetime(submission.created_at, "dd.MM.yyyy HH:mm")),
            (
                _("Applicant"),
                " ".join(x for x in (payload["applicant"].get("name") or "", mask(payload["applicant"]["iin"])) if x),
            ),
            *_answer_rows(service, answers, lang),
            (_("Photos of documents"), str(len(attachments))),  # as the check page counts them
            (_("Signed"), receipt_signature_label(submission.signature_method)),
            (_("Status"), state_label(submission.state)),
        ]
        agreed = payload.get("consent")
        if agreed:
            when = format_datetime(dt.datetime.fromisoformat(agreed["at"]), "dd.MM.yyyy HH:mm")
            rows.append((_("Consent to the processing of personal data"), consent.summary(agreed, when, lang)))
        sections: list[tuple[str, str, list[str]]] = []
        if channel is not None:
            rows.append((_("Where to bring the documents"), channel_place(channel, lang)))
            # a result or a time limit is a promise: it is printed with its source, as on the service page
            if channel.result is not None:
                rows.append((_("Result"), _sourced(channel.result.get(lang), channel.result_sources, lang)))
            if channel.time_limit is not None:
                rows.append((_("Time limit"), _sourced(channel.time_limit.get(lang), channel.time_limit_sources, lang)))
            sections = checklist_sections(receipt_checklist(channel, category), lang)
        if submission.state == State.NEEDS_VERIFICATION:
            id_line = _("Your ID card: the office must see it before the application is sent")
            originals = next((s for s in sections if s[0] == "originals"), None)
            if originals is None:
                sections.insert(0, ("originals", _("Original: shown for comparison and handed back"), [id_line]))
            else:
                originals[2].insert(0, id_line)
        if attachments:  # each file as the staff page names it: what the parent handed in as photos
            lines = [f"{attachment_label(a.kind, n)} · {megabytes(a.size)}" for n, a in enumerate(attachments, 1)]
            sections.insert(0, ("attached", _("Attached to the application"), lines))
        notes = []
        if channel is not None and category is not None and channel.category_item(category) is None:
            notes.append(
                _("The sources list no document for your family's situation for this way of applying: ask the office.")
            )
        if qr:
            notes.append(_("Check the status with the QR code, or at this kiosk with the reference and your IIN."))
        else:
            notes.append(_("Check the status at this kiosk with the reference and your IIN."))
        return ReceiptPart(lang, _("Application received"), rows, sections, notes)


def _sourced(text: str, sources: tuple[Source, ...], lang: str) -> str:
    return f"{text} ({source_labels(sources, lang)})" if sources else text


def checklist_sections(checklist: ReceiptChecklist, lang: str) -> list[tuple[str, str, list[str]]]:
    """The receipt's headed lists in the current locale; a list with nothing in it is left out."""
    sections = [
        ("made_here", _("Made at this kiosk"), checklist.made_here),
        ("originals", _("Original: shown for comparison and handed back"), checklist.originals),
        ("copies", _("Copies to hand in"), checklist.copies),
        ("hand_in", _("Documents to hand in"), checklist.hand_in),
    ]
    return [(kind, title, [document_line(i, lang) for i in items]) for kind, title, items in sections if items]


def document_line(item: ChecklistItem, lang: str) -> str:
    """A document as the receipt prints it: its name, the condition it is needed under, the original beside."""
    parts = [item.document.name.get(lang)]
    if item.document.condition is not None:
        parts.append(item.document.condition.get(lang))
    if item.copy and item.original:
        parts.append(_("Bring the original too: it is shown for comparison and handed back"))
    return ". ".join(p.rstrip(".") for p in parts)


def status_url(token: str, lang: str) -> str:
    """The status page the QR code opens, in the language of the visit that printed the receipt."""
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return base.rstrip("/") + url_for("status.by_token", token=token, lang=lang)


def qr_svg(url: str) -> str:
    """The QR code as an SVG that scales to whatever box the page gives it.

    A viewBox and no width or height, so CSS sizes the whole symbol instead of cropping it, and
    the quiet zone of 4 modules that ISO/IEC 18004 asks for, drawn white, so a reader finds the
    code on any background (the high-contrast mode's black too).
    """
    import segno  # here, not at import: only a receipt draws one

    return segno.make(url, error="m").svg_inline(border=4, omitsize=True, dark="#000", light="#fff", svgclass="qr-code")
