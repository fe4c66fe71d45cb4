"""The shared engine: a namespace's files on a Redis server, the same for every process.

:class:`RedisStore` implements :class:`~inmemorystorage.engine.Engine` over
redis-py (imported only when a storage names a ``server``, as Django's own
Redis cache imports it), for a dev stack of several processes or machines:
runserver, ``manage.py shell``, gunicorn workers, a Celery worker,
containers. Nothing here imports Django.

Why every promise holds across processes
-----------------------------------------

Redis runs one command, or one script, at a time: nothing any client sends
runs in the middle of one. Every change to a namespace is one script of
``redis_lua.py``, and every read one command or script:

* **Snapshot reads.** A file is one string, its times then its content,
  replaced whole by the script that publishes a new version. A read is one
  script (``GET`` of the string, plus the use): it returns the content of one
  publication, whole, never a mix, and a later write never changes bytes a
  reader already holds (they are in the reader's process).
* **Atomic publication.** A writer buffers in its own process and publishes
  at ``close()`` with one script: readers see the old content or the new.
* **Collision-free names.** Checking that a name is free and claiming it
  happen in the same script, so N processes x M threads saving one name
  get N x M distinct names: each ``save()`` that finds its name taken tries
  the next alternative, as in one process.
* **An exact budget.** The check, the evictions (least recently used first,
  in a sorted set that every read and write of every process updates) and
  the publication are one script: the namespace's bytes never exceed
  ``max_bytes`` between scripts, whichever process writes. The overheads
  are ``budget.py``'s (``FILE_OVERHEAD`` and the others), so both engines
  charge alike for ASCII names. A name is charged its UTF-8 bytes, as the
  server holds it: the scripts count ``#name``, and every check made here
  before a script counts the same (:func:`name_charge`). The in-process
  engine charges what CPython's ``str`` takes, every character as wide as
  the widest (PEP 393): a non-ASCII name costs the two engines different bytes.
* **No lost file.** A script either runs whole or, on an error, changes
  nothing it had not changed before the error; ours check everything they
  refuse for before their first write.

A connection that fails raises :class:`~inmemorystorage.exceptions.EngineUnavailable`,
a ``ConnectionError`` (so an ``OSError``); a write whose answer is lost may
or may not have happened, as with any server, and never half, nor twice: no
request is sent again, whatever retry options the URL gives (see
:func:`client_for`). A server that
restarts comes back with a snapshot of whole scripts, or empty; each
process's first call, and its first after a failure, counts the namespace
again from its keys all the same where the server has restarted since it
was last counted (:meth:`RedisStore.repair`), so that the budget is what is
really there; after keys were changed by hand, ``repair()`` does it on request.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs

from . import redis_lua
from .budget import (
    DIR_OVERHEAD,
    FILE_OVERHEAD,
    RECORD_OVERHEAD,
    RECORD_SHARE,
    OnFull,
    server_name_charge,
)
from .engine import (
    Eviction,
    FileInfo,
    ListedFile,
    Loaded,
    StoredFile,
    StoreStats,
    WritesThroughPut,
    checked_batch,
    drop_least_recent,
)
from .exceptions import EngineUnavailable, InvalidPath, NotADirectory, PathDoesNotExist, StorageFull
from .redis_lane import (
    NotSent,
    ScriptLane,
    command_parts,
    evalsha,
    joined,
    packed,
    packed_arguments,
)
from .refusals import (
    batch_label,
    batch_over_the_whole_budget,
    full_detail,
    needs,
    over_the_whole_budget,
    taken_by,
)
from .tree import canonical_name, is_a_directory

if TYPE_CHECKING:
    from collections.abc import Callable, Container, Iterable

__all__ = [
    "MAX_CONTENT_BYTES",
    "SAFE_POLICIES",
    "RedisStore",
    "client_for",
    "file_charge",
    "name_charge",
    "redacted",
]

#: The ``maxmemory-policy`` values under which the server never drops our keys (they
#: have no expiry, so the volatile-* policies pass them over).
SAFE_POLICIES = ("noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")

#: The largest content one Redis value holds (``proto-max-bulk-len``, 512 MB by default).
MAX_CONTENT_BYTES = 512 * 1024 * 1024 - 64 * 1024
#: How many evictions a namespace remembers, as the in-process engine does.
EVICTIONS_REMEMBERED = 1024
_US = 1_000_000
_HEADER_ROOM = bytes(redis_lua.HEADER_ROOM)
_HEADER_BYTES = packed(redis_lua.HEADER_ROOM)
#: A flag as every save sends it, packed once: ``_FLAGS[False]``, ``_FLAGS[True]``.
_FLAGS = (packed(0), packed(1))
#: A save's content from this size on is staged at a key of its own by a plain ``SET``
#: sent with the script, not given to the script: Redis's Lua hashes every byte of each
#: string it makes (since Redis 7.0), about 1.3 ms of the server's time a MiB. Staged,
#: a 1 MiB save took 0.69 ms against 2.24 ms, 64 KiB 193 against 309 µs, 8 KiB 166
#: against 178 µs; 4 KiB cost the client 6 µs more than the server was spared.
STAGED_FROM = 8 * 1024
_NO_STAGE = packed(b"")
#: What :meth:`RedisStore._on_lane` answers for a request that the lane could not run.
_OFF_LANE = object()
#: How ``READ`` answers (its ARGV[8]): a large content staged; or in the answer, not counted.
_READ_STAGED, _READ_AGAIN = packed(0), packed(2)
logger = logging.getLogger("inmemorystorage")
_clients: dict[tuple[str, bool], Any] = {}
#: Each client's lane (by the client's id(), the client kept alive beside it).
_lanes: dict[int, tuple[Any, ScriptLane]] = {}
_clients_lock = threading.Lock()


class _OutOfMemory(OSError):  # private: users see an OSError (ENOSPC), or StorageFull from a write
    """The server refused a script's first write: it is at its ``maxmemory``; nothing changed."""

    def __init__(self, msg: str, maxmemory: int) -> None:
        super().__init__(errno.ENOSPC, msg)
        self.maxmemory = maxmemory


