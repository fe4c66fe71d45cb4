"""A minimal Redis client: one command sent in one ``sendall()``, its reply read buffered.

What the bench uses where redis-py's own work must stay out of a figure: the
time split of the shared engine's calls (``shared.py``) and the round-trip
floor (``floors.py``). It speaks just enough of Redis' protocol (RESP 2) for
them, and fails loudly on anything else: a connection closed under it, a
reply cut short, or a kind of reply it does not read.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

__all__ = ["Connection", "pack"]


def pack(*parts: bytes) -> bytes:
    """A command in Redis' protocol (RESP): an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out += [b"$%d\r\n" % len(part), part, b"\r\n"]
    return b"".join(out)


class Connection:
    """One socket to the server at *url*, on its database *database*."""

    def __init__(self, url: str, database: int = 0) -> None:
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = self.sock.makefile("rb")
        if database and self.call(b"SELECT", b"%d" % database) != b"OK":
            self.close()
            msg = f"SELECT {database} was not answered OK"
            raise ConnectionError(msg)

    def call(self, *parts: bytes) -> Any:
        """Send one command; its reply: bytes, an int's digits, ``None`` (nil) or a list."""
        self.sock.sendall(pack(*parts))
        return self._reply()

    def _reply(self) -> Any:
        line = self.stream.readline()
        if not line.endswith(b"\r\n"):
            msg = "the server closed the connection"
            raise ConnectionError(msg)
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.stream.read(size + 2)
            if len(data) != size + 2:
                msg = "the server closed the connection in a reply"
                raise ConnectionError(msg)
            return data[:-2]
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        msg = f"a reply of a kind this client does not read: {line[:20]!r}"
        raise ConnectionError(msg)

    def close(self) -> None:
        """Close the buffered reader and the socket."""
        self.stream.close()
        self.sock.close()
