"""The receipt lists what the parent must bring, all of it, for every service, channel and family situation.

Table-driven over the whole catalog: for each service that takes applications here, each office channel and
each family situation its source lists (and none), the receipt holds exactly the catalog's documents, the
originals apart from the copies, each conditional document with its condition, under the office it goes to.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import SimpleNamespace

import pytest

from fixtures import documents
from fixtures.flows import MEALS_CAMP, attach, child_iin, fill_form, identify, meals, sign, soup
from fixtures.staff import sign_in_staff
from kiosk.domain.catalog import load_catalog
from kiosk.domain.iin import mask
from kiosk.domain.receipts import receipt_checklist
from kiosk.models import State
from kiosk.web.receipts import RECEIPT_LANGS, receipt_parts

CATALOG = load_catalog()
PARENT_IIN = "880412412349"
CHILD_IIN = "160909600111"


def _cases():
    """(service, channel, category) for every office channel of the catalog and every category it lists."""
    for service in CATALOG.services:
        for channel in service.channels:
            if channel.kind == "portal" or channel.unconfirmed:
                continue  # no receipt is made there: an application made here goes on at an office
            for category in (None, *channel.categories):
                yield pytest.param(
                    service,
                    channel,
                    category,
                    id=f"{service.code}-{channel.kind}-{category.code if category else 'none'}",
                )


@pytest.mark.parametrize(("service", "channel", "category"), list(_cases()))
def test_the_checklist_holds_exactly_the_catalogs_documents(service, channel, category) -> None:
    checklist = receipt_checklist(channel, category)
    shown = [*checklist.made_here, *checklist.originals, *checklist.copies, *checklist.hand_in]
    expected = list(channel.documents)
    if category is not None:
        expected.append(channel.category_item(category))
        assert category.document in [i.document for i in shown]
    assert Counter(i.document.code for i in shown) == Counter(i.document.code for i in expected)
    assert all(i.document.made_here for i in checklist.made_here)
    assert all(i.original and not i.copy for i in checklist.originals)  # originals and copies apart
    assert all(i.copy for i in checklist.copies)
    assert not any(i.original or i.copy or i.document.made_here for i in checklist.hand_in)


def _submission(service_code: str, state: str = State.QUEUED) -> SimpleNamespace:
    return SimpleNamespace(
        reference="7KPQ4X9MZ",
        service_code=service_code,
        created_at=dt.datetime(2026, 5, 4, 7, 30, tzinfo=dt.UTC),
        state=state,
        signature_method="sms" if state != State.NEEDS_VERIFICATION else "staff",
    )


def _payload(category: str | None) -> dict:
    answers = {"child_iin": CHILD_IIN, "child_name": "Иванова Мария"}
    if category:
        answers["category"] = category
    return {"applicant": {"iin": PARENT_IIN, "name": ""}, "answers": answers}


def _kiosk_cases():
    for service in CATALOG.services:
        if not service.takes_applications:
            continue
        for category in (None, *service.kiosk_categories):
            yield pytest.param(service, category, id=f"{service.code}-{category.code if category else 'none'}")


@pytest.mark.parametrize(("service", "category"), list(_kiosk_cases()))
def test_the_printed_receipt_lists_every_document_of_the_kiosks_office(app, service, category) -> None:
    """What the parent reads: each document under its heading, with its condition, in Kazakh and Russian."""
    channel = service.kiosk_channel
    with app.test_request_context():
        parts = receipt_parts(_submission(service.code), _payload(category and category.code), CATALOG, [], first="kk")
    assert [p.lang for p in parts] == list(RECEIPT_LANGS)
    for part in parts:
        lang = part.lang
        rows = dict(part.rows)
        place = channel.place.get(lang) if channel.place else None
        assert place is None or place in rows.values()
        # a result and a time limit are promises: each printed with its source, as on the service page
        for fact, sources in (
            (channel.result, channel.result_sources),
            (channel.time_limit, channel.time_limit_sources),
        ):
            if fact is None:
                continue
            assert sources, f"{service.code}: a fact with no source"
            printed = [v for v in rows.values() if v.startswith(fact.get(lang))]
            assert printed and all(s.label.get(lang) in printed[0] for s in sources), (lang, printed)
        lines = {kind: docs for kind, _heading, docs in part.sections}
        checklist = receipt_checklist(channel, category)
        for kind, items in (
            ("made_here", checklist.made_here),
            ("originals", checklist.originals),
            ("copies", checklist.copies),
            ("hand_in", checklist.hand_in),
        ):
            assert len(lines.get(kind, [])) == len(items), (kind, lang)
            for line, item in zip(lines.get(kind, []), items, strict=True):
                assert line.startswith(item.document.name.get(lang).rstrip(".")), (kind, lang)
                if item.document.condition is not None:  # "only if ..." stays with the document
                    assert item.document.condition.get(lang).rstrip(".") in line
        assert sum(len(v) for v in lines.values()) == len(channel.checklist(category))


def _text(service_code: str, category: str | None = None, state: str = State.QUEUED) -> str:
    parts = receipt_parts(_submission(service_code, state), _payload(category), CATALOG, [], first="kk")
    return "\n".join(
        "\n".join([*(f"{a}: {b}" for a, b in p.rows), *(f"{h}: {'; '.join(d)}" for _k, h, d in p.sections), *p.notes])
        for p in parts
    )


def test_grade1_lists_the_health_certificates_and_the_photos(app) -> None:
    with app.test_request_context():
        text = _text("grade1")
    assert "063/у" in text and "026/у-3" in text
    assert "3х4" in text
    assert "Документ, удостоверяющий личность" in text


def test_meals_for_an_orphan_lists_the_guardianship_decision_as_a_copy_with_the_original(app) -> None:
    with app.test_request_context():
        parts = receipt_parts(_submission("meals"), _payload("orphan"), CATALOG, [], first="kk")
    ru = dict((k, d) for k, _h, d in parts[1].sections)
    decision = [d for d in ru["copies"] if d.startswith("Решение уполномоченного органа")]
    assert decision and "оригинал" in decision[0]
    birth = [d for d in ru["copies"] if d.startswith("Копия свидетельства о рождении")]
    assert birth and "Только если сведений нет" in birth[0]  # the condition, not under "in original"
    assert not any("Копия" in d for d in ru.get("originals", []))


def test_a_situation_the_office_does_not_list_says_to_ask(app) -> None:
    """An application stored before the office lists were followed may claim "unemployed" at the school."""
    with app.test_request_context():
        text = _text("meals", "unemployed")
    assert "Справка о регистрации в качестве безработного" not in text
    assert "для вашей ситуации" in text.lower() or "положения вашей семьи" in text.lower()


def test_transport_goes_to_the_education_department_not_the_school_office(app) -> None:
    with app.test_request_context():
        text = _text("transport")
    assert "канцелярию школы" not in text and "канцелярии школы" not in text
    assert "В отделе образования или в центре «Правительство для граждан»" in text


def test_waiting_for_the_id_card_heads_the_originals(app) -> None:
    with app.test_request_context():
        parts = receipt_parts(_submission("camp", State.NEEDS_VERIFICATION), _payload("asp"), CATALOG, [], first="kk")
    originals = dict((k, d) for k, _h, d in parts[1].sections)["originals"]
    assert originals[0].startswith("Ваше удостоверение личности")


def test_the_form_offers_only_the_situations_the_office_lists(client, app, clock) -> None:
    """A family situation the kiosk's office does not list is not offered, and a forged one is refused."""

    clock.set_local(2026, 5, 4)
    identify(client, "ru", "meals", clock=clock)
    page = soup(client.get("/ru/apply/form"))
    offered = [i["value"] for i in page.select('input[name="category"]')]
    assert offered == [c.code for c in CATALOG.service("meals").kiosk_channel.categories]
    assert "unemployed" not in offered
    child = child_iin(dt.date(2016, 9, 9), "F")
    response = fill_form(client, "ru", meals(child, category="unemployed"))
    assert response.status_code == 200  # the form again, with its message, not a 500
    assert soup(response).select_one("#field-category .field-error").get_text(strip=True)  # in Russian, by WTForms


