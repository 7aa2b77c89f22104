"""The receipt (қолхат): a promise, shown only for a committed submission, in Kazakh and Russian.

One structure feeds the screen, the 80 mm print view and the ESC/POS printer, so the three never
disagree. Kazakh letters (ә, ғ, қ ...) are missing from the code pages of thermal printers, so the
ESC/POS output is the receipt drawn as a picture with a system font.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, format_datetime, get_locale
from flask_babel import gettext as _
from sqlalchemy import delete

from kiosk import consent, db, sessions, sms
from kiosk.catalog import Catalog, Category, Channel, ChecklistItem, Service, Source
from kiosk.catalog_ext import channel_place, get_catalog, source_labels
from kiosk.crypto import keyring
from kiosk.forms import ConfirmForm
from kiosk.iin import mask
from kiosk.models import Attachment, State, Submission
from kiosk.references import display
from kiosk.submissions import Erased, by_reference, open_payload

bp = Blueprint("receipt", __name__, url_prefix="/<lang>/receipt")
log = logging.getLogger(__name__)
RECEIPT_LANGS = ("kk", "ru")  # state bodies' forms are in the state language and Russian
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


@dataclass
class ReceiptPart:
    lang: str
    title: str
    rows: list[tuple[str, str]]
    sections: list[tuple[str, str, list[str]]]  # (kind, heading, one line per document)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ReceiptChecklist:
    """What a parent must bring for one service, channel and family situation, sorted the way they act on it."""

    made_here: tuple[ChecklistItem, ...]  # the application: this kiosk made it
    originals: tuple[ChecklistItem, ...]  # shown in original for comparison and handed back
    copies: tuple[ChecklistItem, ...]  # copies handed in (some with the original shown beside)
    hand_in: tuple[ChecklistItem, ...]  # the rest: certificates, photos, conclusions handed in


def receipt_checklist(channel: Channel, category: Category | None) -> ReceiptChecklist:
    """Every document of the channel (with the category's, when its source lists one there), none left out."""
    items = channel.checklist(category)
    return ReceiptChecklist(
        made_here=tuple(i for i in items if i.document.made_here),
        originals=tuple(i for i in items if not i.document.made_here and i.original and not i.copy),
        copies=tuple(i for i in items if not i.document.made_here and i.copy),
        hand_in=tuple(i for i in items if not (i.document.made_here or i.copy or i.original)),
    )


def receipt_parts(submission: Submission, payload: dict[str, Any], catalog: Catalog) -> list[ReceiptPart]:
    service = catalog.service(submission.service_code)
    return [_part(lang, submission, payload, service) for lang in RECEIPT_LANGS]


def _part(lang: str, submission: Submission, payload: dict[str, Any], service: Service | None) -> ReceiptPart:
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
            (_("Child"), " ".join(x for x in (answers.get("child_name", ""), mask(answers["child_iin"])) if x)),
            (_("Status"), state_label(submission.state)),
        ]
        if category is not None:
            rows.append((_("Your family's situation"), category.name.get(lang)))
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
        notes = []
        if channel is not None and category is not None and channel.category_item(category) is None:
            notes.append(
                _("The sources list no document for your family's situation for this way of applying: ask the office.")
            )
        notes.append(_("Check the status with the QR code, or at this kiosk with the reference and your IIN."))
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


_STATE_LABELS: dict[str, dict[str, str]] = {}


def state_label(state: str) -> str:
    """The state in the reader's words; built once per language, since a queue page asks 50 times."""
    lang = str(get_locale())
    labels = _STATE_LABELS.get(lang)
    if labels is None:
        labels = _STATE_LABELS[lang] = {
            State.NEEDS_VERIFICATION: _("Waiting for the check of your ID card at the office"),
            State.QUEUED: _("Queued: waiting to be sent to the central system"),
            State.SENDING: _("Being sent to the central system"),
            State.RETRY_WAIT: _("Waiting to be sent again"),
            State.DELIVERED: _("Received by the central system"),
            State.IN_PROGRESS: _("Being considered"),
            State.APPROVED: _("Approved"),
            State.REFUSED: _("Refused"),
            State.NEEDS_STAFF: _("The school office is dealing with it"),
            State.CANCELLED: _("Cancelled"),
        }
    return labels.get(state, state)


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
    return segno.make(url, error="m").svg_inline(border=4, omitsize=True, dark="#000", light="#fff", svgclass="qr-code")


