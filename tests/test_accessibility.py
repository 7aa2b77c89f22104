"""Accessibility of the visitor's screens: display modes, axe-core, focus order, touch targets, reach.

The deep screens are reached as tests/fixtures/flows.py does, over the Flask test client, and the visit's
cookie is then handed to Chromium, which shows the same visit: one walk from Welcome to the
status of a submitted application, every screen checked in every display mode and in both
orientations. axe-core comes bundled with axe-playwright-python (injected into the page, nothing
fetched); a violation of impact serious or critical fails the walk with its rule id and where.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from fixtures import missing
from fixtures.flows import NO_PHONE, PARENT, apply, child_iin, demo_code, fill_form, identify, meals, soup, token
from kiosk.web.display import MODES

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}
REACH = 720  # lowered: every control in the screen's bottom 720 px (1200 px and more from the top in portrait)
COOKIE = "kiosk_visit"

# every mode on its own, and all of them at once
MODE_SETS = {"default": (), "contrast": ("contrast",), "large": ("large",), "low": ("low",), "all": MODES}


def meals_answers() -> dict[str, str]:
    child = child_iin(dt.date(2016, 9, 9), "F")
    return meals(child)


# what a visitor can touch: links, buttons, fields (a radio or tick box is touched through its label)
CONTROLS = "a[href], button, input:not([type=hidden]), textarea, select, [role=button]"
CONTROLS_JS = """(selector) => [...document.querySelectorAll(selector)]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => {
      const target = (e.type === 'radio' || e.type === 'checkbox') && e.closest('label') || e;
      const r = target.getBoundingClientRect();
      const name = (e.getAttribute('aria-label') || e.textContent || e.name || e.id || e.tagName).trim();
      return {name: name.replace(/\\s+/g, ' ').slice(0, 40), tag: e.tagName.toLowerCase(),
              x: r.left, y: r.top, w: r.width, h: r.height,
              region: e.closest('header') ? 'header' : e.closest('footer') ? 'footer' : 'main'};
    })"""


def _axe() -> Any:
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        missing("axe-playwright-python is not installed (pip install -e '.[test]')")
    return Axe()


def _modes_url(base: str, modes: tuple[str, ...], next_path: str) -> str:
    query = {m: ("on" if m in modes else "off") for m in MODES} | {"next": next_path}
    return f"{base}/display?{urlencode(query)}"


@dataclass
class Walk:
    """A browser page that shows the test client's visit, and what was found on every screen."""

    page: Any
    client: Any
    base: str
    artifacts: Path
    axe: Any
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    minor: set[str] = field(default_factory=set)

    def share_visit(self) -> None:
        """The client's visit in the browser (its token changes at sign-in and at signing)."""
        cookie = self.client.get_cookie(COOKIE)
        if cookie is not None:
            self.page.context.add_cookies([{"name": COOKIE, "value": cookie.value, "url": self.base}])

    def screen(self, name: str, path: str, *, show=None, focus_order: bool = False) -> None:
        """Check one screen in every display mode: the toggle goes back to `path`, `show` goes on from there."""
        self.share_visit()
        for mode_name, modes in MODE_SETS.items():
            self.page.goto(_modes_url(self.base, modes, path))
            if show is not None:
                show(self.page)
            label = f"{name} [{mode_name}]"
            self.checked.append(label)
            self.problems += [f"{label}: {p}" for p in self.check(modes)]
            if focus_order and not modes:
                self.problems += [f"{label}: {p}" for p in focus_order_problems(self.page)]
            slug = re.sub(r"\W+", "-", name).strip("-")
            self.page.screenshot(path=str(self.artifacts / f"{slug}-{mode_name}.png"))

    def check(self, modes: tuple[str, ...]) -> list[str]:
        page = self.page
        found = []
        classes = (page.locator("body").get_attribute("class") or "").split()
        if sorted(c for c in classes if c.startswith("mode-")) != sorted(f"mode-{m}" for m in modes):
            found.append(f"body classes {classes}")
        pressed = page.evaluate(
            "() => [...document.querySelectorAll('#modes button[aria-pressed]')].map(b => [b.name, b.ariaPressed])"
        )
        if pressed != [[m, "true" if m in modes else "false"] for m in MODES]:
            found.append(f"the display toggles are missing or wrong: {pressed}")

        for v in self.axe.run(page).response["violations"]:
            where = ", ".join(" ".join(n["target"]) for n in v["nodes"][:4])
            if v["impact"] in ("serious", "critical"):
                found.append(f"axe {v['id']} ({v['impact']}): {where}")
            else:  # reported at the end, not failed
                self.minor.add(f"{page.url.split('/', 3)[-1]}: axe {v['id']} ({v['impact']}): {where}")

        controls = page.evaluate(CONTROLS_JS, CONTROLS)
        for c in controls:
            if c["w"] < 48 or c["h"] < 48:
                found.append(f"target under 48 px: {c['tag']} {c['name']!r} {c['w']:.0f}x{c['h']:.0f}")
        if "low" in modes:
            reach_line = page.viewport_size["height"] - REACH
            for c in controls:
                if c["y"] < reach_line - 0.5:
                    found.append(f"out of reach: {c['tag']} {c['name']!r} at {c['y']:.0f} px (line {reach_line})")
            if page.evaluate("document.scrollingElement.scrollHeight > window.innerHeight + 1"):
                found.append("the page itself scrolls: a lowered screen scrolls inside its bottom part only")

        minimum = 27 if "large" in modes else 20  # a print view's sheet is shown at the paper's size
        small = page.evaluate(
            """(minimum) => [...document.querySelectorAll(
                  'main:not(.sheet) :is(p, li, a, span, h1, h2, h3, dt, dd, label, button, legend)')]
                .filter(e => e.getClientRects().length)
                .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
                .filter(e => parseFloat(getComputedStyle(e).fontSize) < minimum)
                .map(e => e.textContent.trim().slice(0, 30) + ' ' + getComputedStyle(e).fontSize)""",
            minimum,
        )
        found += [f"text under {minimum} px: {t}" for t in small]
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            found.append("the page scrolls sideways")
        return found


