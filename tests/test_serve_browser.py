"""The drawing page end to end in a real headless browser: Debian's chromium, driven by
Playwright, draws digits stroke by stroke and reads the answer off the page."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import mnistnp
from mnistnp.nn import Sequential
from mnistnp.serve import App, ServedModel, running

pytest.importorskip("waitress")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium); "
    "playwright cannot download a browser here")

Stroke = list[tuple[float, float]]
# Digits as strokes, in fractions of the pad: drawn one stroke at a time, as a hand would.
SEVEN: list[Stroke] = [[(0.28, 0.22), (0.72, 0.22)], [(0.72, 0.22), (0.42, 0.82)]]
ZERO: list[Stroke] = [[(0.5 + 0.2 * math.sin(a), 0.5 - 0.3 * math.cos(a))
                       for a in (t * math.pi / 12 for t in range(25))]]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory, model: Sequential) -> Iterator[str]:
    path = tmp_path_factory.mktemp("serve") / "mlp.npz"
    mnistnp.save_model(path, model, {"dataset": "mnist"})
    with running(App([ServedModel(path)])) as base:
        yield base


def draw(page: sync_api.Page, strokes: list[Stroke]) -> None:
    box = page.locator("#pad").bounding_box()
    assert box is not None
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=8)
        page.mouse.up()


def read_bars(page: sync_api.Page) -> dict[int, float]:
    """Each class's probability as its bar shows it: the bar's drawn width over its track's."""
    page.wait_for_timeout(400)  # the bars' 120 ms transition
    widths = page.evaluate("""() => Array.from(
        document.querySelectorAll('[data-role=bars] li'), (li) => [Number(li.dataset.class),
        li.querySelector('.fill').getBoundingClientRect().width
        / li.querySelector('.track').getBoundingClientRect().width])""")
    assert len(widths) == 10
    return {c: share for c, share in widths}


def expect_answer(page: sync_api.Page, digit: str) -> None:
    shown = page.locator("[data-role=digit]")
    sync_api.expect(shown).to_have_text(digit, timeout=20_000)
    sync_api.expect(page.locator("#status")).to_contain_text(f"It reads {digit}")
    page.wait_for_function("document.querySelector('[data-role=bars] li.top') !== null")
    bars = read_bars(page)
    assert max(bars, key=bars.__getitem__) == int(digit)
    assert bars[int(digit)] > 0.5 and sum(bars.values()) == pytest.approx(1, abs=0.01)
    assert page.locator("[data-role=bars] li.top").get_attribute("data-class") == digit


def test_drawing_digits_in_chromium_shows_the_answers(url: str, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_selector("body[data-ready=yes]")
            draw(page, SEVEN)
            expect_answer(page, "7")
            # What the page shows as the network's input is the answer's 28x28 image.
            seen = page.evaluate("""() => Array.from(document.querySelector(
                '[data-role=seen]').getContext('2d').getImageData(0, 0, 28, 28).data)""")
            assert max(seen[0::4]) > 200 and seen[0] == 0  # light ink, black corner
            assert page.locator(".layer-row canvas").count() == 1  # the hidden layer
            page.screenshot(path=tmp_path / "seven.png")
            page.click("#clear")
            sync_api.expect(page.locator("[data-role=digit]")).to_have_text("–")
            assert max(read_bars(page).values()) == 0
            draw(page, ZERO)
            expect_answer(page, "0")
            page.screenshot(path=tmp_path / "zero.png")
        finally:
            browser.close()
    assert (tmp_path / "seven.png").stat().st_size > 0
    assert (tmp_path / "zero.png").stat().st_size > 0
