"""listdir() under threads: each listing is one moment's view, never a stale or mixed one.

The store keeps each directory's listing until its children change (so a
listing of 1,000 files costs a copy, not 1,000 slices); the second test
breaks that cache's invalidation to see the first one's check fail. (Without
the lock, the check fails too, but too rarely to test: under the GIL the
copy of a directory's names is one C call, and only the install of a
listing can race with its invalidation.)
"""

from __future__ import annotations

import sys
import threading
import time

import pytest

from inmemorystorage.store import Store

from .stress import check_consistency

WINDOW = 20
#: The longest a writer slides (a bound in time on a loaded machine, not a measurement).
SECONDS = 3


@pytest.fixture(autouse=True)
def switch_often():
    """Switch threads every microsecond, so that every interleaving comes up often."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def slide_and_list(store: Store, steps: int, readers: int) -> list[str]:
    """One writer slides a window of WINDOW files through 'd'; readers check every listing.

    At any moment 'd' holds files n-WINDOW+1..n (or one more, between a save
    and the delete that follows it), and n only grows: a listing must be
    such a contiguous window, never older than the one before it, and
    without a file whose delete() had returned before the listing began.
    """
    problems: list[str] = []
    done = threading.Event()
    deleted = [-1]  # the latest number whose delete() has returned

    def write() -> None:
        try:
            for n in range(WINDOW):
                store.write(f"d/{n:06}", b"x")
            deadline = time.monotonic() + SECONDS
            for n in range(WINDOW, steps):
                if time.monotonic() > deadline:
                    break
                store.write(f"d/{n:06}", b"x")
                time.sleep(0)  # let readers list (and the store keep their listing) between
                store.delete(f"d/{n - WINDOW:06}")
                deleted[0] = n - WINDOW
                time.sleep(0)
        finally:
            done.set()

    def read() -> None:
        newest = -1
        while not done.is_set():
            gone = deleted[0]
            _dirs, files = store.listdir("d")
            numbers = sorted(map(int, files))
            if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
                problems.append(f"not one moment's view: {numbers[:3]}...{numbers[-3:]}")
            elif numbers[0] <= gone:
                problems.append(f"{numbers[0]} listed after its delete() returned ({gone})")
            elif numbers[-1] < newest:
                problems.append(f"a listing older than the last: {numbers[-1]} < {newest}")
            newest = max(newest, numbers[-1])
            if len(problems) > 5:
                return

    threads = [threading.Thread(target=write)]
    threads += [threading.Thread(target=read) for _ in range(readers)]
    store.write("d/000000", b"x")
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return problems + check_consistency(store)


@pytest.mark.stress
def test_every_listing_is_one_moment_s_view():
    """Four readers list a directory while a writer slides its files: no mixed, no stale view."""
    assert [] == slide_and_list(Store(), steps=2_000, readers=4)


@pytest.mark.stress
def test_the_check_fails_when_the_kept_listing_is_not_renewed(monkeypatch):
    """A store that forgets to drop a directory's listing on delete is caught."""
    store = Store()
    remove_file = store._remove_file

    def remove_and_keep_listing(name: str, stamp: int) -> bytes:
        directory = store._dirs["d"]
        listing = directory.listing
        content = remove_file(name, stamp)
        directory.listing = listing  # the bug: the old listing survives the delete
        return content

    monkeypatch.setattr(store, "_remove_file", remove_and_keep_listing)
    assert [] != slide_and_list(store, steps=1_000, readers=2)