def focus_order_problems(page) -> list[str]:
    """Tab from the top: every control once, header then main then footer, in reading order."""
    count = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button:not([disabled]), input:not([type=hidden]), textarea')]
            .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && e.tabIndex >= 0)
            // a group of radio buttons is one stop: Tab reaches its chosen (or first) one, arrows the rest
            .filter(e => e.type !== 'radio' || e === (e.form.querySelector(`input[name="${e.name}"]:checked`)
                                                       || e.form.querySelector(`input[name="${e.name}"]`)))
            .map((e, i) => { e.dataset.tabStop = i; return i; }).length"""
    )
    if not count:
        return ["no control to tab to"]
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    layout = page.evaluate(CONTROLS_JS, "[data-tab-stop]")  # where each stands before anything scrolls
    visited: list[int] = []
    for _ in range(count + 3):
        page.keyboard.press("Tab")
        index = page.evaluate("() => document.activeElement && document.activeElement.dataset.tabStop")
        if index is None or int(index) in visited:
            break
        visited.append(int(index))
    problems = []
    if visited != list(range(count)):
        problems.append(f"Tab visits {visited}, not each of the {count} controls once in document order")
    regions = [layout[i]["region"] for i in visited]
    rank = {"header": 0, "main": 1, "footer": 2}
    if [rank[r] for r in regions] != sorted(rank[r] for r in regions):
        problems.append(f"Tab leaves the order header, main, footer: {regions}")
    for a, b in zip(visited, visited[1:], strict=False):
        pa, pb = layout[a], layout[b]
        same_row = abs(pa["y"] - pb["y"]) < min(pa["h"], pb["h"]) / 2
        if (same_row and pb["x"] < pa["x"]) or (not same_row and pb["y"] < pa["y"] and pa["region"] == pb["region"]):
            problems.append(f"Tab goes back up or left: {pa['name']!r} then {pb['name']!r}")
    return problems


def _idle_question(page) -> None:
    """The idle reset's question, as static/js/idle.js shows it after a minute untouched."""
    page.evaluate("document.querySelector('[data-idle]').hidden = false")


