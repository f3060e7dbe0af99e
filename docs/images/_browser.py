"""Plotly figures to PNG with the figure's own plotly.js in headless Chromium.

Debian's ``chromium`` and ``chromium-driver``, driven by selenium (the dev extra): no
image-export package is needed, and the PNG is what a reader of the HTML would see.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def chromium() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def png_of_page(driver: webdriver.Chrome, url: str, div_id: str, width: int, height: int) -> bytes:
    """The PNG of the Plotly plot ``div_id`` on the page at ``url``."""
    driver.get(url)
    WebDriverWait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, f"#{div_id} .main-svg"))
    data_url = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        f"Plotly.toImage('{div_id}', {{format: 'png', width: {width}, height: {height}}}).then(done);"
    )
    return base64.b64decode(str(data_url).partition(",")[2])


def save_png(driver: webdriver.Chrome, figure: Any, path: Path, width: int, height: int) -> None:
    """Write ``figure`` (a plotly Figure) to ``path`` as a PNG."""
    with tempfile.TemporaryDirectory() as work:
        page = Path(work) / "figure.html"
        page.write_text(figure.to_html(include_plotlyjs=True, full_html=True, div_id="figure"))
        path.write_bytes(png_of_page(driver, page.as_uri(), "figure", width, height))
