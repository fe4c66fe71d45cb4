"""A store's record of its latest evictions: what their 404s say, and which names stay taken.

Each remembered eviction is charged to the store's budget (its name and a
fixed overhead, ``budget.record_charge``); up to a sixteenth of a bounded
budget the records cost files their place (``Budget.overflow``), so that the
names of recently evicted files stay taken under pressure. Nothing here
locks: the store guards a record with its own lock, as it guards its budget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .budget import Budget
    from .engine import Eviction

__all__ = ["EVICTIONS_REMEMBERED", "EvictionRecord"]

#: How many recent evictions a store remembers at most (each also charged to the budget,
#: within budget.RECORD_SHARE of it): their names stay taken for save().
EVICTIONS_REMEMBERED = 1024


class EvictionRecord:
    """The latest evictions of one store, by name, oldest first, each charged to its budget."""

    __slots__ = ("_budget", "by_name")

    def __init__(self, budget: Budget) -> None:
        self._budget = budget
        #: The evictions by file name, oldest first. The store reads it (``in``, its
        #: truth) on its hot path, so it is never rebound: clear() empties it.
        self.by_name: dict[str, Eviction] = {}

    def remember(self, eviction: Eviction) -> None:
        """Record *eviction*, newest; forget the oldest past :data:`EVICTIONS_REMEMBERED`."""
        self.forget(eviction.name)
        self.by_name[eviction.name] = eviction
        self._budget.add_record(eviction.name)
        if len(self.by_name) > EVICTIONS_REMEMBERED:
            self.forget_oldest()

    def forget(self, name: str) -> None:
        """Forget the eviction of the file at *name*, if it is remembered."""
        if self.by_name.pop(name, None) is not None:
            self._budget.remove_record(name)

    def forget_oldest(self) -> bool:
        """Forget the oldest eviction remembered; whether there was one."""
        for name in self.by_name:
            self.forget(name)
            return True
        return False

    def trim(self) -> None:
        """Forget the oldest evictions until the budget holds its files, directories and records."""
        budget = self._budget
        max_bytes = budget.max_bytes
        while max_bytes is not None and budget.used > max_bytes and self.forget_oldest():
            pass

    def get(self, name: str) -> Eviction | None:
        """The eviction of the file at *name*, or ``None``."""
        return self.by_name.get(name)

    def newest_first(self) -> list[Eviction]:
        """Every eviction remembered, newest first."""
        return list(reversed(self.by_name.values()))

    def clear(self) -> None:
        """Forget every eviction (the store clears its budget's charges itself)."""
        self.by_name.clear()
