"""The dashboard in a real browser: uvicorn serves the app on a free loopback port, and
headless Chromium (Debian's chromium and chromium-driver) loads the page, sees every
target, and sees a target forced open through the facade, and released, within 2 s."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from starlette.applications import Starlette
from starlette.routing import Mount

from failover import FailoverDNS, FailoverStorage, Target
from failover.dashboard import Dashboard
from failover.providers.memory import MemoryDnsZone, MemoryObjectStore
from failover.testing.servers import free_port

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TARGETS = [("storage", "mem:a"), ("storage", "mem:b"), ("dns", "mem:dns")]
LIVE = 2.0  # seconds within which the page must show a change


class Served:
    """uvicorn serving ``app`` from a thread until `stop`."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="dashboard-uvicorn", daemon=True)

    def start(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10.0
        while not self.server.started:  # a real server takes real time to bind
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10.0)
        assert not self.thread.is_alive(), "uvicorn did not stop"


def chromium() -> webdriver.Chrome:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    try:
        return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    except (WebDriverException, OSError) as exc:
        why = " ".join(str(exc).partition("Stacktrace")[0].split()) or type(exc).__name__  # not the stack dump
        pytest.fail(
            f"headless Chromium could not start ({CHROMIUM}, {CHROMEDRIVER}): {why}; "
            "install the Debian packages chromium and chromium-driver (apt-get install chromium chromium-driver)",
            pytrace=False,
        )


@pytest.fixture
def facades() -> Iterator[tuple[Dashboard, FailoverStorage]]:
    dashboard = Dashboard()
    storage = FailoverStorage(
        [Target("mem:a", MemoryObjectStore()), Target("mem:b", MemoryObjectStore(), priority=1)],
        failback_after=0.0,  # released, the preferred target takes the traffic back at once
        instruments=[dashboard],
    )
    dns = FailoverDNS([Target("mem:dns", MemoryDnsZone("example.com."))], instruments=[dashboard])
    yield dashboard, storage
    storage.close()
    dns.close()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


def cell(driver: webdriver.Chrome, facade: str, target: str, column: str) -> str:
    """The text of one cell of the page, or "" while the row is not drawn."""
    found = driver.find_elements(By.CSS_SELECTOR, f'tr[data-facade="{facade}"][data-target="{target}"] td.{column}')
    try:
        return found[0].text if found else ""
    except WebDriverException:  # redrawn between the find and the read: ask again
        return ""


def wait_for(driver: webdriver.Chrome, what: str, check: Any, timeout: float) -> None:
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda d: check(d))
    except TimeoutException:
        events = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#events li")]
        state = driver.find_elements(By.ID, "state")
        pytest.fail(f"the page never showed {what}; state: {state[0].text if state else '?'}; events: {events}")


def test_the_page_shows_every_target_and_follows_a_forced_open_target_live(
    facades: tuple[Dashboard, FailoverStorage], browser: webdriver.Chrome
) -> None:
    dashboard, storage = facades
    # Mounted under a path, as an application would: the page's calls must stay below it.
    served = Served(Starlette(routes=[Mount("/ops/dashboard", dashboard.app)])).start()
    try:
        browser.get(f"http://127.0.0.1:{served.port}/ops/dashboard")  # no slash: redirected
        assert browser.title == "failover dashboard"
        wait_for(browser, "every target", lambda d: all(cell(d, f, t, "role") for f, t in TARGETS), 10.0)
        assert cell(browser, "storage", "mem:a", "role") == "preferred"
        assert cell(browser, "storage", "mem:b", "role") == "standby"
        assert cell(browser, "storage", "mem:a", "breaker") == "closed"

        storage.force_open("mem:a", "browser test")
        wait_for(browser, "mem:a forced open", lambda d: cell(d, "storage", "mem:a", "breaker") == "forced_open", LIVE)
        assert cell(browser, "storage", "mem:b", "role") == "preferred"
        wait_for(
            browser, "the event", lambda d: "forced_open (browser test)" in d.find_element(By.ID, "events").text, LIVE
        )

        storage.release("mem:a")
        wait_for(browser, "mem:a released", lambda d: cell(d, "storage", "mem:a", "breaker") == "closed", LIVE)
        wait_for(browser, "mem:a preferred again", lambda d: cell(d, "storage", "mem:a", "role") == "preferred", LIVE)
        assert "lost" not in (browser.find_element(By.ID, "state").get_attribute("class") or "")
    finally:
        served.stop()


def test_the_page_says_so_when_the_dashboard_goes_away(
    facades: tuple[Dashboard, FailoverStorage], browser: webdriver.Chrome
) -> None:
    dashboard, _ = facades
    served = Served(dashboard.app).start()
    try:
        browser.get(f"http://127.0.0.1:{served.port}/")
        wait_for(browser, "every target", lambda d: all(cell(d, f, t, "role") for f, t in TARGETS), 10.0)
    finally:
        served.stop()
    lost = "cannot reach the dashboard"
    wait_for(browser, "the lost connection", lambda d: lost in d.find_element(By.ID, "state").text, 5.0)
