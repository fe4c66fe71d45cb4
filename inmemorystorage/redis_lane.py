"""The shared engine's hot path: its scripts sent over redis-py's connections, past its commands.

Every save and every read of the shared engine is one ``EVALSHA`` (a large save's
content goes beside it, in the same request: see ``RedisStore.put``). Through
redis-py's client, such a call cost about 40 µs of this process's CPU beside
the round trip (measured with redis-py 8.2: the client's connection pool and
its observability hooks, seventeen arguments encoded one at a time, the
script object), against about 12 µs through a connection held directly.
Under threads, that CPU is what they queue for, the pool's lock above all:
lent and taken back by redis-py's pool for each request, 4 KiB saves from 8
threads ran at 8.1k/s; on the lane's own connections, at 20k/s.

:class:`ScriptLane` keeps the difference and nothing else of its own:

* **The connections are redis-py's**: made with the client's pool's own
  connection class and arguments, so TLS, the password, the database and the
  protocol are exactly the client's. The lane keeps them apart from that
  pool (whose count it never touches), last used first: one per thread that
  calls at once, reused, never more. A URL that sets ``max_connections``
  gets no lane (see ``RedisStore``): its bound holds for every connection.
  ``client.close()`` does not close the lane's connections; the process's
  end does.
* **The request is packed here**, the namespace's fixed arguments once per
  script, and sent on the connection's socket; the reply is read by the
  reader redis-py made for the connection (hiredis's, with the ``redis``
  extra), fed from the socket here. Where that does not apply (TLS, RESP3,
  a health check asked for, no hiredis: see :func:`_lean_parts`), redis-py's
  own methods send and read, as they did for every connection before.
* **Nothing runs twice.** An idle connection that the server closed (a
  restart, a timeout, ``CLIENT KILL``) is found before the request is sent,
  and opened again. Only a request that the server refused unread
  (``NOSCRIPT``, after a restart or ``SCRIPT FLUSH``) is sent again, once
  the engine has loaded the scripts; one that never reached the server whole
  (:class:`NotSent`) goes on through redis-py's full path. A connection that
  fails after its request was sent raises: the script may or may not have
  run, as with any server, and the caller says so (``EngineUnavailable``). A
  connection that failed is closed before it is used again, so its state
  never leaks into another call.
* **A forked process** (a worker of gunicorn or Celery forked after a call)
  never touches its parent's sockets: each lane forgets its connections in
  the child, right after the fork, before any thread of the child runs.

Nothing here imports Django, nor redis-py before a storage names a server.
"""

from __future__ import annotations

import collections
import functools
import os
import select
import socket
import struct
import sys
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "NotSent",
    "Packed",
    "ScriptLane",
    "command_parts",
    "evalsha",
    "joined",
    "packed",
    "packed_arguments",
]


def _bulk(part: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(part), part)


def _wire(argument: object) -> bytes:
    """An argument as redis-py would send it: bytes as they are, numbers and text as digits."""
    if isinstance(argument, bytes):
        return argument
    if isinstance(argument, int) and not isinstance(argument, bool):
        return b"%d" % argument
    if isinstance(argument, str):
        return argument.encode()
    msg = f"a script argument must be bytes, str or int, not {type(argument).__name__}"
    raise TypeError(msg)


def packed_arguments(keys: list[bytes], arguments: list[object]) -> tuple[int, bytes]:
    """The keys and first arguments that every call of a script sends, packed once.

    Returns:
        How many parts they are (the key count included), and those parts packed.
    """
    parts = [b"%d" % len(keys), *keys, *map(_wire, arguments)]
    return len(parts), b"".join(map(_bulk, parts))


class Packed(bytes):
    """An argument already packed as it is sent (see :func:`packed`): sent as it is.

    For the arguments a store sends with every call of a script (its bound, its
    origin, its flags): packing a 4 KiB save's request took 4.7 µs of the
    client's CPU with each argument packed at each call, and 2.0 µs with
    those packed once (``timeit``, CPython 3.11).
    """

    __slots__ = ()


def packed(argument: object) -> Packed:
    """*argument* packed once, to be given to :func:`evalsha` at every call."""
    return Packed(_bulk(_wire(argument)))


