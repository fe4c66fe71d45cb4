"""The shared engine's scripts travel on a lane of redis-py connections kept by the engine.

Saves and reads skip redis-py's command layer (see ``inmemorystorage/redis_lane.py``):
these tests hold the lane to what redis-py's own path promised. A server that
forgot the scripts, or closed the connections, is answered as before; threads
never share a connection at once, and never make more than there are threads;
a forked process never speaks on its parent's sockets. Real servers, never mocks.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import uuid
from collections.abc import Callable

import pytest
import redis
from django.core.files.base import ContentFile
from redis.utils import HIREDIS_AVAILABLE

from inmemorystorage import InMemoryStorage, redis_lua
from inmemorystorage.exceptions import EngineUnavailable
from inmemorystorage.redis_lane import evalsha, joined, packed, packed_arguments

pytestmark = pytest.mark.usefixtures("forget_shared_stores")

THREADS = 8
CALLS = 150


def named_url(url: str) -> tuple[str, str]:
    """*url* with a client name of its own: a client (and a lane) no other test has used."""
    name = f"lane-{uuid.uuid4().hex[:12]}"
    return f"{url}?client_name={name}", name


def connections_named(url: str, name: str) -> int:
    """How many connections the server holds whose client name is *name*."""
    return sum(1 for client in redis.Redis.from_url(url).client_list() if client["name"] == name)


def run_threads(work: Callable[[int], None]) -> None:
    """Run work(0) .. work(THREADS - 1), each on a thread of its own; return when all end."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_a_server_that_forgot_the_scripts_still_saves_and_reads(clean_redis):
    storage = InMemoryStorage(server=clean_redis, namespace="lane")
    storage.save("before.txt", ContentFile(b"before"))

    redis.Redis.from_url(clean_redis).script_flush()  # as after a restart, or by hand

    assert "after.txt" == storage.save("after.txt", ContentFile(b"after"))
    assert b"before" == storage.open("before.txt").read()
    assert b"after" == storage.open("after.txt").read()


def test_threads_that_find_the_scripts_forgotten_load_them_once_and_stay_on_the_lane(clean_redis):
    """After a flush, every thread meets NOSCRIPT at once: one loads, none takes the pool's path."""
    url, name = named_url(clean_redis)
    storage = InMemoryStorage(server=url, namespace="lane")
    server = redis.Redis.from_url(clean_redis)
    start = threading.Barrier(THREADS)

    def save_all(round_: str) -> None:
        def work(index: int) -> None:
            start.wait()
            storage.save(f"{round_}/t{index}.txt", ContentFile(b"x"))

        run_threads(work)

    save_all("warm")  # every thread's lane connection is open, the scripts loaded
    server.script_flush()
    server.config_resetstat()
    save_all("after")

    assert 2 * THREADS == storage.stats().files
    loads = server.info("commandstats").get("cmdstat_script|load", {}).get("calls", 0)
    # Once each, by one thread: 89 when every thread loaded them all. A thread that checks
    # for a restart meanwhile (the flush) may load the repair's own script once more.
    assert len(redis_lua.__all__) <= loads <= len(redis_lua.__all__) + THREADS
    assert connections_named(clean_redis, name) <= THREADS + 2


def test_connections_the_server_closed_are_opened_again(clean_redis):
    url, name = named_url(clean_redis)
    storage = InMemoryStorage(server=url, namespace="lane")
    storage.save("before.txt", ContentFile(b"before"))
    assert connections_named(clean_redis, name) >= 1

    killed = redis.Redis.from_url(clean_redis).client_kill_filter(_type="normal", skipme=True)
    assert killed >= 1

    assert "after.txt" == storage.save("after.txt", ContentFile(b"after"))
    assert b"before" == storage.open("before.txt").read()
    assert connections_named(clean_redis, name) >= 1


def test_threads_each_get_their_own_answers_on_few_connections(clean_redis, fast_switching):
    """Every answer is the asker's: a reply read by another thread would be a wrong name or body."""
    url, name = named_url(clean_redis)
    storage = InMemoryStorage(server=url, namespace="lane")
    wrong: list[str] = []
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        start.wait()
        for call in range(CALLS):
            data = f"{index}:{call}".encode() * (1 + call % 7)
            saved = storage.save(f"t{index}/f{call}.txt", ContentFile(data))
            if saved != f"t{index}/f{call}.txt":
                wrong.append(f"save answered {saved!r}")
            if storage.open(saved).read() != data:
                wrong.append(f"{saved!r} read back other bytes")

    run_threads(work)

    assert [] == wrong
    assert THREADS * CALLS == storage.stats().files
    # One connection per thread calling at once, at most, plus the client's own pool's.
    assert connections_named(clean_redis, name) <= THREADS + 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX")