# what the parent reads for the two files, in each receipt language (the staff page's names)
PHOTOS = {"kk": "Құжаттардың фотосуреттері", "ru": "Фотографии документов"}
FILES = {"kk": ["Фотосурет 1", "PDF құжат 2"], "ru": ["Фотография 1", "PDF-документ 2"]}


def _receipt_parts(page) -> dict[str, tuple[dict[str, str], list[str]]]:
    """Each language's part of a receipt page: its rows, and the lines of its "attached" list."""
    out = {}
    for part in page.select("[data-receipt-lang]"):
        labels, values = part.select("dt"), part.select("dd")
        rows = {dt_.get_text(): dd.get_text() for dt_, dd in zip(labels, values, strict=True)}
        attached = [li.get_text() for li in part.select('[data-receipt-section="attached"] li')]
        out[part["data-receipt-lang"]] = (rows, attached)
    return out


@pytest.mark.parametrize("lang", ["kk", "ru"])
@pytest.mark.parametrize("service", ["meals", "camp"])
def test_the_receipt_lists_the_answers_and_the_attached_files(app, client, clock, service, lang) -> None:
    """A receipt is the proof of what was handed in: every answer under the form's label, the files."""
    clock.set_local(2026, 5, 4)
    child = child_iin(dt.date(2016, 9, 9), "F")
    identify(client, lang, service, clock=clock)
    answers = meals(child, **MEALS_CAMP[service])
    assert fill_form(client, lang, answers).status_code == 302
    assert attach(client, lang, documents.phone_photo(2.0), "IMG_0412.jpg").status_code == 302
    assert attach(client, lang, documents.scanned_pdf(1), "scan.pdf").status_code == 302
    check = soup(client.get(f"/{lang}/apply/check"))
    # the answers as the check page labels and reads them (the child's IIN apart: masked on the receipt)
    asked = {
        row.select_one("dt").get_text(): row.select_one("dd").get_text()
        for row in check.select("[data-answer]")
        if row["data-answer"] != "child_iin"
    }
    assert len(asked) == len(answers) - 1
    iin_label = check.select_one('[data-answer="child_iin"] dt').get_text()
    reference = sign(client, lang, clock).rsplit("/", 1)[-1]

    sign_in_staff(app, staff := app.test_client())
    pages = {
        "screen": client.get(f"/{lang}/receipt/{reference}"),
        "print": client.get(f"/{lang}/receipt/{reference}/print"),
        "reprint": staff.get(f"/staff/submissions/{reference}/receipt"),
    }
    for where, response in pages.items():
        parts = _receipt_parts(soup(response))
        rows, attached = parts[lang]
        assert {k: rows.get(k) for k in asked} == asked, where
        assert rows[iin_label] == mask(child), where
        for each in parts:
            rows, attached = parts[each]
            assert rows[PHOTOS[each]] == "2", (where, each)
            assert [line.split(" · ")[0] for line in attached] == FILES[each], (where, each)
        assert child not in response.get_data(as_text=True), where


