"""A real headless Chromium for the hosted pages, driven through Selenium.

The browser is Debian's `chromium` with its `chromium-driver` (both installed by `scripts/test`);
Selenium is pointed at `/usr/bin/chromedriver`, so it never looks for or downloads a driver or a
browser of its own. `chromium` (the fixture) gives a `Page` whose browser is stopped after the
test. `Page` makes driving a page short: fill a field by its label, submit, wait for a URL or an
element (conditions, never sleeps), and save screenshots at a desktop's and a phone's width into
`target/screenshots/` (git-ignored), one file per page and width.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Selenium must use the driver it is given and nothing else: no lookup, no download, no stats.
os.environ.setdefault("SE_OFFLINE", "true")
os.environ.setdefault("SE_AVOID_STATS", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.wait import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

SCREENSHOTS = Path(__file__).resolve().parent.parent / "target" / "screenshots"

# (name, CSS pixels wide, high, device pixel ratio, mobile): a laptop, and an iPhone 12–15.
WIDTHS = [
    ("desktop", 1280, 800, 1, False),
    ("phone", 390, 844, 3, True),
]

# How long a page may take to get somewhere (a bound for a stuck test, not a measurement).
WAIT_SECONDS = 30


class Page:
    """One headless Chromium tab, with the few steps a test of the hosted pages takes."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    # --- where it is ---------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return self.driver.current_url

    @property
    def title(self) -> str:
        return self.driver.title

    def wait_for(self, condition: Callable[[Page], object], what: str) -> object:
        """Waits until `condition(self)` is truthy; fails naming `what` and where the browser is."""
        try:
            return WebDriverWait(self.driver, WAIT_SECONDS).until(lambda _: condition(self))
        except TimeoutException:
            pytest.fail(f"the browser never got to {what}; it is at {self.url}")

    def wait_for_url(self, prefix: str) -> str:
        """Waits for the browser to be at a URL starting with `prefix`; that URL."""
        self.wait_for(lambda page: page.url.startswith(prefix), prefix)
        return self.url

    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.url).query))

    # --- what it shows -------------------------------------------------------------------------

    def element(self, css: str) -> WebElement:
        """The element `css` selects, once the page has it."""
        found = self.wait_for(lambda page: page.driver.find_elements(By.CSS_SELECTOR, css), f"an element `{css}`")
        return found[0]  # type: ignore[index]

    def text(self, css: str = "body") -> str:
        return self.element(css).text

    def field(self, label: str) -> WebElement:
        """The input whose `<label>` reads `label` (the label's `for` names it)."""
        for candidate in self.driver.find_elements(By.TAG_NAME, "label"):
            if candidate.text.strip() == label:
                target = candidate.get_attribute("for")
                assert target, f"the label {label!r} names no field"
                return self.driver.find_element(By.ID, target)
        labels = [candidate.text for candidate in self.driver.find_elements(By.TAG_NAME, "label")]
        raise AssertionError(f"no label {label!r} on {self.url}; the labels are {labels}")

    # --- what a person does --------------------------------------------------------------------

    def fill(self, fields: dict[str, str]) -> None:
        """Types into fields found by their labels: `fill({"Password": "…"})`."""
        for label, value in fields.items():
            field = self.field(label)
            field.clear()
            field.send_keys(value)

    def submit(self, button: str | None = None) -> None:
        """Clicks the submit button (the one reading `button`, when given) and waits for the
        page it posted to replace this one."""
        buttons = self.driver.find_elements(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
        if button is not None:
            buttons = [b for b in buttons if (b.text or b.get_attribute("value") or "").strip() == button]
        assert buttons, f"no submit button {button or ''} on {self.url}"
        old = self.driver.find_element(By.TAG_NAME, "html")
        buttons[0].click()
        self.wait_for(lambda page: _is_stale(old), "the page the form posts to")

    # --- screenshots ---------------------------------------------------------------------------

    def screenshots(self, name: str) -> list[Path]:
        """Saves the page as `target/screenshots/{name}-{width}.png` at each of WIDTHS; the files."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        saved = []
        try:
            for width_name, width, height, ratio, mobile in WIDTHS:
                self.driver.execute_cdp_cmd(
                    "Emulation.setDeviceMetricsOverride",
                    {"width": width, "height": height, "deviceScaleFactor": ratio, "mobile": mobile},
                )
                # The new size applies at the next layout: wait until the page has it.
                self.wait_for(
                    lambda page, w=width: page.driver.execute_script("return window.innerWidth") == w,
                    f"a layout {width} pixels wide",
                )
                path = SCREENSHOTS / f"{name}-{width_name}.png"
                assert self.driver.save_screenshot(str(path)), path
                saved.append(path)
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        return saved


def _is_stale(element: WebElement) -> bool:
    """Whether `element` is gone (its page was replaced)."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        # Asked while the old document is being torn down, Chromium answers with this instead
        # of a stale reference: the element's page is gone all the same.
        if "does not belong to the document" in (error.msg or ""):
            return True
        raise


def start_chromium(language: str = "en-US") -> webdriver.Chrome:
    """A headless Chromium asking for `language` (Accept-Language), with a fresh profile."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            pytest.fail(f"{path} is missing: scripts/test installs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new",
        # Tests run as root, where Chromium's sandbox cannot start.
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-features=Translate,OptimizationHints,MediaRouter",
        "--window-size=1280,800",
        f"--lang={language}",
    ]:
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def chromium() -> Iterator[Page]:
    """A headless Chromium, stopped after the test."""
    driver = start_chromium()
    try:
        yield Page(driver)
    finally:
        driver.quit()