def test_a_forked_process_never_speaks_on_its_parents_connections(clean_redis):
    """Parent and child call at once after the fork: shared sockets would mix their replies."""
    storage = InMemoryStorage(server=clean_redis, namespace="lane")
    storage.save("parent/first.txt", ContentFile(b"first"))  # the lane now holds a connection

    def calls(who: str) -> list[str]:
        wrong = []
        for call in range(CALLS):
            data = f"{who}:{call}".encode() * 9
            saved = storage.save(f"{who}/f{call}.txt", ContentFile(data))
            if storage.open(saved).read() != data:
                wrong.append(saved)
        return wrong

    go_read, go_write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover  # the child's coverage is not gathered
        try:
            os.read(go_read, 1)  # both start together
            code = 0 if calls("child") == [] and storage.exists("parent/first.txt") else 1
        except BaseException:  # any failure is the child's answer, 1
            code = 1
        os._exit(code)
    os.close(go_read)
    os.write(go_write, b"!")
    os.close(go_write)
    wrong = calls("parent")
    _, status = os.waitpid(child, 0)

    assert [] == wrong
    assert 0 == os.waitstatus_to_exitcode(status)
    assert b"child:0" * 9 == storage.open("child/f0.txt").read()


def test_a_url_that_bounds_the_connections_keeps_every_request_within_the_bound(clean_redis):
    url, name = named_url(clean_redis)
    storage = InMemoryStorage(server=f"{url}&max_connections=2", namespace="lane")
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        start.wait()
        for call in range(20):
            with contextlib.suppress(EngineUnavailable):  # the pool's bound refused a connection
                storage.save(f"t{index}/f{call}.txt", ContentFile(b"x"))

    run_threads(work)

    assert 1 <= connections_named(clean_redis, name) <= 2


def test_a_write_whose_answer_is_lost_is_never_sent_again(clean_redis):
    """The server took the request and did not answer in time: the caller hears so, once.

    The server holds every write from the start, and lets them go 1.5 timeouts
    later: a save sent again after the first timeout would then run, and a
    save that the caller was told failed would be there.
    """
    url, _name = named_url(clean_redis)
    timeout = 0.3
    storage = InMemoryStorage(server=f"{url}&socket_timeout={timeout}", namespace="lane")
    storage.save("warm.txt", ContentFile(b"w"))  # the scripts loaded (after a NOSCRIPT)...
    assert b"w" == storage.open("warm.txt").read()  # ...and the check for a restart done
    admin = redis.Redis.from_url(clean_redis)

    admin.client_pause(10_000, all=False)  # writes wait: the request is taken, not answered
    release = threading.Timer(1.5 * timeout, admin.client_unpause)
    release.start()
    try:
        with pytest.raises(EngineUnavailable):
            storage.save("late.txt", ContentFile(b"late"))
    finally:
        release.join()
        admin.client_unpause()

    # The request went with its connection, closed at the timeout: it never ran.
    assert ["warm.txt"] == storage.listdir("")[1]


@pytest.mark.parametrize(
    "arguments",
    [
        (),
        (b"a/b.txt",),
        (-1, "evict", b"name", (b"\0" * 24, b"content"), 0, 1, b"origin"),
        ("\u00e9t\u00e9", 2**63 - 1, (b"", b""), b"\r\n$3\r\n"),
        (packed(-1), packed("evict"), b"n", (b"\0" * 24, memoryview(b"xy")), packed(b"\r\n")),
    ],
)
def test_a_request_is_packed_as_redis_py_packs_it(arguments):
    """The lane's ``EVALSHA`` is byte for byte redis-py's, a tuple sent as its parts joined."""
    keys, head = [b"ims:{media}:meta"], [b"ims:{media}:", 64, 128, 64, 8, 1024]
    sha = b"0123456789abcdef0123456789abcdef01234567"

    ours = evalsha(sha, packed_arguments(keys, head), arguments)

    whole = [*head, *map(joined, arguments)]
    theirs = b"".join(redis.Connection().pack_command("EVALSHA", sha, len(keys), *keys, *whole))
    assert theirs == ours


def lane_connections(storage: InMemoryStorage) -> list:
    """The connections the storage's lane holds idle (white box: which way each is read)."""
    return list(storage._store._lane._idle)


