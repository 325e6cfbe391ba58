"""Screenshots of an HTML report's first screen at 1400 and 390 CSS px (docs/screenshots/).

    python tools/report_screenshots.py results/report/index.html docs/screenshots

Needs Chromium, chromium-driver and selenium (`make test` installs them as root)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import browser  # noqa: E402


def _shrink(png: Path) -> None:
    """A 64-colour palette PNG: a few tens of kB instead of hundreds, for the docs."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    page, out = Path(argv[0]), Path(argv[1])
    why = browser.missing()
    if why:
        print(f"report_screenshots: {why}", file=sys.stderr)
        return 1
    driver = browser.start()
    try:
        for width in (1400, 390):
            browser.load(driver, page, width)
            browser.screenshot(driver, out / f"report-{width}px.png")
            _shrink(out / f"report-{width}px.png")
            print(out / f"report-{width}px.png")
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
