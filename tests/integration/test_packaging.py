"""The wheel holds what `import failover` needs, under the project's own name only."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_adapters_as_failover_providers_and_nothing_at_top_level(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = tmp_path.glob("multicloud_failover-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert tops == {"failover"}, f"a wheel must install only the failover package, not {sorted(tops)}"
    for module in (
        "failover/providers/aws/s3.py",
        "failover/providers/memory/storage.py",
        "failover/providers/py.typed",
        "failover/py.typed",
        "failover/testing/servers.py",
    ):
        assert module in names, module
