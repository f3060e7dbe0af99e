"""The README's `## Use` example and the quickstart's session, run as written on the local servers.

Each is taken from its Markdown file (the README's one ``python`` block under ``## Use``; every
``python`` block of docs/quickstart.md, in order, as one session) and run by a fresh
interpreter in a temporary folder, so the documents cannot drift from the library: a renamed
argument, a changed default or a different output fails here.  The servers they start are
their own (`failover.testing.clouds.LocalClouds`); a server that cannot start fails the test
with the example's output, which carries the server's log.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from failover.replication.journal import Journal

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("aws:us-east-1", "azure:local", "gcp:local")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(markdown: str) -> list[str]:
    return PYTHON_BLOCK.findall(markdown)


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` (a ``## `` line), up to the next ``## `` heading."""
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + len(heading) + 2)
    return markdown[start : end if end != -1 else len(markdown)]


def run_as_written(code: str, folder: Path, timeout: float) -> str:
    """Run ``code`` in a new interpreter in ``folder``; its stdout, or a failure with everything it printed.

    Unbuffered (``-u``), so what the example prints and what a command it starts prints
    arrive in the order they happened, as on a terminal."""
    done = subprocess.run(
        [sys.executable, "-u", "-c", code], cwd=folder, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"the example failed (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def last_status(output: str) -> dict[str, str]:
    """Target name -> its row, from the last table `print(store.status())` wrote in ``output``."""
    rows: dict[str, str] = {}
    for line in output.splitlines():
        if line.startswith("target ") and " role " in line:  # a table's header: a newer table starts
            rows = {}
        elif line.split(" ", 1)[0] in TARGETS:
            rows[line.split(" ", 1)[0]] = line
    return rows


def test_readme_use_example_fails_over_and_journals_the_write_aws_missed(tmp_path: Path) -> None:
    blocks = python_blocks(section((ROOT / "README.md").read_text(), "## Use"))
    assert len(blocks) == 1, f"expected one python block under '## Use', found {len(blocks)}"

    lines = run_as_written(blocks[0], tmp_path, timeout=90).splitlines()

    assert lines[0] == "b'%PDF-1.7 quarterly figures'"  # read with AWS killed
    assert lines[1] == "{'aws:us-east-1': 1}"  # the outage write is owed to AWS alone
    rows = last_status("\n".join(lines[2:]))
    assert set(rows) == set(TARGETS)
    assert "unavailable" in rows["aws:us-east-1"]
    assert " up " in rows["azure:local"] and " up " in rows["gcp:local"]
    # What it leaves behind: the durable journal, still owing AWS exactly that write.
    journal = Journal(tmp_path / "failover-journal.sqlite")
    try:
        assert {key: set(owed) for key, owed in journal.owing.items()} == {"reports/q4.pdf": {"aws:us-east-1"}}
    finally:
        journal.close()


@pytest.mark.timeout(240)  # the session waits up to 75 s for the restored cloud; the default is 120 s
def test_quickstart_session_fails_over_repairs_the_restored_cloud_and_fails_back(tmp_path: Path) -> None:
    session = "\n".join(python_blocks((ROOT / "docs" / "quickstart.md").read_text()))

    output = run_as_written(session, tmp_path, timeout=180)

    assert "b'hello, three clouds'\n" in output, output
    assert re.search(r"^b'hello, three clouds' in 0\.\d{3} s$", output, re.MULTILINE), output  # during the outage
    assert "{'aws:us-east-1': 1}" in output, output
    assert re.search(r"^aws:us-east-1 +down +\w+ +open ", output, re.MULTILINE), output  # its breaker opened
    assert "quickstart.toml: 1 of 3 target(s) down" in output, output
    assert "['.failover/marker', 'during-outage.txt', 'hello.txt']" in output, output  # AWS caught up
    assert "quickstart.toml: 0 of 3 target(s) down" in output, output
    assert " preferred " in last_status(output)["aws:us-east-1"], output  # failed back after the hysteresis
    assert (tmp_path / "quickstart.toml").is_file() and (tmp_path / "failover-journal.sqlite").is_file()