def _applied_and_staff(app, client, clock, lang: str):
    """A meals application through the visitor's screens in ``lang``; its reference and a signed-in staff client."""
    clock.set_local(2026, 5, 4)
    identify(client, lang, "meals", clock=clock)
    fill_form(client, lang, meals(child_iin(dt.date(2016, 9, 9), "F")))
    reference = sign(client, lang, clock).rsplit("/", 1)[-1]
    sign_in_staff(app, staff := app.test_client())
    return reference, staff


def test_the_staff_reprint_without_a_qr_code_does_not_send_the_parent_to_one(app, client, clock) -> None:
    """The reprint has no QR code (its token was the parent's alone): its note names only the reference and IIN."""
    reference, staff = _applied_and_staff(app, client, clock, "ru")
    reprint = soup(staff.get(f"/staff/submissions/{reference}/receipt"))
    assert not reprint.select("[data-qr]")
    notes = {
        p["data-receipt-lang"]: [h.get_text() for h in p.select(".hint")] for p in reprint.select("[data-receipt-lang]")
    }
    assert not [n for each in notes.values() for n in notes_with_qr(each)]
    assert "Проверяйте статус на этом терминале по номеру и вашему ИИН." in notes["ru"]
    assert "Мәртебені осы терминалда нөмір мен ЖСН бойынша тексеріңіз." in notes["kk"]
    # the parent's own receipt has the code, and says so
    own = soup(client.get(f"/ru/receipt/{reference}/print"))
    assert own.select("[data-qr]") and notes_with_qr(h.get_text() for h in own.select(".hint"))


def notes_with_qr(notes) -> list[str]:
    return [n for n in notes if "QR" in n]


@pytest.mark.parametrize(("lang", "order"), [("ru", ["ru", "kk"]), ("kk", ["kk", "ru"]), ("en", ["kk", "ru"])])
def test_the_receipt_starts_in_the_parents_language(app, client, clock, lang, order) -> None:
    """Both languages stay (state forms are in both); a Russian-speaking parent's starts in Russian,
    on screen, on paper and on the staff's reprint; an English reader's keeps the state language first."""
    reference, staff = _applied_and_staff(app, client, clock, lang)
    for response in (
        client.get(f"/{lang}/receipt/{reference}"),
        client.get(f"/{lang}/receipt/{reference}/print"),
        staff.get(f"/staff/submissions/{reference}/receipt"),
    ):
        assert [p["data-receipt-lang"] for p in soup(response).select("[data-receipt-lang]")] == order


def test_the_staff_reprint_has_no_visitor_display_toggles(app, client, clock) -> None:
    """High contrast, large text, lower the screen: the kiosk visitor's; a staff page has none, nor the idle reset."""
    reference, staff = _applied_and_staff(app, client, clock, "kk")
    reprint = soup(staff.get(f"/staff/submissions/{reference}/receipt"))
    assert reprint.select("[data-receipt-lang]")  # the receipt itself is there
    assert not reprint.select("#modes, [data-mode]")
    assert not reprint.select("[data-idle]")
    own = soup(client.get(f"/kk/receipt/{reference}/print"))  # the visitor's print view keeps its toggles
    assert len(own.select("[data-mode]")) == 3 and own.select("[data-idle]")
