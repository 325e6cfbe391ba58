"""A headless Chromium driven by Selenium, for looking at the HTML report as a person
would: at a given viewport width, with the requests the page made recorded. Used by
tests/test_report_browser.py and tools/report_screenshots.py.

The browser is Debian's ``chromium`` with its ``chromium-driver`` (`make test` installs
both where it runs as root with apt); nothing is downloaded at run time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DRIVERS = ("chromedriver",)
#: viewport height used at every width (a phone's, roughly)
HEIGHT = {390: 844}
DEFAULT_HEIGHT = 900


def missing() -> str | None:
    """Why no headless browser can run here, or None when one can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "no Chromium here (apt-get install chromium chromium-driver; `make test` does it)"
    if not any(shutil.which(d) for d in DRIVERS):
        return "no chromedriver here (apt-get install chromium-driver; `make test` does it)"
    return None


def start():
    """A headless Chromium (no sandbox: tests may run as root) that logs its network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.add_argument("--hide-scrollbars")
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=next(shutil.which(d) for d in DRIVERS if shutil.which(d)))
    return webdriver.Chrome(options=opts, service=service)


def load(driver, page: Path, width: int) -> None:
    """Open ``page`` with a viewport ``width`` CSS pixels wide (a phone below 600)."""
    height = HEIGHT.get(width, DEFAULT_HEIGHT)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    driver.get_log("performance")  # forget what earlier pages asked for
    driver.get(Path(page).resolve().as_uri())


def requested_urls(driver) -> list[str]:
    """Every URL the page has asked for since :func:`load`."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def screenshot(driver, out: Path) -> None:
    """The visible viewport (the first screen) as a PNG."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(driver.get_screenshot_as_png())