def _status_of(reference: str, iin: str):
    """The status is shown in answer to the look-up form: fill it in (the keypads type) and send it."""

    def show(page) -> None:
        page.evaluate(
            """([ref, iin]) => { document.getElementById('reference').value = ref;
                 document.getElementById('iin').value = iin; }""",
            [reference, iin],
        )
        page.locator("main form button[type=submit]").click()
        page.wait_for_selector("[data-state]")

    return show


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_every_visitor_screen_in_every_display_mode(chromium, live_server, client, clock, artifacts, viewport) -> None:
    context = chromium.new_context(viewport=viewport, has_touch=True, locale="kk-KZ")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    walk = Walk(page, client, live_server, artifacts, _axe())
    focus = viewport is PORTRAIT  # one column: reading order is top to bottom

    client.get("/kk/start")  # the visit begins, in Kazakh
    walk.screen("welcome", "/")
    walk.screen("services", "/kk/services", focus_order=focus)
    walk.screen("service", "/kk/services/meals", focus_order=focus)
    walk.screen("service with a category", "/kk/services/meals?category=asp")
    walk.screen("checklist-only service", "/kk/services/pmpk")
    walk.screen("print A4", "/kk/services/meals/print?category=asp&paper=a4")
    walk.screen("print roll", "/kk/services/meals/print?paper=roll")
    walk.screen("not found", "/kk/services/no-such-service")
    walk.screen("status lookup", "/kk/status")
    walk.screen("are you still there", "/kk/services", show=_idle_question)

    # identify: the start, the parent without a phone, the demo parent's code, done
    client.get("/kk/identify?service=meals")
    walk.screen("identify start", "/kk/identify?service=meals")
    client.post("/kk/identify/iin", data={"iin": NO_PHONE, "csrf_token": token(client, "/kk/identify")})
    walk.screen("identify help (no phone)", "/kk/identify/help?reason=no_phone")
    client.post("/kk/identify/iin", data={"iin": PARENT, "csrf_token": token(client, "/kk/identify")})
    walk.screen("code", "/kk/identify/code", focus_order=focus)
    identify(client, "kk", "meals", clock=clock)
    walk.screen("identified", "/kk/identify/done")

    # the application: form, photos, check, the signing code, the receipt and its print view
    walk.screen("application form", "/kk/apply/form", focus_order=focus)
    response = fill_form(client, "kk", meals_answers())
    assert response.status_code == 302, [e.get_text() for e in soup(response).select(".field-error, .alert")]
    walk.screen("attachments", "/kk/apply/attachments")
    walk.screen("check your answers", "/kk/apply/check", focus_order=focus)
    clock.now += dt.timedelta(seconds=61)  # a minute after the identification code
    response = client.post("/kk/apply/check", data={"consent": "y", "csrf_token": token(client, "/kk/apply/check")})
    assert response.status_code == 302
    walk.screen("signing code", "/kk/apply/sign")
    code = demo_code(client, "/kk/apply/sign")
    response = client.post("/kk/apply/sign", data={"code": code, "csrf_token": token(client, "/kk/apply/sign")})
    receipt = response.headers["Location"]
    walk.screen("receipt", receipt, focus_order=focus)
    walk.screen("receipt print", receipt + "/print")
    reference = soup(client.get(receipt)).select_one("[data-reference]").get_text().strip()
    walk.screen("status", "/kk/status", show=_status_of(reference, PARENT))

    context.close()
    print(f"\n{len(walk.checked)} screen x mode checks at {viewport['width']}x{viewport['height']}")
    print("\n".join(sorted(walk.minor)) or "no moderate or minor axe findings either")
    assert errors == []
    assert walk.problems == [], "\n" + "\n".join(walk.problems)


@pytest.mark.browser
def test_the_toggles_work_by_touch_without_javascript_and_hold_for_the_visit(chromium, live_server) -> None:
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server + "/")
    with page.expect_navigation():
        page.locator('#modes [data-mode="large"]').tap()
    assert page.url == live_server + "/"
    assert page.locator("body").get_attribute("class").split() == ["welcome", "mode-large"]
    assert page.locator('#modes [data-mode="large"]').get_attribute("aria-pressed") == "true"

    page.get_by_role("link", name="English").tap()
    page.wait_for_url(re.compile(r"/en/services$"))
    assert "mode-large" in page.locator("body").get_attribute("class")
    with page.expect_navigation():
        page.get_by_role("button", name="High contrast").tap()
    assert page.url.endswith("/en/services")
    assert page.locator("body").get_attribute("class").split() == ["mode-contrast", "mode-large"]
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(0, 0, 0)"

    with page.expect_navigation():
        page.get_by_role("button", name="Large text").tap()  # off again
    assert page.locator("body").get_attribute("class").split() == ["mode-contrast"]
    assert page.get_by_role("button", name="Large text").get_attribute("aria-pressed") == "false"
    context.close()


