"""The shared engine's hot path: its scripts sent over redis-py's connections, past its commands.

Every save and every read of the shared engine is one ``EVALSHA``. Through
redis-py's client, such a call cost about 40 µs of this process's CPU beside
the round trip (measured with redis-py 8.2: the client's connection pool and
its observability hooks, seventeen arguments encoded one at a time, the
script object), against about 12 µs through a connection held directly.
Under threads, that CPU is what they queue for.

:class:`ScriptLane` keeps the difference and nothing else of its own:

* **The connections are redis-py's**, made by the client's own pool
  (``make_connection()``), so TLS, the password, the database and the
  protocol are exactly the client's. The lane keeps them in a queue of its
  own: one per thread that calls at once, reused, never more.
* **The request is packed here**, the namespace's fixed arguments once per
  script; the reply is read by redis-py's parser, as before.
* **Anything unusual goes back to redis-py's full path**, which decides as
  it did before the lane: a server that lost the scripts (``NOSCRIPT``, after a
  restart or ``SCRIPT FLUSH``) gets them loaded again, and a connection that
  fails is retried under the client's retry policy. A connection that failed
  is closed before it is used again (it reconnects on its next request), so
  its state never leaks into another call.
* **A forked process** (a worker of gunicorn or Celery forked after a call)
  never touches its parent's sockets or queue: the lane starts a new queue
  in the child, as redis-py's pool does.

Nothing here imports Django, nor redis-py before a storage names a server.
"""

from __future__ import annotations

import os
import queue
from typing import Any

__all__ = ["ScriptLane", "evalsha", "joined", "packed_arguments"]


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


def joined(argument: object) -> object:
    """*argument* as redis-py takes it: a tuple of bytes (see :func:`evalsha`) joined."""
    return b"".join(argument) if isinstance(argument, tuple) else argument


def evalsha(sha: bytes, fixed: tuple[int, bytes], arguments: tuple[object, ...]) -> bytes:
    """The packed ``EVALSHA`` of the script *sha*: the *fixed* parts, then *arguments*.

    An argument given as a tuple of bytes is sent as their concatenation,
    without joining them first: the request is the one copy of a content.
    """
    count, packed = fixed
    parts = [b"*%d\r\n$7\r\nEVALSHA\r\n" % (2 + count + len(arguments)), _bulk(sha), packed]
    for argument in arguments:
        if isinstance(argument, tuple):
            parts += [b"$%d\r\n" % sum(map(len, argument)), *argument, b"\r\n"]
        else:
            parts.append(_bulk(_wire(argument)))
    return b"".join(parts)


class ScriptLane:
    """Requests sent over connections of *client*'s pool, kept here: one per thread calling at once.

    One lane per client (see :func:`~inmemorystorage.redis_store.client_for`), whatever
    namespaces its stores use. Not for a cluster client, which has no one pool: the
    caller keeps redis-py's path for that.
    """

    def __init__(self, client: Any) -> None:
        import redis.exceptions  # noqa: PLC0415  # only where a storage names a server

        self._reply_errors = redis.exceptions.ResponseError
        self._pool = client.connection_pool
        self._pid = os.getpid()
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send(self, packed: bytes) -> Any:
        """Send one packed request on a connection of the lane's; the server's reply.

        Raises:
            redis.exceptions.ResponseError: the server answered an error
                (``NOSCRIPT`` among them); the connection stays usable.
            redis.exceptions.ConnectionError, redis.exceptions.TimeoutError:
                the connection failed; it is closed, and reconnects when next used.
        """
        if self._pid != os.getpid():  # forked: the parent's connections are not this process's
            self._idle = queue.SimpleQueue()
            self._pid = os.getpid()
        idle = self._idle
        try:
            connection = idle.get_nowait()
        except queue.Empty:
            connection = self._pool.make_connection()
        try:
            connection.send_packed_command([packed])
            reply = connection.read_response()
        except self._reply_errors:
            idle.put(connection)  # the whole reply was read: the connection is in step
            raise
        except BaseException:
            connection.disconnect()  # a request may be half sent or a reply half read
            idle.put(connection)
            raise
        idle.put(connection)
        return reply
