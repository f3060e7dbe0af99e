"""The drill's HTML report: one self-contained file, Plotly's JavaScript embedded.

Five plots share the drill's time axis: calls each target answered per second (a
replicated write counts on every target that took it), client-visible errors, p50 and
p99 latency, each target's breaker state as colour bands, and the replication backlog
(journal rows owed).  Below them: the scenarios, the configuration, the summary and the
criteria.  The run's JSON summary is embedded too (``<script id="drill-data">``), so the
page can be read back by a program; the figure's own data is in ``#drill-figure``.
"""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from failover.cli.report import rows_of, summary_rows, title_of, to_json
from failover.cli.timeline import Row, short_name
from failover.errors import ConfigError

if TYPE_CHECKING:
    from failover.cli.demo import DrillResult
    from failover.cli.drill_verdict import Summary

# Breaker states as numbers for the bands (a heatmap), and their colours.
STATE_CODES = {"closed": 0, "half_open": 1, "open": 2, "forced_closed": 0, "forced_open": 2}
_BAND_COLOURS = [[0.0, "#2ca02c"], [0.5, "#ffbf00"], [1.0, "#d62728"]]
PLOTS = ("calls/s per target", "client-visible errors/s", "latency (ms)", "breaker state", "replication backlog (rows)")


def require_plotly() -> None:
    """Before a drill runs: the report needs the ``report`` extra."""
    try:
        import plotly  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise ConfigError(
            "--report needs plotly, the report extra: pip install 'multicloud-failover[report]' "
            "(from a clone: pip install -e '.[report]')"
        ) from None


def figure(result: DrillResult) -> Any:
    from plotly import graph_objects as go
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    rows = rows_of(result)
    seconds = [row.second for row in rows]
    fig = make_subplots(rows=5, cols=1, shared_xaxes=True, subplot_titles=PLOTS, vertical_spacing=0.05)
    for name in result.targets:
        fig.add_trace(go.Scatter(x=seconds, y=[r.took[name] for r in rows], name=short_name(name)), row=1, col=1)
    fig.add_trace(go.Bar(x=seconds, y=[r.errors for r in rows], name="errors", marker_color="#d62728"), row=2, col=1)
    for q in (50, 99):
        fig.add_trace(go.Scatter(x=seconds, y=_latency(rows, q), name=f"p{q}"), row=3, col=1)
    fig.add_trace(
        go.Heatmap(
            x=seconds,
            y=[short_name(n) for n in result.targets],
            z=[[STATE_CODES.get(r.breakers[n], 2) for r in rows] for n in result.targets],
            zmin=0,
            zmax=2,
            colorscale=_BAND_COLOURS,
            showscale=False,
            name="breaker",
            hovertemplate="t=%{x}s %{y}: %{z} (0 closed, 1 half-open, 2 open)<extra></extra>",
        ),
        row=4,
        col=1,
    )
    fig.add_trace(go.Scatter(x=seconds, y=[r.backlog for r in rows], name="backlog", fill="tozeroy"), row=5, col=1)
    for episode in result.episodes:
        fig.add_vrect(x0=episode.outage_at, x1=episode.recovery_at, fillcolor="red", opacity=0.08, line_width=0)
    fig.update_xaxes(title_text="drill seconds", row=5, col=1)
    fig.update_layout(height=1100, title_text=title_of(result), legend={"orientation": "h"})
    return fig


def _latency(rows: list[Row], q: float) -> list[float]:
    return [round(row.percentile(q) * 1000, 3) for row in rows]


def render_html(result: DrillResult, summary: Summary) -> str:
    import plotly.io as pio  # type: ignore[import-untyped]

    fig = figure(result)
    plot = pio.to_html(fig, include_plotlyjs=True, full_html=False, div_id="drill-plots")
    config = {**dataclasses.asdict(result.config), "calls": result.config.calls}
    episodes = [
        (e.scenario.name, f"t={e.outage_at:.1f}s", f"t={e.recovery_at:.1f}s", e.scenario.summary)
        for e in result.episodes
    ]
    criteria = [("PASS" if c.ok else "FAIL", c.name, c.detail) for c in summary.criteria]
    verdict = "PASSED" if summary.passed else "FAILED"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title_of(result))}</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}.FAIL{color:#c00}.PASS{color:#080}</style>",
            "</head><body>",
            f"<h1>{html.escape(title_of(result))}: {verdict}</h1>",
            _table("Scenarios", ("scenario", "outage", "healed", "what"), episodes),
            _table("Summary", ("", ""), summary_rows(result, summary)),
            _table("Criteria", ("", "criterion", "detail"), criteria, first_class=True),
            plot,
            _table("Configuration", ("", ""), [(k, str(v)) for k, v in config.items()]),
            _script("drill-data", to_json(result, summary)),
            _script("drill-figure", json.loads(fig.to_json())),
            "</body></html>",
        ]
    )


def _table(title: str, header: tuple[str, ...], rows: Sequence[tuple[str, ...]], *, first_class: bool = False) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        css = f' class="{html.escape(row[0])}"' if first_class else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<h2>{html.escape(title)}</h2><table><tr>{head}</tr>{''.join(body)}</table>"


def _script(element_id: str, document: Any) -> str:
    # "</" must not appear inside a script element: escape it in the JSON.
    text = json.dumps(document).replace("</", "<\\/")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def write_report(path: str | Path, result: DrillResult, summary: Summary) -> None:
    """The report to ``path``; an OSError is the caller's to report."""
    Path(path).write_text(render_html(result, summary), encoding="utf-8")


__all__ = ["PLOTS", "STATE_CODES", "figure", "render_html", "require_plotly", "write_report"]
