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
