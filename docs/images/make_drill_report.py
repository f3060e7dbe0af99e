"""Regenerate drill-report.png, the plot of one drill's report shown in docs/drill.md.

Runs the drill on the local servers with a report (extra drill options may follow, e.g.
``--scenario blackholed``), opens the report in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium: the dev extra) and has the
report's own Plotly save the plots as a PNG beside this file.  Run from the repository root:

    python3 docs/images/make_drill_report.py [DRILL OPTIONS]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from _browser import chromium, png_of_page

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1000, 1100


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "drill.html"
        drill = [sys.executable, "-m", "failover", "drill", "--real", "--report", str(report), *sys.argv[1:]]
        subprocess.run(drill, check=True, stdout=subprocess.DEVNULL)
        driver = chromium()
        try:
            png = png_of_page(driver, report.as_uri(), "drill-plots", WIDTH, HEIGHT)
        finally:
            driver.quit()
        (HERE / "drill-report.png").write_bytes(png)
    print(HERE / "drill-report.png")


if __name__ == "__main__":
    main()