def joined(argument: object) -> object:
    """*argument* as redis-py takes it: a tuple of bytes (see :func:`evalsha`) joined."""
    if isinstance(argument, Packed):  # "$<length>\r\n<value>\r\n": the value between
        return bytes(argument[argument.index(b"\r\n") + 2 : -2])
    return b"".join(argument) if isinstance(argument, tuple) else argument


def evalsha(sha: bytes, fixed: tuple[int, bytes], arguments: tuple[object, ...]) -> bytes:
    """The packed ``EVALSHA`` of the script *sha*: the *fixed* parts, then *arguments*.

    An argument given as a tuple of bytes is sent as their concatenation,
    without joining them first: the request is the one copy of a content.
    One given :func:`packed` is sent as it was packed.
    """
    count, fixed_parts = fixed
    parts = [b"*%d\r\n$7\r\nEVALSHA\r\n" % (2 + count + len(arguments)), _bulk(sha), fixed_parts]
    _pack_into(parts, arguments)
    return b"".join(parts)


def command_parts(*arguments: object) -> list[bytes]:
    """A command packed in parts to join: its name, then *arguments* as :func:`evalsha` takes them.

    In parts, so that a request of several commands is joined once: a content
    given as a tuple of bytes is copied once, into the request.
    """
    parts = [b"*%d\r\n" % len(arguments)]
    _pack_into(parts, arguments)
    return parts


def _pack_into(parts: list[bytes], arguments: tuple[object, ...]) -> None:
    append = parts.append
    for argument in arguments:
        kind = type(argument)
        if kind is Packed:
            append(argument)  # type: ignore[arg-type]  # a Packed is bytes
        elif kind is tuple:
            size = 0
            for part in argument:  # type: ignore[attr-defined]  # a tuple, as checked
                size += len(part) if type(part) is bytes else memoryview(part).nbytes
            append(b"$%d\r\n" % size)
            parts += argument  # type: ignore[arg-type]  # a tuple, as checked
            append(b"\r\n")
        else:
            append(_bulk(_wire(argument)))


class NotSent(Exception):  # what happened, not an error of its own
    """The request never reached the server whole: running it another way cannot run it twice."""


#: Every lane of the process, to give each a queue of its own in a forked child.
_lanes: weakref.WeakSet[ScriptLane] = weakref.WeakSet()


def _forget_parents_connections() -> None:
    """In a forked child (one thread, before any other runs): no lane keeps its parent's sockets."""
    for lane in list(_lanes):
        lane.forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_parents_connections)


#: How much a lean read takes from the socket at once: redis-py's own default.
_READ_SIZE = 65536
#: The protocols a lean read speaks: RESP2, and RESP3 (the default of redis-py 8.2).
_RESP2, _RESP3 = 2, 3


def _lean_parts(connection: Any) -> _Lean | None:
    """How the lane reads *connection* itself, or ``None`` where redis-py's methods must.

    The lean way sends on the connection's socket and feeds its bytes to the
    reader redis-py made for the connection, past redis-py's methods. It
    applies to a plain TCP or Unix socket (a TLS one may hold decrypted bytes
    above it) read by hiredis, where the URL asked for no health check (redis-py
    runs those before a send), on RESP2, or on RESP3 where hiredis tells a push
    from a reply. These are redis-py's own attributes: where a version names
    them otherwise, the connection takes redis-py's methods, as it did before.
    """
    if not hasattr(select, "poll") or getattr(connection, "health_check_interval", None):
        return None
    sock = getattr(connection, "_sock", None)
    parser = getattr(connection, "_parser", None)
    reader = getattr(parser, "_reader", None)
    if type(sock) is not socket.socket or reader is None or not hasattr(reader, "gets"):
        return None
    push = getattr(parser, "_hiredis_PushNotificationType", None)
    protocol = getattr(connection, "protocol", None)
    if reader.has_data() or (protocol != _RESP2 and (protocol != _RESP3 or push is None)):
        return None
    _time_out_in_the_kernel(sock)
    module = sys.modules.get(type(parser).__module__)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return _Lean(
        sock,
        reader,
        getattr(module, "NOT_ENOUGH_DATA", False),
        push,
        getattr(parser, "handle_push_response", None),
        poller,
        bytearray(_READ_SIZE),
    )


