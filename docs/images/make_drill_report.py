"""Regenerate drill-report.png, the plot of one drill's report shown in docs/drill.md.

Runs the drill on the local servers with a report (extra drill options may follow, e.g.
``--scenario blackholed``), opens the report in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium: the dev extra) and has the
report's own Plotly save the plots as a PNG beside this file.  Run from the repository root:

    python3 docs/images/make_drill_report.py [DRILL OPTIONS]
"""

from __future__ import annotations

import base64
import subprocess
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1000, 1100


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "drill.html"
        drill = [sys.executable, "-m", "failover", "drill", "--real", "--report", str(report), *sys.argv[1:]]
        subprocess.run(drill, check=True, stdout=subprocess.DEVNULL)
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        try:
            driver.get(report.as_uri())
            WebDriverWait(driver, 20).until(lambda d: d.find_element(By.CSS_SELECTOR, "#drill-plots .main-svg"))
            # The report's own Plotly draws the PNG: the same figure a reader sees.
            url = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                f"Plotly.toImage('drill-plots', {{format: 'png', width: {WIDTH}, height: {HEIGHT}}}).then(done);"
            )
            (HERE / "drill-report.png").write_bytes(base64.b64decode(url.partition(",")[2]))
        finally:
            driver.quit()
    print(HERE / "drill-report.png")


if __name__ == "__main__":
    main()
