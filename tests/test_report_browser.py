"""The HTML report in a real headless browser (Chromium): usable on a phone (390 px) and
on a desktop (1400 px), every image described, nothing fetched from outside the file.
Skips, saying why, where no browser is installed (`make test` installs one as root)."""

from __future__ import annotations

import pytest

import browser

WIDTHS = (390, 1400)


@pytest.fixture(scope="module")
def driver():
    why = browser.missing()
    if why:
        pytest.skip(f"no headless browser: {why}")
    d = browser.start()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def pages(driver, report_site):
    """What the page looks like at each width: sizes, images, requests, the first screen."""
    out = {}
    for width in WIDTHS:
        browser.load(driver, report_site["out"], width)
        out[width] = driver.execute_script(
            """
            const verdict = document.querySelector('p.verdict');
            const imgs = [...document.images].map(
              i => ({alt: i.alt, w: i.getBoundingClientRect().width}));
            return {
              viewport: window.innerWidth,
              scroll_width: document.documentElement.scrollWidth,
              body_width: document.body.scrollWidth,
              imgs: imgs,
              verdict_top: verdict ? verdict.getBoundingClientRect().top : null,
              viewport_height: window.innerHeight,
              first_card: (document.querySelector('.phase-card') || {}).innerText || '',
            };
            """
        )
        out[width]["urls"] = browser.requested_urls(driver)
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_no_sideways_panning(pages, width):
    page = pages[width]
    assert page["viewport"] == width
    assert page["scroll_width"] <= page["viewport"], page
    assert page["body_width"] <= page["viewport"], page


@pytest.mark.parametrize("width", WIDTHS)
def test_every_image_has_alt_text_and_fits(pages, width):
    imgs = pages[width]["imgs"]
    assert len(imgs) == 4
    assert all(i["alt"].strip() for i in imgs)
    assert all(i["w"] <= width for i in imgs)


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_fetched_from_outside_the_file(pages, width):
    urls = pages[width]["urls"]
    assert urls, "the browser recorded no request at all: the log is not working"
    outside = [u for u in urls if not u.startswith(("file://", "data:"))]
    assert outside == []


@pytest.mark.parametrize("width", WIDTHS)
def test_first_screen_answers(pages, width):
    page = pages[width]
    assert page["verdict_top"] is not None and page["verdict_top"] < page["viewport_height"]
    card = page["first_card"]
    assert "steady rate" in card and "one real pass" in card
    assert "kernel warm-up" in card