def _time_out_in_the_kernel(sock: socket.socket) -> None:
    """Give *sock*'s timeout to the kernel (``SO_RCVTIMEO``, ``SO_SNDTIMEO``), and block.

    A Python socket with a timeout polls before each send and each receive: two
    system calls more for each request. A blocking socket whose kernel times
    out its calls after as long makes none: a 4 KiB save went from 3 polls to 1
    (``strace -c``, the third is the idle check), and from 53 µs to 50.5 µs of
    the client's CPU (medians of six rounds of 20,000, one thread). A call that the kernel
    timed out raises ``BlockingIOError``, which the lane takes for a timeout.
    """
    timeout = sock.gettimeout()
    if not timeout:  # None: it waits forever already (0 is never redis-py's)
        return
    seconds = int(timeout)
    interval = struct.pack("ll", seconds, int((timeout - seconds) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)
    except OSError:  # a system whose timeval is not two longs: Python's timeout stays
        return
    sock.settimeout(None)


class _Lean(NamedTuple):
    """What the lean way reads a connection by (see :func:`_lean_parts`)."""

    sock: socket.socket
    reader: Any
    #: What the reader answers before a reply is whole.
    incomplete: object
    #: The type of a RESP3 push, which comes between replies; ``None`` on RESP2.
    push: type | None
    #: redis-py's handling of a push (a server's maintenance notice, among them).
    handle_push: Callable[[Any], Any] | None
    #: Polls the socket for anything, or a close, while the connection is idle.
    poller: Any
    #: Where the socket's bytes are read into.
    buffer: bytearray


class _Held:
    """One of a lane's connections, and how it is read (``lean``: ``None`` by redis-py's methods).

    Used by one thread at a time: the one that took it from the lane's idle ones.
    """

    __slots__ = ("connection", "lean", "opened")

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.lean: _Lean | None = None
        # Whether the connection was opened (and ``lean`` found) since it was last closed.
        self.opened = False

    def stale(self, failures: tuple[type[BaseException], ...]) -> bool:
        """Whether the server closed the connection while it was idle, or it is out of step."""
        lean = self.lean
        if lean is not None:  # anything to read, or a close, on an idle connection
            return lean.reader.has_data() or bool(lean.poller.poll(0))
        try:
            return bool(self.connection.can_read())
        except failures:
            return True

    def open(self) -> None:
        """Open the connection where it is closed; learn whether it is read the lean way."""
        if not self.opened:
            self.connection.connect()  # redis-py's: nothing where the connection is open
            self.lean = _lean_parts(self.connection)
            self.opened = True

    def close(self) -> None:
        """Close the connection: the next use opens it again (redis-py makes a new reader)."""
        self.lean = None
        self.opened = False
        self.connection.disconnect()


class ScriptLane:
    """Requests sent over connections made like *client*'s, kept here: one per thread at once.

    One lane per client (see :func:`~inmemorystorage.redis_store.lane_for`), whatever
    namespaces its stores use. Its connections are made with the client's pool's own
    connection class and arguments, apart from that pool, so that the pool's count of
    connections is never touched from outside its lock. Not for a cluster client, which has
    no one pool: the caller keeps redis-py's path for that.
    """

    def __init__(self, client: Any) -> None:
        import redis.exceptions  # noqa: PLC0415  # only where a storage names a server

        pool = client.connection_pool
        # The error answers that redis-py's read_response() raises once the reply is read
        # whole (it raises LOADING's BusyLoadingError, a ConnectionError, after closing).
        self._answers = redis.exceptions.ResponseError
        self._connection_error = redis.exceptions.ConnectionError
        self._timeout_error = redis.exceptions.TimeoutError
        self._failures = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
        self._make = functools.partial(pool.connection_class, **pool.connection_kwargs)
        # Last in, first out: the connection used last is the one most likely still open.
        # A deque's append() and pop() are thread-safe, as its documentation promises.
        self._idle: collections.deque[_Held] = collections.deque()
        _lanes.add(self)

    def forget_connections(self) -> None:
        """Drop every idle connection without closing it (a forked child's are its parent's)."""
        self._idle = collections.deque()

    def send(self, packed: bytes) -> Any:
        """Send one packed request on a connection of the lane's; the server's reply.

        An idle connection that the server has closed (a restart, a timeout, a
        kill) is found before the request is sent, and opened again.

        Raises:
            NotSent: the request did not reach the server whole (it could not
                connect, or the send failed): it did not run.
            redis.exceptions.ResponseError: the server answered an error
                (``NOSCRIPT`` among them); the connection stays usable.
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError:
                the connection failed after the request was sent: it may or may
                not have run. The connection is closed, and reconnects when next used.
                (A server still loading its data answers ``LOADING``, a
                ``BusyLoadingError``: a ConnectionError whose request did not run,
                read whole on a lean connection, which stays open.)
        """
        (reply,) = self.exchange(packed, 1)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def exchange(self, packed: bytes, count: int) -> list[Any]:
        """Send *count* packed requests at once, as :meth:`send` sends one; their replies.

        An error answer is in the list, as its exception, where a reply would
        be: the requests after it ran all the same, and every reply was read.

        Raises:
            NotSent: as :meth:`send`: where *count* is 1, or the connection failed
                before a byte was sent.
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError:
                as :meth:`send`, and where the send of several requests failed:
                the first ones may have reached the server whole, and run.
        """
        idle = self._idle
        try:
            held = idle.pop()
        except IndexError:
            held = _Held(self._make())
        else:
            if held.stale(self._failures):
                held.close()
        sending = False
        try:
            held.open()
            sending = True
            if held.lean is None:
                held.connection.send_packed_command([packed])
            else:
                held.lean.sock.sendall(packed)
        except BaseException as exc:
            held.close()
            idle.append(held)
            if not isinstance(exc, self._failures):
                raise
            if count == 1 or not sending:  # one request, cut short, never runs
                raise NotSent from exc
            if isinstance(exc, self._connection_error | self._timeout_error):
                raise
            timed_out = isinstance(exc, TimeoutError | BlockingIOError)  # the kernel's timeout
            msg = f"Error while writing to socket: {exc}"
            raise (self._timeout_error if timed_out else self._connection_error)(msg) from exc
        try:
            reply = self._reply
            replies = [reply(held)] if count == 1 else [reply(held) for _ in range(count)]
        except BaseException:
            held.close()  # a reply may be half read
            idle.append(held)
            raise
        idle.append(held)  # every reply was read whole: the connection is in step
        return replies

    def _reply(self, held: _Held) -> Any:
        """The next reply on *held*'s connection; an error answer as its exception."""
        if held.lean is not None:
            return self._read(held.lean)
        try:
            return held.connection.read_response()
        except self._answers as exc:  # raised by redis-py once the reply was read whole
            return exc

    def _read(self, lean: _Lean) -> Any:
        """One reply, read the lean way: the socket's bytes fed to the connection's reader.

        An error answer comes back as its exception (the reader makes it). A push
        that comes before the reply (RESP3) goes to redis-py's handling of
        it. 4 KiB saves from 4 processes of 2 threads ran at 16.1k/s read so,
        against 14.1k/s through redis-py's methods (which check the connection
        again at each call, with a poll object made for each check).
        """
        sock, reader, incomplete, buffer = lean.sock, lean.reader, lean.incomplete, lean.buffer
        while True:
            reply = reader.gets()
            while reply is incomplete:
                try:
                    size = sock.recv_into(buffer)
                except (TimeoutError, BlockingIOError) as exc:  # the kernel's timeout, ETIMEDOUT
                    msg = f"Timeout reading from socket: {exc}"
                    raise self._timeout_error(msg) from exc
                except OSError as exc:
                    msg = f"Error while reading from socket: {exc}"
                    raise self._connection_error(msg) from exc
                if not size:
                    msg = "Connection closed by server."
                    raise self._connection_error(msg)
                reader.feed(buffer, 0, size)
                reply = reader.gets()
            if lean.push is None or type(reply) is not lean.push:
                return reply
            if lean.handle_push is not None:
                lean.handle_push(reply)
