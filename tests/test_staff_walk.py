"""What a tester walking the staff console found: buttons that read as states, sizes in English,
filters in the wrong gender, and the visitor's error pages inside the console (issue 11, item 16)."""

from __future__ import annotations

import datetime as dt

import pytest

from fixtures.flows import applications, attach, child_iin, fill_form, identify, meals, sign, soup, token
from fixtures.staff import sign_in

MARK = {"kk": "Белгілеу: түпнұсқа көрілді", "ru": "Отметить: оригинал проверен", "en": "Mark: original seen"}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_an_original_not_seen_shows_the_action_and_one_seen_shows_who_and_when(client, app, staff, clock, lang):
    [ref] = applications(app, clock, 1)
    clock.now = dt.datetime(2026, 5, 4, 20, 30, tzinfo=dt.UTC)  # 01:30 on 5 May in Almaty
    sign_in(client, "bolat", lang=lang)
    page = soup(client.get(f"/staff/submissions/{ref}"))
    documents = page.select("[data-original]")
    assert documents
    for item in documents:  # nobody checked anything yet: no document reads as done
        assert item.select_one("button").get_text(strip=True) == MARK[lang]
        assert not item.select("[data-checked]")
    doc = documents[0]["data-original"]
    client.post(
        f"/staff/submissions/{ref}/original_checked",
        data={"document": doc, "csrf_token": token(client, f"/staff/submissions/{ref}")},
    )
    page = soup(client.get(f"/staff/submissions/{ref}"))
    done = page.select_one(f'[data-original="{doc}"]')
    assert not done.select("button")  # the action is gone once it is done
    said = done.select_one("[data-checked]").get_text(" ", strip=True)
    assert "bolat" in said and "05.05.2026 01:30" in said and "staff:" not in said
    others = [li for li in page.select("[data-original]") if li["data-original"] != doc]
    assert all(li.select_one("button").get_text(strip=True) == MARK[lang] for li in others)


def _apply_with_photo(app, clock) -> str:
    """An application with one photo, sent through the visitor's screens; its reference."""
    import io

    from PIL import Image

    visitor = app.test_client()
    identify(visitor, "ru", "meals", clock=clock)
    fill_form(visitor, "ru", meals(child_iin(dt.date(2016, 2, 2))))
    picture = io.BytesIO()
    # noise: a photo of some 400 KB, under the size a multipart part is spooled to disk at
    Image.effect_noise((900, 700), 80).convert("RGB").save(picture, "JPEG", quality=85)
    assert attach(visitor, "ru", picture.getvalue(), "p.jpg").status_code == 302
    return sign(visitor, "ru", clock).rsplit("/", 1)[-1]


@pytest.mark.parametrize(("lang", "unit", "point"), [("kk", "МБ", ","), ("ru", "МБ", ","), ("en", "MB", ".")])
def test_staff_read_file_sizes_as_parents_do(client, app, staff, clock, lang, unit, point) -> None:
    from kiosk import db
    from kiosk.models import Attachment

    ref = _apply_with_photo(app, clock)
    with app.app_context(), db.new_session(app) as s:
        size = s.query(Attachment).one().size
    assert size > 100 * 1024  # a size "KB" would have shown as hundreds
    sign_in(client, "bolat", lang=lang)
    shown = soup(client.get(f"/staff/submissions/{ref}")).select_one("[data-attachment] [data-size]").get_text()
    assert shown == f"{size / 1024 / 1024:.2f}".replace(".", point) + f" {unit}", shown
    assert "KB" not in shown


@pytest.mark.parametrize(
    ("lang", "state", "service"),
    [("ru", "любое", "любая"), ("kk", "кез келген", "кез келген"), ("en", "any state", "any service")],
)
def test_the_queue_filters_any_agrees_with_its_noun(client, staff, lang, state, service) -> None:
    """Состояние: любое, Услуга: любая; not one "любой" for both."""
    sign_in(client, "bolat", lang=lang)
    page = soup(client.get("/staff/queue"))
    assert page.select_one('select[name="state"] option[value=""]').get_text(strip=True) == state
    assert page.select_one('select[name="service"] option[value=""]').get_text(strip=True) == service


# --- errors under /staff/ are staff pages --------------------------------------------------------

