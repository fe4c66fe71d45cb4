"""``python -m benchmarks``: run the suite, show the tables, write JSON, Markdown and two PNGs.

Progress is one line per finished step (what it measured, how long it took),
so that a run piped to a file or a CI log shows where it is; in a terminal a
live bar runs below those lines.
"""

from __future__ import annotations

import json
import shlex
import sys
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import report
from .runner import make_config, parse_args, run

if TYPE_CHECKING:
    from pathlib import Path


def present(doc: dict[str, Any], stem: Path, *, figures: bool = True) -> list[Path]:
    """Write the Markdown and (unless told not to) the two figures of *doc* at *stem*.*."""
    images = {}
    if figures:
        summary_png = stem.with_name(f"{stem.name}-summary.png")
        report.plot_summary(doc, summary_png)
        report.plot(doc, stem.with_suffix(".png"))
        images = {"summary": summary_png.name, "detail": stem.with_suffix(".png").name}
    stem.with_suffix(".md").write_text(report.markdown(doc, images))
    return [stem.with_suffix(".md"), *(stem.with_name(name) for name in images.values())]


def main(argv: list[str] | None = None) -> int:
    """Run, then present; return 0 (missed goals are reported, not a failure of the run)."""
    args = parse_args(argv)
    console = Console()
    if args.render:
        doc = json.loads(args.render.read_text())
        written = present(doc, args.render.with_suffix(""), figures=not args.no_plot)
        console.print("Rendered: " + ", ".join(map(str, written)), highlight=False, soft_wrap=True)
        return 0
    config = make_config(args)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int, label: str, result: str | None) -> None:
            bar.update(task, completed=done, total=total, description=label)
            if result is not None:
                width = len(str(total))
                console.print(
                    f"[{done:>{width}}/{total}] {label}: {result}", highlight=False, soft_wrap=True
                )

        doc = run(config, progress)
    doc["command"] = "nox -s bench" + (" -- " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"bench-{config.mode}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    written = [stem.with_suffix(".json"), *present(doc, stem, figures=not args.no_plot)]
    report.terminal(doc, console)
    console.print("Results: " + ", ".join(map(str, written)), highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