@pytest.mark.parametrize("query", ["", "&protocol=2", "&protocol=3"])
def test_a_plain_connection_is_read_by_the_lane_itself(clean_redis, query):
    """With this redis-py and hiredis, a plain URL's saves and reads take the lean way.

    If a redis-py release renames what the lean way reads, every connection quietly takes
    redis-py's methods: this says so. Without hiredis (one of nox's sessions), every
    connection takes redis-py's methods, whose own parser reads the replies.
    """
    url, _name = named_url(clean_redis)
    storage = InMemoryStorage(server=url + query, namespace="lane")
    storage.save("a.txt", ContentFile(b"a" * 70_000))  # a reply larger than one read, too

    assert b"a" * 70_000 == storage.open("a.txt").read()
    held = lane_connections(storage)
    assert held
    assert all((h.lean is not None) == HIREDIS_AVAILABLE for h in held)


def test_a_lean_connection_times_out_in_the_kernel_as_the_url_says(clean_redis):
    """The URL's socket_timeout bounds each send and each receive, with no poll before them.

    The socket blocks, and the kernel ends a receive or a send that waits longer
    (``SO_RCVTIMEO``, ``SO_SNDTIMEO``); a receive that times out so is
    ``test_a_write_whose_answer_is_lost_is_never_sent_again``'s.
    """
    url, _name = named_url(clean_redis)
    storage = InMemoryStorage(server=f"{url}&socket_timeout=2.5", namespace="lane")
    storage.save("a.txt", ContentFile(b"a"))

    (held,) = lane_connections(storage)
    if held.lean is None:  # without hiredis: redis-py's methods, and Python's own timeout
        assert (HIREDIS_AVAILABLE, 2.5) == (False, held.connection._sock.gettimeout())
        return
    sock = held.lean.sock
    two_and_a_half = struct.pack("ll", 2, 500_000)
    assert sock.gettimeout() is None
    assert two_and_a_half == sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
    assert two_and_a_half == sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, 16)


def test_a_connection_that_asks_for_health_checks_takes_redis_pys_methods(clean_redis):
    """redis-py checks such a connection before a send: the lane leaves it to redis-py."""
    url, _name = named_url(clean_redis)
    storage = InMemoryStorage(server=f"{url}&health_check_interval=30", namespace="lane")
    storage.save("before.txt", ContentFile(b"before"))
    redis.Redis.from_url(clean_redis).client_kill_filter(_type="normal", skipme=True)

    assert "after.txt" == storage.save("after.txt", ContentFile(b"after"))
    assert b"before" == storage.open("before.txt").read()
    held = lane_connections(storage)
    assert held
    assert all(h.lean is None for h in held)


#: A script that changes its key (the server pushes that to every connection that tracks the
#: key), adding 0 to a counter, then holds the server ARGV[1] µs.
CHANGE_THEN_HOLD = """
redis.call('HINCRBY', KEYS[1], 'use', 0)
local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
"""


def test_a_push_that_comes_before_a_reply_is_never_taken_for_it(clean_redis):
    """RESP3: a server may push a notice to a connection while the connection waits for a reply.

    The lane's connection tracks the namespace's counters (client tracking), the
    key its listing names. Another client changes them and holds the server: a
    save sent meanwhile finds the server's push (an invalidation) before its reply.
    """
    url, _name = named_url(clean_redis)
    storage = InMemoryStorage(server=f"{url}&protocol=3", namespace="lane")
    storage.save("warm.txt", ContentFile(b"w"))
    (held,) = lane_connections(storage)
    held.connection.send_command("CLIENT", "TRACKING", "ON", "NOLOOP")  # not its own changes
    assert b"OK" == held.connection.read_response()
    assert ["warm.txt"] == storage.listdir("")[1]  # a read: its key is tracked from now on
    pushes: list = []
    if held.lean is not None:  # without hiredis, redis-py's own parser meets the push
        held.lean = held.lean._replace(handle_push=pushes.append)
    admin = redis.Redis.from_url(clean_redis)
    holding = threading.Thread(
        target=admin.eval, args=(CHANGE_THEN_HOLD, 1, "ims:{lane}:meta", 300_000)
    )

    holding.start()
    threading.Event().wait(0.1)  # the server is inside the script now
    saved = storage.save("during.txt", ContentFile(b"during"))
    holding.join()

    assert "during.txt" == saved
    assert [b"invalidate"] * HIREDIS_AVAILABLE == [push[0] for push in pushes]
    assert b"during" == storage.open("during.txt").read()