@pytest.mark.browser
def test_the_toggles_follow_an_htmx_swap_and_lower_the_screen(chromium, live_server) -> None:
    context = chromium.new_context(viewport=PORTRAIT, has_touch=True)
    page = context.new_page()
    page.goto(_modes_url(live_server, ("low",), "/ru/services/meals"))
    page.evaluate("window.__sameDocument = true")
    page.locator('a.choice[data-category="orphan"]').tap()
    page.wait_for_selector('a.choice.selected[data-category="orphan"]')
    assert page.evaluate("window.__sameDocument") is True  # swapped in place
    assert page.locator('#modes input[name="next"]').input_value() == "/ru/services/meals?category=orphan"
    assert page.locator('#modes [data-mode="low"]').get_attribute("aria-pressed") == "true"

    # the bar with every button starts at the reach line; what is above it is empty
    assert page.locator("header.bar").bounding_box()["y"] == pytest.approx(1920 - REACH, abs=8)
    assert page.evaluate("document.elementFromPoint(540, 600) === document.documentElement")
    _idle_question(page)  # "Are you still there?" comes up within reach too
    for button in page.locator(".idle button").all():
        assert button.bounding_box()["y"] >= 1920 - REACH
    page.locator("[data-idle-stay]").tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Опустить экран").tap()
    assert page.url.endswith("/ru/services/meals?category=orphan")
    assert page.locator("header.bar").bounding_box()["y"] == 0
    context.close()


# --- the endpoint, over the test client ---


def _body_classes(client, path: str) -> list[str]:
    return [c for c in soup(client.get(path)).body.get("class", []) if c]


def test_modes_are_set_by_get_and_go_back_to_a_same_site_address(client) -> None:
    assert _body_classes(client, "/kk/services") == []
    response = client.get("/display?contrast=on&low=on&next=/kk/services/meals?category%3Dasp")
    assert response.status_code == 303
    assert response.headers["Location"] == "/kk/services/meals?category=asp"
    assert response.headers["Cache-Control"] == "no-store"
    assert _body_classes(client, "/kk/services") == ["mode-contrast", "mode-low"]
    page = soup(client.get("/kk/services/meals?category=asp"))
    assert page.select_one('#modes input[name="next"]')["value"] == "/kk/services/meals?category=asp"
    assert {b["name"]: (b["aria-pressed"], b["value"]) for b in page.select("#modes button")} == {
        "contrast": ("true", "off"),
        "large": ("false", "on"),
        "low": ("true", "off"),
    }
    client.get("/display?contrast=off&next=/")
    assert _body_classes(client, "/kk/services") == ["mode-low"]
    client.get("/display?low=off&large=sideways&next=/")
    assert _body_classes(client, "/kk/services") == []


@pytest.mark.parametrize(
    "target",
    [
        "https://example.com/",
        "//example.com/x",
        "/\\example.com",
        "javascript:alert(1)",
        "services",
        "/x\r\nSet-Cookie: a=b",
        "/display?large=on",
        "",
    ],
)
def test_next_is_only_ever_a_path_on_this_site(client, target: str) -> None:
    response = client.get("/display", query_string={"large": "on", "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_cached_pages_are_kept_apart_by_mode(client) -> None:
    assert 'aria-pressed="true"' not in client.get("/ru/services/meals").get_data(as_text=True)
    client.get("/display?large=on&next=/")
    assert _body_classes(client, "/ru/services/meals") == ["mode-large"]
    fragment = soup(client.get("/ru/services/meals?category=asp", headers={"HX-Request": "true"}))
    modes = fragment.select_one("#modes")
    assert modes["hx-swap-oob"] == "true"  # the toggles follow the swap, with the new address to come back to
    assert modes.select_one('input[name="next"]')["value"] == "/ru/services/meals?category=asp"
    assert [b["name"] for b in modes.select('button[aria-pressed="true"]')] == ["large"]
    other = client.application.test_client()  # another visitor, the same cached page
    assert _body_classes(other, "/ru/services/meals") == []


def test_a_page_shown_after_a_post_toggles_back_to_its_own_address(client) -> None:
    response = client.post("/ru/identify/iin", data={"iin": "123", "csrf_token": token(client, "/ru/identify")})
    assert response.status_code == 200  # the start again, with the error
    assert soup(response).select_one('#modes input[name="next"]')["value"] == "/ru/identify"


def test_finish_ends_the_modes_with_the_visit(client, clock) -> None:
    client.get("/display?contrast=on&large=on&low=on&next=/")
    receipt = apply(client, "ru", "meals", meals_answers(), clock)
    assert _body_classes(client, receipt) == ["mode-contrast", "mode-large", "mode-low"]
    client.post("/ru/receipt/finish", data={"csrf_token": token(client, receipt)})
    assert _body_classes(client, "/") == ["welcome"]
