"""Regenerate the benchmark plots shown in docs/benchmarks.md from benchmarks/results/*.json.

Each benchmark writes its figures to ``benchmarks/results/``; this draws them with Plotly
and saves PNGs beside this file through headless Chromium (see ``_browser.py``).  Run
from the repository root, after the benchmarks:

    python3 docs/images/make_benchmark_plots.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _browser import chromium, save_png
from plotly import graph_objects as go

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "benchmarks" / "results"
WIDTH, HEIGHT = 800, 380


def results(name: str) -> Any:
    return json.loads((RESULTS / f"{name}.json").read_text())


def bars(title: str, axis: str, groups: dict[str, dict[str, float]]) -> go.Figure:
    """One bar per category for each named series (e.g. p50 and p99)."""
    figure = go.Figure(
        [go.Bar(name=series, x=list(values), y=list(values.values())) for series, values in groups.items()]
    )
    figure.update_layout(title_text=title, yaxis_title=axis, barmode="group", legend={"orientation": "h"})
    return figure


def overhead() -> go.Figure:
    ns = results("overhead")["overhead_ns"]
    shown = {name: ns[name] for name in ("failover", "circuitbreaker", "pybreaker")}
    return bars("Cost per call beyond the bare call (one thread)", "ns per call", {"overhead": shown})


def replication() -> go.Figure:
    variants = results("replication")["local"]["variants"]
    names = {"aws:local": "S3 alone", "azure:local": "Azure alone", "gcp:local": "GCS alone", "primary": "Primary",
             "all": "All, at once", "all_in_turn": "All, in turn", "quorum_2": "Quorum(2)"}  # fmt: skip
    groups = {q: {names[v]: variants[v][f"{q}_ms"] for v in names} for q in ("p50", "p99")}
    return bars("Replicated 4 KiB writes on the local servers", "ms", groups)


def fleet() -> go.Figure:
    data = results("fleet")
    reached = data["reached_dead_target"]
    groups = {
        label: {f"the target fails {how}": reached[f"{sharing}, {how} failure"] for how in ("slow", "fast")}
        for sharing, label in (("local", "local breakers"), ("redis", "Redis store"))
    }
    figure = bars(f"Calls reaching a dead target, {data['processes']} processes", "calls", groups)
    figure.add_hline(y=data["goal_reached"], line_dash="dot", annotation_text="threshold + processes")
    return figure


def hedged() -> go.Figure:
    rows = results("hedged_reads")["results"]
    groups = {q: {name: row[f"{q}_ms"] for name, row in rows.items()} for q in ("p50", "p99")}
    return bars("Hedged reads with a slow primary", "ms", groups)


def main() -> None:
    driver = chromium()
    try:
        for name, build in (("overhead", overhead), ("replication", replication), ("fleet", fleet), ("hedged", hedged)):
            path = HERE / f"bench-{name}.png"
            save_png(driver, build(), path, WIDTH, HEIGHT)
            print(path)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
