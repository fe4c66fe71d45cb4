"""One backend's throughput over another's: paired round by round where the run allows it.

A run that interleaves its repetitions (``"interleaved": true`` in its
config; see ``runner.rounds``) measures repetition *i* of every backend at a
thread count within a second or so of each other. The ratio of two such
Storage API rows is then the median of the per-round ratios
``mine.rates[i] / theirs.rates[i]``, their min and max its spread: the
machine's drift over minutes cancels out of each round's ratio. The
runserver part does the same with its repetitions (``"http_interleaved"``).
Rows that were not measured in turn (an older document, rows with
different numbers of repetitions) fall back to median over median.
Goals and the report both take their ratios from :func:`ratio`, so that the
same figure reads the same everywhere.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Ratio:
    """A ratio and its spread; ``paired``: from per-round ratios, not from medians."""

    value: float
    low: float
    high: float
    paired: bool


def interleaved(doc: dict[str, Any], *, http: bool = False) -> bool:
    """Whether *doc*'s Storage API (*http*: runserver) repetitions were measured backend by backend.

    Documents written before the runserver part was measured in turn say
    nothing of it (``"http_interleaved"``), so its ratios stay of medians.
    """
    return bool((doc.get("config") or {}).get("http_interleaved" if http else "interleaved"))


def _rates(row: dict[str, Any]) -> list[float]:
    return [float(r) for r in row.get("rates") or []]


def paired(mine: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether two rows' repetitions pair up: as many of each, and none of theirs at zero."""
    mine_rates, their_rates = _rates(mine), _rates(theirs)
    return bool(mine_rates) and len(mine_rates) == len(their_rates) and all(their_rates)


def ratio(
    mine: dict[str, Any] | None, theirs: dict[str, Any] | None, *, in_turn: bool
) -> Ratio | None:
    """*mine* over *theirs* (rows at the same scenario and count), or None without both medians.

    *in_turn*: the rows' repetitions were measured round by round (see
    :func:`interleaved`); the ratio is then the median of per-round ratios
    where the rows pair up. Otherwise it is median over median, its spread
    *mine*'s min and max over *theirs*' median.
    """
    if not mine or not theirs or not mine.get("median") or not theirs.get("median"):
        return None
    if in_turn and paired(mine, theirs):
        rounds = [a / b for a, b in zip(_rates(mine), _rates(theirs), strict=True)]
        return Ratio(statistics.median(rounds), min(rounds), max(rounds), paired=True)
    base = theirs["median"]
    low, high = mine.get("min", mine["median"]), mine.get("max", mine["median"])
    return Ratio(mine["median"] / base, low / base, high / base, paired=False)