HUGE = 2**63 + 5


def _errors(client, monkeypatch) -> dict[int | str, object]:
    """One answer per error code a member of staff may meet, made the way it happens."""
    from kiosk.web import errors
    from kiosk.web import staff as console

    csrf = token(client, "/staff/queue")
    answers: dict[int | str, object] = {
        400: client.post(f"/staff/submissions/{'A' * 9}/no_such_action", data={"csrf_token": csrf}),
        404: client.get("/staff/submissions/ZZZZZZZZZ"),
        "404 id": client.post(f"/staff/calls/{HUGE}/answer", data={"csrf_token": csrf}),
        "404 route": client.get("/staff/no-such-page"),
        405: client.get("/staff/logout"),
        413: client.post("/staff/reconcile", data={"csrf_token": csrf, "x": "y" * 200_000}),
        415: client.post("/staff/reconcile", data=b"{}", content_type="application/json"),
    }

    def busy(*args, **kwargs):
        raise errors.DatabaseBusy()

    def out(*args, **kwargs):
        raise errors.OutOfService("the schema is behind: run kiosk db upgrade")

    def unavailable(*args, **kwargs):
        from werkzeug.exceptions import ServiceUnavailable

        raise ServiceUnavailable()

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    for name, failing in (("503 busy", busy), ("503 out", out), (503, unavailable), (500, broken)):
        with monkeypatch.context() as m:
            m.setattr(console.helpcalls, "open_calls", failing)
            answers[name] = client.get("/staff/")
    return answers


STATUS = {400: 400, 404: 404, "404 id": 404, "404 route": 404, 405: 405, 413: 413, 415: 415}
STATUS |= {503: 503, "503 busy": 503, "503 out": 503, 500: 500}
VISITOR = {
    "ru": ("Выберите услугу", "Все услуги", "начните заново"),
    "kk": ("Қызметті тізімнен таңдаңыз", "Барлық қызметтер", "қайта бастаңыз"),
}
QUEUE = {"ru": "К очереди", "kk": "Кезекке"}


@pytest.mark.parametrize("lang", ["ru", "kk"])
def test_errors_in_the_console_are_staff_pages_with_the_way_back(client, app, staff, clock, monkeypatch, lang):
    sign_in(client, "bolat", lang=lang)
    answers = _errors(client, monkeypatch)
    answers[403] = client.get("/staff/audit")  # bolat is an operator
    STATUS[403] = 403
    for name, response in answers.items():
        assert response.status_code == STATUS[name], (name, response.status_code)
        page = soup(response)
        text = page.get_text(" ", strip=True)
        assert "staff" in page.body["class"], name  # the staff layout, not the visitor's
        assert page.select_one(f'[data-status="{response.status_code}"] h1'), name
        assert not any(w.lower() in text.lower() for w in VISITOR[lang]), (name, text)
        assert not page.select('a[href*="/services"]'), name  # no link out of the console
        back = page.select_one('[data-back="queue"]')
        assert back and back["href"] == "/staff/queue" and back.get_text(strip=True) == QUEUE[lang], name
        assert page.select_one('[data-back="dashboard"]')["href"] == "/staff/", name
        assert page.html["lang"] == lang and "Not for your role" not in text, name  # in the staff language
    assert "администратор" in soup(answers[403]).get_text() or "әкімші" in soup(answers[403]).get_text()
    assert soup(answers["503 busy"]).select_one("[data-again]")["href"] == "/staff/"
    assert answers["503 busy"].headers["Retry-After"] == "5"


def test_an_error_before_signing_in_leads_to_the_sign_in_page(client, app, staff) -> None:
    client.get("/staff/language/ru")
    for response in (client.get("/staff/no-such-page"), client.get("/staff/logout")):
        page = soup(response)
        assert response.status_code in (404, 405) and "staff" in page.body["class"]
        assert page.select_one('[data-back="login"]')["href"] == "/staff/login"
        assert not page.select('[data-back="queue"], a[href*="/services"]')


def test_the_visitors_errors_stay_the_visitors(client) -> None:
    page = soup(client.get("/ru/no-such-page"))
    assert "staff" not in (page.body.get("class") or []) and page.select_one('a[href="/ru/services"]')
