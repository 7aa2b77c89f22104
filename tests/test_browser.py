"""A parent at the terminal, in Debian's Chromium driven by Playwright: touch, portrait screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PORTRAIT = {"width": 1080, "height": 1920}
LANDSCAPE = {"width": 1920, "height": 1080}


def _context(chromium, viewport):
    return chromium.new_context(viewport=viewport, has_touch=True, is_mobile=False, locale="kk-KZ")


def test_welcome_to_print_in_russian_by_touch(chromium, live_server: str, artifacts: Path) -> None:
    context = _context(chromium, PORTRAIT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "kk"
    page.screenshot(path=str(artifacts / "1-welcome.png"))

    page.get_by_role("link", name="Русский").tap()
    page.wait_for_url(re.compile(r"/ru/services$"))
    assert page.locator("h1").inner_text() == "Государственные услуги в сфере образования"
    page.screenshot(path=str(artifacts / "2-services.png"), full_page=True)

    page.locator('a.card[data-service="meals"]').tap()
    page.wait_for_url(re.compile(r"/ru/services/meals$"))
    assert page.locator("li.conditional").count() == 0
    page.screenshot(path=str(artifacts / "3-service.png"), full_page=True)

    # the category swaps the conditional document in place: same page, no reload
    page.evaluate("window.__sameDocument = true")
    page.locator('a.choice[data-category="low_income"]').tap()
    page.wait_for_selector('a.choice.selected[data-category="low_income"]')
    conditional = page.locator("li.conditional .doc-name").first.inner_text()
    assert "доход" in conditional.lower()
    assert page.evaluate("window.__sameDocument") is True
    assert page.url.endswith("/ru/services/meals?category=low_income")

    page.locator('a.choice[data-category="orphan"]').tap()
    page.wait_for_selector('a.choice.selected[data-category="orphan"]')
    assert page.locator("li.conditional .doc-name").first.inner_text() != conditional
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(artifacts / "4-category.png"), full_page=True)

    # the language buttons followed the swap: English keeps the chosen category
    assert page.locator('nav#langs a[hreflang="en"]').get_attribute("href").endswith("category=orphan")

    page.get_by_role("link", name="Распечатать список документов").tap()
    page.wait_for_url(re.compile(r"/print\?category=orphan"))
    assert page.locator(".sheet li").count() >= 4
    page.screenshot(path=str(artifacts / "5-print-screen.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator(".print-controls").is_hidden()
    page.pdf(path=str(artifacts / "6-print-a4.pdf"), prefer_css_page_size=True)
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Чековая лента").tap()
    page.wait_for_url(re.compile(r"paper=roll"))
    width = page.locator(".sheet").evaluate("e => e.getBoundingClientRect().width")
    assert width <= 80 / 25.4 * 96  # fits an 80 mm roll
    page.screenshot(path=str(artifacts / "7-print-roll.png"), full_page=True)

    assert errors == []
    context.close()


@pytest.mark.parametrize("viewport", [PORTRAIT, LANDSCAPE], ids=["portrait", "landscape"])
def test_touch_targets_and_text_are_large_enough(chromium, live_server: str, artifacts: Path, viewport) -> None:
    context = _context(chromium, viewport)
    page = context.new_page()
    for path in ("/", "/kk/services", "/ru/services/meals?category=asp", "/en/services/grade1"):
        page.goto(live_server + path)
        small_targets = page.evaluate(
            """() => [...document.querySelectorAll('a, button')]
                .filter(e => e.offsetParent !== null)
                .map(e => [e.textContent.trim().slice(0, 40), e.getBoundingClientRect()])
                .filter(([, r]) => r.width < 48 || r.height < 48)
                .map(([t, r]) => `${t} ${Math.round(r.width)}x${Math.round(r.height)}`)"""
        )
        assert small_targets == [], f"{path}: targets under 48 px: {small_targets}"
        small_text = page.evaluate(
            """() => [...document.querySelectorAll('main p, main li, main a, main span, main h1, main h2, main h3')]
                .filter(e => e.offsetParent !== null && e.textContent.trim())
                .filter(e => parseFloat(getComputedStyle(e).fontSize) < 20)
                .map(e => e.textContent.trim().slice(0, 40))"""
        )
        assert small_text == [], f"{path}: text under 20 px: {small_text}"
        overflow = page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, f"{path}: the page scrolls sideways"
        name = path.strip("/").replace("/", "-").replace("?", "-") or "welcome"
        page.screenshot(path=str(artifacts / f"{name}.png"))
    context.close()


def test_works_without_javascript(chromium, live_server: str) -> None:
    context = chromium.new_context(viewport=PORTRAIT, java_script_enabled=False)
    page = context.new_page()
    page.goto(live_server + "/en/services/camp")
    page.locator('a.choice[data-category="emergency"]').click()
    page.wait_for_url(re.compile(r"category=emergency"))
    assert page.locator("li.conditional").count() >= 1
    context.close()
