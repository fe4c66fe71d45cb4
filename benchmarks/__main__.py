"""``python -m benchmarks``: run the suite, show the table, write JSON, Markdown and a PNG."""

from __future__ import annotations

import json
import shlex
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import report
from .runner import make_config, parse_args, run


def main(argv: list[str] | None = None) -> int:
    """Run, then present; return 0 (missed goals are reported, not a failure of the run)."""
    args = parse_args(argv)
    config = make_config(args)
    console = Console()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        doc = run(config, progress)
    doc["command"] = "nox -s bench" + (" -- " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"bench-{config.mode}"
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    stem.with_suffix(".md").write_text(report.markdown(doc))
    if not args.no_plot:
        report.plot(doc, stem.with_suffix(".png"))
    report.terminal(doc, console)
    console.print(f"Results: {stem}.json, .md" + ("" if args.no_plot else ", .png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