def escpos_bytes(parts: list[ReceiptPart], url: str) -> bytes:
    """The receipt for a USB thermal printer: a 512-dot-wide picture, then the QR code, then a cut."""
    from escpos.printer import Dummy
    from PIL import Image, ImageDraw, ImageFont

    # the printable dots of an 80 mm head at 180 dpi (python-escpos's TM-T88 profiles: 512); a 203 dpi
    # head has 576 and prints the same picture a little narrower, never cut off
    width = 512
    font = ImageFont.truetype(str(FONT), 22) if FONT.exists() else ImageFont.load_default()
    bold = ImageFont.truetype(str(FONT), 28) if FONT.exists() else font
    lines: list[tuple[str, Any]] = []
    for part in parts:
        lines.append((part.title, bold))
        for label, value in part.rows:
            lines += [(w, font) for w in _wrap(f"{label}: {value}", font, width)]
        for _kind, heading, docs in part.sections:
            lines.append((heading + ":", font))
            for doc in docs:
                lines += [(w, font) for w in _wrap(f"• {doc}", font, width)]
        for note in part.notes:
            lines += [(w, font) for w in _wrap(note, font, width)]
        lines.append(("", font))
    height = 34 * len(lines) + 10
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    y = 5
    for text, f in lines:
        draw.text((4, y), text, font=f, fill=0)
        y += 34
    printer = Dummy(profile="TM-T88V")
    printer.image(image)
    printer.qr(url, size=6, native=True)
    printer.cut()
    return printer.output


def _wrap(text: str, font: Any, width: int) -> list[str]:
    words, out, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if font.getlength(trial) <= width - 8 or not line:
            line = trial
        else:
            out.append(line)
            line = word
    return [*out, line] if line else out


def _own_receipt(reference: str) -> tuple[Submission, str] | None:
    """Only receipts made in this visit can be shown: the next visitor sees none of them."""
    entry = next((r for r in session.get("receipts", []) if r["reference"] == reference), None)
    if entry is None:
        return None
    submission = by_reference(db.get_session(), reference)
    return (submission, entry["token"]) if submission else None


def _context(reference: str) -> dict[str, Any] | None:
    found = _own_receipt(reference)
    if found is None:
        return None
    submission, token = found
    try:
        payload = open_payload(submission, keyring())
    except Erased:
        return None
    url = status_url(token, g.lang)
    return {
        "submission": submission,
        "parts": receipt_parts(submission, payload, get_catalog()),
        "status_url": url,
        "qr": qr_svg(url),
        "reference": display(submission.reference),
    }


@bp.get("/<reference>")
def show(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None:
        return redirect(url_for("visitor.services"))
    return render_template(
        "receipt/show.html",
        form=ConfirmForm(formdata=None),
        has_printer=bool(current_app.config.get("RECEIPT_PRINTER")),
        **context,
    )


@bp.get("/<reference>/print")
def print_view(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None:
        return redirect(url_for("visitor.services"))
    return render_template("receipt/print.html", **context)


@bp.post("/<reference>/escpos")
def print_escpos(reference: str) -> ResponseReturnValue:
    context = _context(reference)
    if context is None or not ConfirmForm().validate_on_submit():
        return redirect(url_for("visitor.services"))
    target = current_app.config.get("RECEIPT_PRINTER")
    if not target:  # the page shows no print button then: a stray request, not a printer fault
        flash(_("The printer does not answer. Please ask the school office to print your receipt."))
        return redirect(url_for("receipt.show", reference=reference))
    try:
        send_to_printer(target, escpos_bytes(context["parts"], context["status_url"]))
        flash(_("The receipt is being printed."))
    except Exception:  # a printer fault must not lose the receipt on screen
        log.exception("receipt printer failed")
        flash(_("The printer does not answer. Please ask the school office to print your receipt."))
    return redirect(url_for("receipt.show", reference=reference))


def send_to_printer(target: str | None, data: bytes) -> None:
    """RECEIPT_PRINTER = "usb:0x0416:0x5011" (vendor:product) or a device file like /dev/usb/lp0."""
    if not target:
        raise RuntimeError("no receipt printer configured")
    if target.startswith("usb:"):
        from escpos.printer import Usb

        _, vendor, product = target.split(":")
        printer = Usb(int(vendor, 16), int(product, 16))
        printer._raw(data)
        printer.close()
        return
    with open(target, "wb") as device:
        device.write(data)


@bp.post("/finish")
def finish() -> ResponseReturnValue:
    """Finish: the visit is wiped on the server, with its drafts and its demo phone."""
    if ConfirmForm().validate_on_submit():
        wipe_visit()
    return redirect(url_for("visitor.welcome"))


def wipe_visit() -> None:
    """End the visit: the session and the demo phone first, then the draft's photos (a write that a
    busy database may refuse; the visit is gone from the screen and the browser all the same)."""
    draft = session.get("draft")
    for key in ("identity", "pending"):
        if session.get(key):
            sms.forget_demo_messages(session[key]["iin"])
    sessions.current().destroy()
    g.visit_wiped = True
    if draft:
        s = db.get_session()
        s.execute(delete(Attachment).where(Attachment.visit_id == draft["id"]))
        s.commit()
