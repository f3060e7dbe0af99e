"""The drill's HTML report: self-contained, and its numbers are the run's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from failover.cli.demo import DrillConfig, run_drill
from failover.cli.drill_html import write_report
from failover.cli.drill_verdict import summarize
from failover.cli.main import main
from failover.cli.report import rows_of
from failover.errors import ConfigError


def embedded(text: str, element_id: str) -> object:
    match = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', text, re.S)
    assert match, element_id
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_the_report_numbers_equal_the_run(tmp_path: Path) -> None:
    result = run_drill(DrillConfig(duration=20, rate=20, scenarios=("blackholed",)))
    summary = summarize(result)
    path = tmp_path / "drill.html"
    write_report(path, result, summary)
    text = path.read_text(encoding="utf-8")
    rows = rows_of(result)

    data = embedded(text, "drill-data")
    assert isinstance(data, dict)
    assert data["ops"] == summary.ops and data["lost_writes"] == summary.check.lost == 0
    assert data["write_check"]["copies_checked"] == summary.check.copies_checked
    assert data["failover_at_s"] == summary.failover_at

    figure = embedded(text, "drill-figure")
    assert isinstance(figure, dict)
    traces = {trace.get("name"): trace for trace in figure["data"]}
    for name in result.targets:
        assert traces[name.partition(":")[2]]["y"] == [row.took[name] for row in rows]
    assert traces["errors"]["y"] == [row.errors for row in rows]
    assert traces["p99"]["y"] == [round(row.percentile(99) * 1000, 3) for row in rows]
    assert traces["backlog"]["y"] == [row.backlog for row in rows]
    assert traces["breaker"]["z"][0] == [
        {"closed": 0, "half_open": 1, "open": 2}[r.breakers[result.targets[0]]] for r in rows
    ]
    assert max(traces["backlog"]["y"]) > 0  # writes owed to the blackholed primary showed

    # The summary table shows the same figures, and the page needs no network.
    assert f"{summary.check.lost} of {summary.check.acknowledged}" in text
    assert "blackholed" in text and "Configuration" in text
    assert '<script src="http' not in text


def test_report_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.html"
    assert main(["drill", "--duration", "10", "--rate", "10", "--report", str(path)]) == 0
    assert "HTML report written to" in capsys.readouterr().out
    assert path.stat().st_size > 1_000_000  # plotly.js is in the file


def test_without_plotly_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_plotly(name: str, *args: object, **kwargs: object) -> object:
        if name == "plotly" or name.startswith("plotly."):
            raise ImportError("No module named 'plotly'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_plotly)
    from failover.cli.drill_html import require_plotly

    with pytest.raises(ConfigError, match=r"report extra"):
        require_plotly()