def redacted(url: str) -> str:
    """*url* with its password hidden, for messages and checks."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


def client_for(url: str, *, cluster: bool = False) -> Any:
    """The process's one redis-py client for *url* (a pool of connections), built on first use.

    With *cluster*, a Redis Cluster client, which sends each request to the
    node that holds its keys (:class:`RedisStore` asks for one when a node
    answers that another holds them).

    The client never sends a command twice, whatever the URL says: its retry
    options (``retry_on_timeout``, ``retry_on_error``) are not used, nor
    redis-py's own retries, since a script whose answer was lost may have run,
    and running it again would apply it twice (one ``save()``, two files). Such
    a call raises :class:`~inmemorystorage.exceptions.EngineUnavailable` instead.

    Raises:
        ImportError: redis-py is not installed (``pip install dj-inmemorystorage[redis]``).
    """
    with _clients_lock:
        client = _clients.get((url, cluster))
        if client is None:
            try:
                import redis  # noqa: PLC0415  # only where a storage names a server
                import redis.cluster  # noqa: PLC0415
            except ImportError as exc:
                msg = (
                    "the shared engine needs redis-py: "
                    "python -m pip install 'dj-inmemorystorage[redis]'"
                )
                raise ImportError(msg) from exc
            kind = redis.cluster.RedisCluster if cluster else redis.Redis
            client = _clients[url, cluster] = _never_retrying(kind, url)
        return client


def _never_retrying(kind: Any, url: str) -> Any:
    """A client of *kind* for *url* that sends each command once, whatever the URL asks.

    A cluster client retries at its own level (its nodes' connections never
    do): it is given no retries. A plain client's connections take their
    retry policy from the pool's arguments, the URL's among them:
    ``set_retry()`` replaces it there, for the connections made later, and
    on those made already.
    """
    import redis.cluster  # noqa: PLC0415  # imported with the client, by client_for()
    from redis.backoff import NoBackoff  # noqa: PLC0415
    from redis.retry import Retry  # noqa: PLC0415

    never = Retry(NoBackoff(), 0)
    if issubclass(kind, redis.cluster.RedisCluster):
        return kind.from_url(url, socket_timeout=10, retry=never)
    client = kind.from_url(url, socket_timeout=10)
    client.set_retry(never)
    return client


def lane_for(client: Any) -> ScriptLane | None:
    """The process's one :class:`~inmemorystorage.redis_lane.ScriptLane` over *client*.

    ``None`` for a cluster client, which has no one pool: redis-py's path serves it.
    """
    if getattr(client, "connection_pool", None) is None:
        return None
    with _clients_lock:
        kept = _lanes.get(id(client))
        if kept is None:
            kept = _lanes[id(client)] = (client, ScriptLane(client))
        return kept[1]


def _encoded(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def _decoded(name: bytes) -> str:
    return name.decode("utf-8", "surrogatepass")


def name_charge(name: str) -> int:
    """What the shared engine charges for the characters of *name*: its UTF-8 bytes.

    The server holds names as UTF-8 and the scripts charge ``#name``, their
    length in bytes; a check made in Python before a script counts the same
    (:func:`budget.server_name_charge <inmemorystorage.budget.server_name_charge>`),
    so that it never refuses what the script would accept.
    """
    return server_name_charge(name)


def file_charge(name: str, size: int) -> int:
    """What a file of *size* content bytes at the canonical name *name* costs a namespace."""
    return size + server_name_charge(name) + FILE_OVERHEAD


def _dir_charge(name: str) -> int:
    return server_name_charge(name) + DIR_OVERHEAD


@attrs.frozen
class _ClientErrors:
    """The errors of redis-py's that a store answers, looked up once (redis-py is imported late)."""

    #: The server lost the scripts (a restart, ``SCRIPT FLUSH``): they did not run.
    no_script: type[Exception]
    #: A cluster's node that does not hold the namespace (``MOVED``, ``ASK``).
    redirected: tuple[type[Exception], ...]
    #: A write refused at the server's ``maxmemory``, before any change.
    out_of_memory: type[Exception]
    #: No answer: the server, or every node of a cluster, could not be reached.
    unavailable: tuple[type[Exception], ...]

    @classmethod
    def of_redis_py(cls) -> _ClientErrors:
        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        errors = redis.exceptions
        return cls(
            errors.NoScriptError,
            (errors.MovedError, errors.AskError),
            errors.OutOfMemoryError,
            (errors.ConnectionError, errors.TimeoutError, errors.RedisClusterException),
        )


