"""What a tester walking the staff console found: buttons that read as states, sizes in English,
filters in the wrong gender, and the visitor's error pages inside the console (issue 11, item 16)."""

from __future__ import annotations

import datetime as dt

import pytest
from test_staff import _queue
from test_staff_console import sign_in, staff  # noqa: F401 - fixture

from flows import soup, token

MARK = {"kk": "Белгілеу: түпнұсқа көрілді", "ru": "Отметить: оригинал проверен", "en": "Mark: original seen"}


@pytest.mark.parametrize("lang", ["kk", "ru", "en"])
def test_an_original_not_seen_shows_the_action_and_one_seen_shows_who_and_when(client, app, staff, clock, lang):  # noqa: F811
    [ref] = _queue(app, clock, 1)
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

    from flows import child_iin, fill_form, identify, sign

    visitor = app.test_client()
    identify(visitor, "ru", "meals", clock=clock)
    answers = {"child_iin": child_iin(dt.date(2016, 2, 2)), "child_name": "Иванова Мария", "grade": "4"}
    fill_form(visitor, "ru", {**answers, "category": "asp"})
    picture = io.BytesIO()
    # noise: a photo of some 400 KB, under the size a multipart part is spooled to disk at
    Image.effect_noise((900, 700), 80).convert("RGB").save(picture, "JPEG", quality=85)
    visitor.post(
        "/ru/apply/attachments",
        data={"file": (io.BytesIO(picture.getvalue()), "p.jpg"), "csrf_token": token(visitor, "/ru/apply/attachments")},
        content_type="multipart/form-data",
    )
    return sign(visitor, "ru", clock).rsplit("/", 1)[-1]


@pytest.mark.parametrize(("lang", "unit", "point"), [("kk", "МБ", ","), ("ru", "МБ", ","), ("en", "MB", ".")])
def test_staff_read_file_sizes_as_parents_do(client, app, staff, clock, lang, unit, point) -> None:  # noqa: F811
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
def test_the_queue_filters_any_agrees_with_its_noun(client, staff, lang, state, service) -> None:  # noqa: F811
    """Состояние: любое, Услуга: любая; not one "любой" for both."""
    sign_in(client, "bolat", lang=lang)
    page = soup(client.get("/staff/queue"))
    assert page.select_one('select[name="state"] option[value=""]').get_text(strip=True) == state
    assert page.select_one('select[name="service"] option[value=""]').get_text(strip=True) == service
