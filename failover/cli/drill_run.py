"""Running `failover drill` from the command line: the progress bar, the output, the exit code.

Exit codes: 0 every criterion passed; 1 the drill ran and a client saw an error, a
write was lost, or a failover or failback did not happen (or an output could not be
written); 2 something the drill needs is missing (a local server, the ``report`` extra).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from failover.cli.demo import Drill, DrillConfig, DrillResult, Environment
from failover.cli.drill_verdict import summarize
from failover.cli.output import STDOUT, write_json
from failover.cli.report import render, to_json

EXIT_MISSING = 2
# Redrawing the bar on every call would cost more than a simulated call itself.
PROGRESS_EVERY = 50


class Missing(Exception):
    """Something the drill needs is not installed; the message says what to install."""


def game_day(
    config: DrillConfig,
    console: Console,
    json_path: str | Path | None = None,
    report_path: Path | None = None,
) -> int:
    """Run the drill, show it, write the JSON (``-``: to stdout, in place of the tables)
    and the HTML report if asked; 0 if it passed, 1 if not, 2 if something is missing."""
    try:
        if report_path is not None:
            from failover.cli.drill_html import require_plotly

            require_plotly()
        with _environment(config) as env:
            result = _run(config, env, console)
    except Missing as exc:
        console.print(Text(f"failover drill: {exc}", style="bold red"))
        return EXIT_MISSING
    summary = summarize(result)
    if json_path != STDOUT:
        render(console, result, summary)
    written = _write_outputs(console, result, json_path, report_path)
    if summary.passed and written:
        return 0
    failed = ", ".join(c.name for c in summary.criteria if not c.ok) or "an output could not be written"
    console.print(Text(f"drill FAILED: {failed}", style="bold red"))
    return 1


@contextlib.contextmanager
def _environment(config: DrillConfig) -> Iterator[Environment | None]:
    if not config.real:
        yield None  # the drill builds its in-memory targets on its own clock
        return
    from failover.cli.drill_real import RealEnvironment
    from failover.testing.servers import ServerError

    try:
        env = RealEnvironment.start(config)
    except ServerError as exc:
        raise Missing(f"--real needs the local servers: {exc}") from None
    except ImportError as exc:
        raise Missing(f"--real needs the cloud SDKs: {exc} (pip install -e '.[s3,azure-blob,gcs]')") from None
    try:
        yield env
    finally:
        env.close()


def _run(config: DrillConfig, env: Environment | None, console: Console) -> DrillResult:
    progress = Progress(
        TextColumn("[bold]drill[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(", ".join(config.scenarios), total=config.calls)

        def advance(done: int) -> None:
            if done % PROGRESS_EVERY == 0 or done == config.calls:
                progress.update(task, completed=done)

        return Drill(config, env=env).run(advance)


def _write_outputs(
    console: Console, result: DrillResult, json_path: str | Path | None, report_path: Path | None
) -> bool:
    summary = summarize(result)
    ok = True
    if json_path is not None:
        ok &= _write(console, "JSON summary", json_path, lambda: write_json(json_path, to_json(result, summary)))
    if report_path is not None:
        from failover.cli.drill_html import write_report

        ok &= _write(console, "HTML report", report_path, lambda: write_report(report_path, result, summary))
    return ok


def _write(console: Console, what: str, path: str | Path, write: Callable[[], None]) -> bool:
    try:
        write()
    except OSError as exc:
        console.print(Text(f"cannot write the {what} to {path}: {exc}", style="bold red"))
        return False
    if path != STDOUT:
        console.print(f"{what} written to {path}")
    return True


__all__ = ["EXIT_MISSING", "PROGRESS_EVERY", "Missing", "game_day"]