class RedisStore(WritesThroughPut):
    """One namespace's files on a Redis server: the same files for every process using it.

    Its files are not in this process (``local`` is false): every read is a
    round trip to the server.

    Args:
        url: The server, as Django's Redis cache takes it (``redis://``,
            ``rediss://`` or ``unix://``).
        namespace: The namespace; its keys all start ``ims:{namespace}:``.
        max_bytes: The most bytes the namespace may be charged, or ``None``.
        on_full: ``"evict"`` or ``"error"``, as for the in-process engine.
    """

    local = False

    def __init__(
        self,
        url: str,
        namespace: str,
        max_bytes: int | None = None,
        on_full: OnFull = "evict",
    ) -> None:
        self.url = url
        self.namespace = namespace
        self._max_bytes = max_bytes
        self._on_full: OnFull = on_full
        self._use_client(client_for(url))
        self._prefix = _encoded(f"ims:{{{namespace}}}:")
        self._head = [
            self._prefix,
            FILE_OVERHEAD,
            DIR_OVERHEAD,
            RECORD_OVERHEAD,
            RECORD_SHARE,
            EVICTIONS_REMEMBERED,
        ]
        self._fixed = packed_arguments([self._prefix + b"meta"], self._head)
        # Whether this process has counted the namespace again since it last reached the
        # server (see repair()): read and set without a lock, since repairing twice is harmless.
        self._counted = False
        # How many times this store has loaded the scripts, under its lock (see _load_scripts).
        self._loading = threading.Lock()
        self._loads = 0
        # Who this store is, in the evictions its scripts publish: listen() skips those.
        self._origin = f"{socket.gethostname()}:{os.getpid()}:{id(self)}".encode()
        # What every save sends as it is, packed once: its bound, what it does when full, origin.
        self._put_arguments = (
            packed(-1 if max_bytes is None else max_bytes),
            packed(on_full),
            packed(self._origin),
        )
        # No lock-free reads here: every read is a round trip (see the module docstring).
        self.lookup: Callable[[str], bytes | None] = _nothing
        self.is_dir: Callable[[str], bool] = self._is_dir
        self.files_index: Container[str] = frozenset()
        self.dirs_index: Container[str] = frozenset()

    def _use_client(self, client: Any) -> None:
        """Send every request through *client*, the scripts included (on its lane, if any)."""
        self._errors = _ClientErrors.of_redis_py()
        self._scripts = {
            name: client.register_script(getattr(redis_lua, name)) for name in redis_lua.__all__
        }
        self._shas = {name: script.sha.encode() for name, script in self._scripts.items()}
        # A URL that bounds the client's connections keeps every request within the bound.
        bounded = "max_connections" in urllib.parse.parse_qs(urllib.parse.urlsplit(self.url).query)
        self._lane = None if bounded else lane_for(client)
        self._client = client

    @property
    def max_bytes(self) -> int | None:
        """The bound on the namespace's bytes, or ``None``."""
        return self._max_bytes

    @property
    def on_full(self) -> OnFull:
        """What a write that does not fit does: ``"evict"`` or ``"error"``."""
        return self._on_full

    def _run(self, script: str, *args: object) -> list[Any]:
        """Run one of ``redis_lua``'s scripts with the namespace's head arguments.

        The first call of a process, and the first after the server did not
        answer, first has the namespace counted again if the server has
        restarted since it last was (see :meth:`repair`).
        """
        if not self._counted:
            self._count_first()
        return self._call(script, *args)

    def _run_staged(
        self, script: str, stage: bytes, value: tuple[bytes, ...], *args: object
    ) -> list[Any]:
        """:meth:`_run`, with *value* staged at the key *stage* (see :meth:`_staged_request`)."""
        if not self._counted:
            self._count_first()
        return list(self._send(self._staged_request, script, args, stage, value))

    def _count_first(self) -> None:
        self._counted = True  # first: the repair's own call does not repair again
        self._repair_after_restart()

    def _call(self, script: str, *args: object) -> list[Any]:
        """Run *script* on the lane; where it could not run there, through redis-py.

        A server that lost the script (``NOSCRIPT``: restarted or flushed) did
        not run it: every script is loaded again, by one thread while the others
        that met it wait, the request is sent again on the lane, and the next
        call checks for a restart. A request that never reached the server
        (:class:`~.redis_lane.NotSent`), or met ``NOSCRIPT`` again, goes through
        redis-py's script object, which sends it once (the client retries
        nothing, see :func:`client_for`).
        A connection that fails after the request was sent raises (the script
        may or may not have run): it is never sent twice. Any other error
        answer is the script's, and raised as it is.
        """
        return list(self._send(self._request, script, args))

    def _staged_request(
        self, script: str, args: tuple[object, ...], stage: bytes, value: tuple[bytes, ...]
    ) -> Any:
        """One try of :meth:`_call` for *script*, whose *value* is staged at *stage* first.

        The value goes in a plain ``SET`` (with an expiry, for a request cut
        short), the script takes it from there, and a ``DEL`` of the stage
        follows: on the lane, three commands in one request; else three calls.
        """
        lane = self._lane
        if lane is not None:
            request = b"".join(
                [
                    *command_parts(b"SET", stage, value, b"PX", redis_lua.STAGE_EXPIRY_MS),
                    evalsha(self._shas[script], self._fixed, args),
                    *command_parts(b"DEL", stage),
                ]
            )
            answer = self._on_lane(self._exchange_staged, lane, request)
            if answer is not _OFF_LANE:
                return answer
        client = self._client
        try:
            client.set(stage, joined(value), px=redis_lua.STAGE_EXPIRY_MS)
            return self._request(script, args)
        finally:
            with contextlib.suppress(*self._errors.unavailable):  # else it expires
                client.delete(stage)

    @staticmethod
    def _exchange_staged(lane: ScriptLane, request: bytes) -> Any:
        """A staged request's script's answer: its ``SET``, ``EVALSHA`` and ``DEL`` on *lane*.

        Raises:
            The ``SET``'s error answer (refused at ``maxmemory``: the script found
            no stage), else the script's (``NOSCRIPT`` among them).
        """
        staged, answer, _ = lane.exchange(request, 3)
        for reply in (staged, answer):
            if isinstance(reply, Exception):
                raise reply
        return answer

    def _on_lane(self, send: Callable[..., Any], *args: Any) -> Any:
        """``send(*args)`` on the lane; once more where the server had lost the scripts.

        Returns:
            The answer, or ``_OFF_LANE`` where the request never reached the
            server (:class:`~.redis_lane.NotSent`) or met ``NOSCRIPT`` again:
            the caller sends it through redis-py.
        """
        loads = self._loads
        no_script = self._errors.no_script
        try:
            return send(*args)
        except NotSent:
            return _OFF_LANE
        except no_script:
            self._load_scripts(loads)
        with contextlib.suppress(NotSent, no_script):
            return send(*args)
        return _OFF_LANE

    def _request(self, script: str, args: tuple[object, ...]) -> Any:
        """One try of :meth:`_call`, for :meth:`_send` (which may try again on another client)."""
        lane = self._lane
        if lane is not None:
            answer = self._on_lane(lane.send, evalsha(self._shas[script], self._fixed, args))
            if answer is not _OFF_LANE:
                return answer
        keys, arguments = [self._prefix + b"meta"], [*self._head, *map(joined, args)]
        return self._scripts[script](keys=keys, args=arguments)

    def _load_scripts(self, loads: int) -> None:
        """Load every script, unless another thread has since the caller's request (*loads*).

        After a restart, every thread's first request meets ``NOSCRIPT`` at once:
        one loads the scripts, on one of the client's connections, and the others wait.
        The server was restarted or flushed: the next call checks which, once every
        script is there again (a repair started sooner would load its own script too).
        """
        with self._loading:
            if self._loads != loads:
                return
            for loaded in self._scripts.values():
                self._client.script_load(loaded.script)
            self._loads += 1
            self._counted = False

    def _send(self, request: Callable[..., Any], *args: Any) -> Any:
        """Make ``request(*args)`` (it reads ``self._client`` or ``self._scripts``); its answer.

        A node of a Redis Cluster that answers that another node holds the
        namespace's keys (``MOVED`` or ``ASK``) makes this store a cluster
        client, which asks that node; the keys of a namespace all share one
        hash slot, so every script runs on one node, as on one server.
        """
        errors = self._errors
        try:
            try:
                return request(*args)
            except errors.redirected:
                self._use_client(client_for(self.url, cluster=True))
                return request(*args)
        except errors.out_of_memory as exc:  # refused before any change
            raise self._out_of_memory() from exc
        except errors.unavailable as exc:
            self._counted = False
            msg = f"the Redis server at {redacted(self.url)} did not answer: {exc}"
            raise EngineUnavailable(errno.ECONNREFUSED, msg) from exc

    def _out_of_memory(self) -> _OutOfMemory:
        """The error for a write the server refused at its ``maxmemory``, which it names."""
        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        try:
            info = self._client.info("memory", **self._on_namespace_node())
            maxmemory = int(info.get("maxmemory", 0))
        except (redis.exceptions.RedisError, ValueError, TypeError):  # INFO refused: not named
            maxmemory = 0
        limit = f" of {maxmemory:,} bytes" if maxmemory else ""
        msg = (
            f"the Redis server at {redacted(self.url)} is at its maxmemory{limit} and refuses "
            "writes until memory is freed there (delete files, or raise its maxmemory)"
        )
        return _OutOfMemory(msg, maxmemory)

    def _on_namespace_node(self) -> dict[str, Any]:
        """The arguments that send a command without keys to the namespace's node."""
        find = getattr(self._client, "get_node_from_key", None)  # a cluster client's
        return {} if find is None else {"target_nodes": find(self._prefix + b"meta")}

    def _run_id(self) -> str:
        """The ``run_id`` of the server that holds the namespace; ``""`` where it will not say.

        A server whose ACL refuses ``INFO`` gives none: the namespace is then
        counted on the first call of the first process only, and after keys
        were changed by hand, on request.
        """
        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        try:
            info = self._client.info("server", **self._on_namespace_node())
        except redis.exceptions.ResponseError:  # NOPERM, or INFO renamed away
            return ""
        return str(info.get("run_id", "")) if isinstance(info, dict) else ""

    def _repair_after_restart(self) -> None:
        """:meth:`repair`, if the server has restarted since the namespace was last counted.

        A server that refuses the repair (a key of another type, made by hand,
        or a server at its ``maxmemory``) is logged, and the call that asked goes on.
        """
        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        try:
            self.repair(force=False)
        except (redis.exceptions.ResponseError, _OutOfMemory):
            logger.exception("the namespace %r on %s could not be counted again",
                             self.namespace, redacted(self.url))  # fmt: skip

    def repair(self, *, force: bool = True) -> int:
        """Count the namespace again from the keys the server holds; how many entries it mended.

        The bytes charged and the directories counted become what the keys
        hold, and the file keys, listings and recency order agree again (one
        script, so atomic; O(the namespace) on the server). Our scripts keep
        them in agreement, and a server's snapshots and append-only file keep
        whole scripts; this is for keys changed by hand, or dropped by a
        server that evicts (a check warns of that), or a server restarted from
        an older snapshot. Each process asks for it on its first call and on
        its first after the server did not answer, with *force* ``False``:
        then it runs only where the server (its ``run_id``) has restarted
        since the namespace was last counted. It logs a warning when it
        mended anything.

        Raises:
            EngineUnavailable: the server does not answer.
            OSError: ``ENOSPC``, the server is at its ``maxmemory`` and refuses writes.
        """
        keys = [self._prefix + b"meta"]

        def count() -> Any:
            # One request for _send(): where a cluster node answers MOVED, both the
            # run_id and the script are asked again of the node that holds the namespace.
            run = self._run_id()
            return self._scripts["REPAIR"](keys=keys, args=[*self._head, run, int(force)])

        before, after, mended = map(int, list(self._send(count))[1:])
        if mended > 0 or before != after:
            logger.warning(
                "the namespace %r on %s did not agree with its keys (changed by hand, dropped "
                "by the server, or an older snapshot): %d entries mended; %s bytes charged "
                "before, %s now",
                self.namespace, redacted(self.url), mended, f"{before:,}", f"{after:,}",
            )  # fmt: skip
        return max(mended, 0)

    @staticmethod
    def _raise(answer: list[Any], name: str) -> None:
        """Raise what a script's refusal *answer* says (about *name*, unless it names another)."""
        status = answer[0].decode()
        subject = _decoded(answer[1]) if len(answer) > 1 else name
        if status == "ENOENT":
            raise PathDoesNotExist(name)
        if status == "EISDIR":
            raise is_a_directory(subject)
        if status == "ENOTDIR":
            raise NotADirectory(subject)
        if status == "EEXIST":
            raise FileExistsError(errno.EEXIST, f"{subject!r} already exists", subject)
        msg = f"unexpected answer from the Redis engine: {answer[:2]!r}"
        raise RuntimeError(msg)

    def eviction_policy(self) -> str | None:
        """The server's ``maxmemory-policy``, or ``None`` if it will not say (managed servers).

        Raises:
            EngineUnavailable: the server does not answer.
        """
        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        try:
            answer = self._command("config_get", "maxmemory-policy", **self._on_namespace_node())
        except redis.exceptions.ResponseError:  # CONFIG refused (renamed or not allowed)
            return None
        policy = answer.get("maxmemory-policy", answer.get(b"maxmemory-policy"))
        return policy.decode() if isinstance(policy, bytes) else policy

    # Reading.

    def read(self, path: str) -> bytes:
        """The content of the file at *path*, counted as a use: one round trip, one snapshot."""
        return self.read_with_info(path)[0]

    def read_with_info(self, path: str) -> tuple[bytes, FileInfo]:
        """The content of the file at *path* and its metadata, from one moment.

        A content of ``redis_lua.STAGED_READS_FROM`` bytes or more comes in a
        second request: the script copies it to a stage of the read's own, and
        that copy is taken (Lua would hash each byte given to it, about 1.3 ms
        of the server's time a MiB). A stage that the server dropped for room
        (a ``volatile-*`` policy) makes the read ask again, for the content in
        the answer.
        """
        name = canonical_name(path)
        answer = self._run("READ", _encoded(name), _READ_STAGED, os.urandom(8).hex().encode())
        if answer[0] == b"STAGED":
            answer = self._staged_read(name, answer)
        if answer[0] != b"OK":
            self._raise(answer, name)
        content, modified, created, accessed = answer[1], *map(int, answer[2:5])
        return content, _file_info(name, len(content), modified, created, accessed)

    def _staged_read(self, name: str, answer: list[Any]) -> list[Any]:
        """``READ``'s *answer* for *name* with the content it staged taken; or a new answer.

        Where the stage is gone, the file is read again with the content in the
        answer, uncounted (the first request counted the read): that answer may
        also say that the file is gone since.
        """
        content = self._send(self._take_stage, answer[1])
        if content is None:
            return self._run("READ", _encoded(name), _READ_AGAIN, _NO_STAGE)
        return [b"OK", content, *answer[2:]]

    def _take_stage(self, stage: bytes) -> bytes | None:
        """The content at a read's *stage* (past its header), which goes; ``None``: gone."""
        lane = self._lane
        if lane is not None:
            request = b"".join(
                [
                    *command_parts(b"GETRANGE", stage, _HEADER_BYTES, -1),
                    *command_parts(b"DEL", stage),
                ]
            )
            with contextlib.suppress(NotSent):
                content, deleted = lane.exchange(request, 2)
                for reply in (content, deleted):
                    if isinstance(reply, Exception):
                        raise reply
                return content if deleted else None
        content = self._client.getrange(stage, redis_lua.HEADER_ROOM, -1)
        return content if self._client.delete(stage) else None

    def read_versioned(self, path: str) -> tuple[bytes, int, float]:
        """The content of the file at *path*, its version and modified time, from one moment."""
        content, info = self.read_with_info(path)
        return content, info.version, info.modified

    def stat(self, path: str) -> FileInfo:
        """Describe the file or directory at *path* without counting a use."""
        name = canonical_name(path)
        answer = self._run("STAT", _encoded(name))
        kind = answer[0]
        if kind == b"FILE":
            size, modified, created, accessed = map(int, answer[1:5])
            return _file_info(name, size, modified, created, accessed)
        if kind == b"DIR":
            _size, modified, created, accessed = map(int, answer[1:5])
            return FileInfo(
                name=name,
                is_dir=True,
                size=0,
                created=created / _US,
                modified=modified / _US,
                accessed=accessed / _US,
                version=0,
            )
        self._raise(answer, name)
        raise AssertionError  # pragma: no cover  # _raise() always raises

    def exists(self, path: str, *, canonical: bool = False, found: bool | None = None) -> bool:  # noqa: ARG002  # the in-process engine's hints
        """Whether a file or directory is at *path*: one round trip."""
        name = path if canonical else canonical_name(path)
        if not name:
            return True
        encoded = _encoded(name)
        return bool(
            self._command("exists", self._prefix + b"f:" + encoded, self._prefix + b"d:" + encoded)
        )

    def _is_dir(self, name: str) -> bool:
        return not name or bool(self._command("exists", self._prefix + b"d:" + _encoded(name)))

    def _command(self, command: str, *args: object, **options: Any) -> Any:
        return self._send(lambda: getattr(self._client, command)(*args, **options))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The directories and the files directly in *path*, from one moment."""
        name = canonical_name(path)
        answer = self._run("LISTDIR", _encoded(name))
        if answer[0] != b"OK":
            self._raise(answer, name)
        pairs = answer[1:]
        dirs = [_decoded(pairs[i]) for i in range(0, len(pairs), 2) if pairs[i + 1] == b"d"]
        files = [_decoded(pairs[i]) for i in range(0, len(pairs), 2) if pairs[i + 1] == b"f"]
        return dirs, files

    def stats(self) -> StoreStats:
        """The namespace's counts, bytes charged and counters, from one moment."""
        answer = self._run("STATS")
        files, fb, db, rb, hits, misses, evictions, refusals, dirs = map(int, answer[1:])
        return StoreStats(
            files=files,
            dirs=dirs,
            bytes_used=fb + db + rb,
            max_bytes=self._max_bytes,
            hits=hits,
            misses=misses,
            evictions=evictions,
            refusals=refusals,
        )

    # Writing.

    def check_size(self, path: str, size: int) -> None:
        """Refuse early a file that could never fit, or that Redis cannot hold in one value.

        Raises:
            StorageFull: a file of *size* bytes at *path* exceeds ``max_bytes``.
            OSError: ``EFBIG``, over :data:`MAX_CONTENT_BYTES`.
        """
        if size > MAX_CONTENT_BYTES:
            msg = (
                f"cannot store {path!r} ({size:,} bytes): the shared engine keeps a file in one "
                f"Redis value, at most {MAX_CONTENT_BYTES:,} bytes"
            )
            raise OSError(errno.EFBIG, msg, path)
        charge = file_charge(path, size)
        if self._max_bytes is not None and charge > self._max_bytes:
            detail = over_the_whole_budget(size, charge, self._max_bytes)
            raise StorageFull(path, size, self._max_bytes, detail)

    def check_writable(self, path: str, *, exclusive: bool = False) -> None:
        """Raise now what writing *path* would raise for the namespace's present shape."""
        name = canonical_name(path)
        if not name:
            raise is_a_directory(name)
        try:
            info = self.stat(name)
        except PathDoesNotExist:
            return
        if info.is_dir:
            raise is_a_directory(name)
        if exclusive:
            raise FileExistsError(errno.EEXIST, f"{name!r} already exists", name)

    def put(
        self,
        path: str,
        content: bytes,
        *,
        exclusive: bool = False,
        canonical: bool = False,
        avoid_evicted: bool = False,
    ) -> tuple[str, tuple[Eviction, ...]]:
        """Claim the name, check the budget, evict and publish, in one script on the server.

        A content of :data:`STAGED_FROM` bytes or more goes in the same request
        but not through the script (whose Lua would hash every byte): staged at
        a key of its own, renamed by the script, deleted whatever it answered.

        Raises:
            FileExistsError: *exclusive* and something is at *path*, or
                *avoid_evicted* and the file at *path* was evicted lately.
            IsADirectoryError: *path* is a directory (or the root).
            NotADirectory: a parent of *path* is a file.
            StorageFull: the content cannot fit, in the budget or in the
                server's ``maxmemory``; nothing changed.
        """
        name = path if canonical else canonical_name(path)
        if not name:
            raise is_a_directory(name)
        self.check_size(name, len(content))
        bound, on_full, origin = self._put_arguments
        value = (_HEADER_ROOM, content)  # the script writes the header into the room
        flags = (_FLAGS[exclusive], _FLAGS[avoid_evicted], origin)
        try:
            if len(content) < STAGED_FROM:
                answer = self._run("PUT", bound, on_full, _encoded(name), value, *flags, _NO_STAGE)
            else:
                stage = self._prefix + b"up:" + os.urandom(8).hex().encode()
                arguments = (bound, on_full, _encoded(name), _NO_STAGE, *flags, stage)
                answer = self._run_staged("PUT", stage, value, *arguments)
                if answer[0] == b"NOSTAGE":  # the server dropped it (a volatile-* policy)
                    raise self._out_of_memory()
        except _OutOfMemory as exc:
            raise _server_full(exc, name, len(content)) from exc
        status = answer[0]
        if status == b"OK":
            evicted = answer[2:]
            return name, self._evictions(evicted, int(answer[1])) if evicted else ()
        if status == b"FULL":
            raise self._full(answer, name, len(content), 1, None)
        if status == b"EVICTED":
            size, _, evicted_at = answer[2].decode().partition(":")
            raise taken_by(Eviction(name, int(size), int(evicted_at) / _US))
        self._raise(answer, name)
        raise AssertionError  # pragma: no cover  # _raise() always raises

    def _evictions(self, flat: list[Any], stamp: int) -> tuple[Eviction, ...]:
        return tuple(
            Eviction(_decoded(flat[i]), int(flat[i + 1]), stamp / _US)
            for i in range(0, len(flat), 2)
        )

    def listen(self, show: Callable[[Eviction], None]) -> Any:
        """Call *show* with each eviction that another process makes in the namespace.

        In a daemon thread of redis-py's (the namespace's pub/sub channel), so
        that runserver's console shows evictions whichever process made them;
        this process's own come back from its scripts and are not repeated.
        A server that goes away stops the listening, with one log line; a
        message on the channel that is no eviction (published by someone
        else) is skipped, with a debug log line.

        Returns:
            The listening thread; its ``stop()`` ends it.

        Raises:
            EngineUnavailable: the server does not answer.
        """
        channel = _decoded(self._prefix) + "evictions"

        def received(message: dict[str, Any]) -> None:
            data = message["data"]
            origin, _, rest = data.partition(b"\n")
            if origin == self._origin:
                return
            try:
                eviction = _published_eviction(rest)
            except ValueError:  # someone else's message on the channel: not ours to show
                logger.debug("Skipped a message on %s that is no eviction: %r", channel, data)
                return
            show(eviction)

        def failed(exc: BaseException, pubsub: Any, thread: Any) -> None:  # noqa: ARG001  # redis-py's signature
            logger.warning(
                "Stopped showing evictions made by other processes: the Redis server at %s "
                "did not answer (%s).",
                redacted(self.url),
                exc,
            )
            thread.stop()

        import redis.exceptions  # noqa: PLC0415  # imported with the client, by client_for()

        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(**{channel: received})
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            pubsub.close()
            msg = f"the Redis server at {redacted(self.url)} did not answer: {exc}"
            raise EngineUnavailable(errno.ECONNREFUSED, msg) from exc
        return pubsub.run_in_thread(sleep_time=1.0, daemon=True, exception_handler=failed)

    def _full(
        self, answer: list[Any], name: str, size: int, count: int, what: str | None
    ) -> StorageFull:
        """The refusal a script's ``FULL`` *answer* describes, in the in-process engine's words."""
        kind, needed, other, new_dirs = answer[1], *map(int, answer[2:5])
        max_bytes = self._max_bytes or 0
        if kind == b"large":
            beside = ""
            if other:
                whose = "its parent" if count == 1 else "their"
                beside = f" beside {whose} directories ({other:,} bytes)"
            detail = f"{needs(needed, count, new_dirs)}, more than the whole budget{beside}"
            return StorageFull(name, size, max_bytes, detail, what=what)
        detail = full_detail(needs(needed, count, new_dirs), other)
        return StorageFull(name, size, max_bytes, detail, what=what, could_fit=True)

    def delete(self, path: str) -> None:
        """Remove the file, or the directory with everything below it; quiet when missing.

        Raises:
            InvalidPath: *path* is the root (use :meth:`clear`).
        """
        name = canonical_name(path)
        if not name:
            msg = "the root cannot be deleted; use clear() to empty the store"
            raise InvalidPath(msg)
        self._run("DELETE", _encoded(name))

    def clear(self) -> None:
        """Remove every file and directory of the namespace (no other) and reset its counters."""
        self._run("CLEAR")

    # Handing a namespace's content over as a whole.

    def files(self, *, by_recency: bool = False) -> list[StoredFile]:
        """Every file with its content and times, from one moment; sorted by name.

        With *by_recency*, least recently used first.
        """
        flat = self._run("FILES")[1:]
        found = [
            StoredFile(
                _decoded(flat[i]),
                flat[i + 1],
                created=int(flat[i + 3]) / _US,
                modified=int(flat[i + 2]) / _US,
            )
            for i in range(0, len(flat), 4)
        ]
        return found if by_recency else sorted(found, key=lambda file: file.name)

    def listing(self) -> list[ListedFile]:
        """Every file's name, size and times, from one moment; sorted by name.

        As :meth:`files` without the content: the server sends a few bytes a file.
        """
        flat = self._run("LISTING")[1:]
        return sorted(
            (
                ListedFile(
                    _decoded(flat[i]),
                    int(flat[i + 1]),
                    created=int(flat[i + 3]) / _US,
                    modified=int(flat[i + 2]) / _US,
                )
                for i in range(0, len(flat), 4)
            ),
            key=lambda file: file.name,
        )

    def load(
        self, files: Iterable[StoredFile], *, replace: bool = False, keep_what_fits: bool = False
    ) -> Loaded:
        """Publish many files at once, with their times: all of them or none, in one script.

        Checked as the in-process engine checks them (names, contents,
        times) before the script runs; see :meth:`Store.load
        <inmemorystorage.store.Store.load>` for *replace* and *keep_what_fits*.
        The files that *keep_what_fits* leaves out are remembered as evicted
        (their names stay taken, the evictions are counted) by the same
        script, so only where the batch is published.
        """
        batch, times = checked_batch(files)
        dropped: list[tuple[str, int]] = []
        if keep_what_fits and self._on_full == "evict" and self._max_bytes:
            dropped = drop_least_recent(
                batch, times, self._max_bytes, charge_file=file_charge, charge_dir=_dir_charge
            )
        self._check_batch_size(batch)
        if not batch and not dropped:
            return Loaded((), (), ())
        args: list[object] = [
            -1 if self._max_bytes is None else self._max_bytes,
            self._on_full,
            int(replace),
            self._origin,
            len(dropped),
        ]
        for name, size in dropped:  # remembered as evicted by the script, with the batch
            args += [_encoded(name), size]
        for name, file in batch.items():
            created, modified = times[name]
            args += [
                _encoded(name),
                file.content,
                max(created // 1000, 1),
                max(modified // 1000, 1),
            ]
        last, label = batch_label(batch) if batch else (dropped[-1][0], None)
        size = sum(len(file.content) for file in batch.values())
        try:
            answer = self._run("LOAD", *args)
        except _OutOfMemory as exc:
            raise _server_full(exc, last, size, label) from exc
        status = answer[0]
        if status == b"FULL":
            raise self._full(answer, last, size, len(batch), label)
        if status == b"EEXIST":
            name = _decoded(answer[1])
            msg = f"{name!r} already exists; load with replace=True to overwrite stored files"
            raise FileExistsError(errno.EEXIST, msg, name)
        if status != b"OK":
            self._raise(answer, next(iter(batch)))
        stamp = int(answer[1])
        left_out = tuple(Eviction(name, size, stamp / _US) for name, size in dropped)
        return Loaded(tuple(batch), self._evictions(answer[2:], stamp), left_out)

    def _check_batch_size(self, batch: dict[str, StoredFile]) -> None:
        """Refuse, before the names are checked on the server, a batch that could never fit.

        As :meth:`Store.load <inmemorystorage.store.Store.load>` refuses it, and
        without sending a batch larger than ``max_bytes`` to the server.
        """
        for name, file in batch.items():
            self.check_size(name, len(file.content))
        max_bytes = self._max_bytes
        if max_bytes is None:
            return
        refused = batch_over_the_whole_budget(batch, max_bytes, file_charge)
        if refused is not None:
            last, size, detail, label = refused
            raise StorageFull(last, size, max_bytes, detail, what=label)

    # Evictions.

    def recent_eviction(self, path: str) -> Eviction | None:
        """The eviction of the file at *path*, if the namespace remembers it."""
        name = canonical_name(path)
        record = self._command("hget", self._prefix + b"ev", _encoded(name))
        return None if record is None else _eviction(name, record)

    def recent_evictions(self) -> list[Eviction]:
        """The evictions the namespace remembers, newest first."""
        names = self._command("zrevrange", self._prefix + b"evq", 0, -1)
        if not names:
            return []
        records = self._command("hmget", self._prefix + b"ev", names)
        return [
            _eviction(_decoded(name), record)
            for name, record in zip(names, records, strict=True)
            if record is not None
        ]


def _server_full(exc: _OutOfMemory, name: str, size: int, what: str | None = None) -> StorageFull:
    """The refusal of a write that a server at its ``maxmemory`` (*exc*) turned down.

    ``max_bytes`` is the server's ``maxmemory`` (0 where it will not say):
    the limit that refused; an emptier server would take the content.
    """
    detail = str(exc.strerror)
    return StorageFull(
        name, size, exc.maxmemory, detail, what=what, could_fit=True, limit="maxmemory"
    )


def _nothing(name: str) -> None:  # the signature of Store.lookup
    """No lock-free local read: the caller reads through the server."""


def _published_eviction(text: bytes) -> Eviction:
    """The eviction a script published as *text* (after its origin): name, size and time.

    The size and the time are the last two lines: a name may hold newlines.

    Raises:
        ValueError: *text* is not one (a message someone else published).
    """
    name, size, stamp = text.rsplit(b"\n", 2)
    return Eviction(_decoded(name), int(size), int(stamp) / _US)


def _eviction(name: str, record: bytes) -> Eviction:
    size, _, evicted_at = record.decode().partition(":")
    return Eviction(name, int(size), int(evicted_at) / _US)


def _file_info(name: str, size: int, modified: int, created: int, accessed: int) -> FileInfo:
    return FileInfo(
        name=name,
        is_dir=False,
        size=size,
        created=created / _US,
        modified=modified / _US,
        accessed=max(accessed, modified) / _US,
        version=modified,
    )
