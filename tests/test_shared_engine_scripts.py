"""Each of the shared engine's scripts carries the prelude's helpers that it calls, and no others.

Redis runs a script's whole text at every call, so a script starts with only
the helpers its body reaches (``redis_lua._script``). A helper left out would
fail only on the path that calls it, as a Lua error on the server: these
tests read every call in every script, without running one.
"""

from __future__ import annotations

import re

import pytest

from inmemorystorage import redis_lua

#: A call of a name: not a method (``redis.call``) and not a definition.
CALL = re.compile(r"(?<![.:\w])(?<!function )([A-Za-z_]\w*)\s*\(")
DEFINED = re.compile(
    r"^\s*local function (\w+)|^\s*local (\w+) = function|^function (\w+)", re.MULTILINE
)
RARE = set(re.findall(r"^local function (\w+)", redis_lua._RARE, re.MULTILINE))
HELPERS = set(re.findall(r"^local function (\w+)", redis_lua._PRELUDE, re.MULTILINE)) | RARE


def code_of(script: str) -> str:
    """*script* without its comments and string literals."""
    return redis_lua._COMMENT_OR_TEXT.sub(" ", script)


def defined_in(script: str) -> set[str]:
    return {a or b or c for a, b, c in DEFINED.findall(script)}


@pytest.mark.parametrize("name", redis_lua.__all__)
def test_every_helper_a_script_calls_is_defined_in_it(name: str) -> None:
    script = getattr(redis_lua, name)
    called = set(CALL.findall(code_of(script))) & HELPERS
    assert called <= defined_in(script), f"{name} calls {sorted(called - defined_in(script))}"


@pytest.mark.parametrize("name", redis_lua.__all__)
def test_a_script_carries_no_helper_it_never_calls(name: str) -> None:
    script = getattr(redis_lua, name)
    carried = defined_in(script) & HELPERS
    called = set(CALL.findall(code_of(script)))
    assert carried <= called, f"{name} carries {sorted(carried - called)}"


def test_a_read_carries_a_handful_of_helpers_and_a_save_most_of_them() -> None:
    assert len(defined_in(redis_lua.READ) & HELPERS) < len(HELPERS) // 3
    assert {"settle", "make_room", "remember"} <= defined_in(redis_lua.PUT)
    assert not defined_in(redis_lua.STATS) & HELPERS


def test_the_rare_helpers_define_nothing_but_functions() -> None:
    """Each is made by ``make_rare()`` into a name declared before it: a constant would be lost."""
    defined = re.findall(r"^local (?:function )?(\w+)", redis_lua._RARE, re.MULTILINE)
    assert sorted(defined) == sorted(RARE)


def test_a_save_that_needs_no_rare_helper_makes_none() -> None:
    """The rare helpers are made only where a body calls ``make_rare()`` (see ``_script``)."""
    body = redis_lua.PUT.split("\nlocal max_bytes = ", 1)[1]
    first_rare_call = min(body.index(name + "(") for name in RARE & set(CALL.findall(body)))
    assert body.index("make_rare()") < first_rare_call
    assert not re.search(r"^make_rare\(\)", redis_lua.PUT, re.MULTILINE)
    assert re.search(r"^make_rare\(\)", redis_lua.DELETE, re.MULTILINE)
