"""A real Redis server for the shared engine's tests: started on a free loopback port, then stopped.

Never a mock. The tests start it as the bench does, with the bench's own
starter (``benchmarks/redisserver.py``): the system's ``redis-server``
(Debian's ``redis-server`` package; ``nox -s tests`` installs it with apt-get
where it is missing, and on macOS ``brew install redis`` gives it;
``REDIS_SERVER`` may name another binary). Without one the tests that need it
fail and say how to get it: they are never skipped.
"""

from __future__ import annotations

from benchmarks.redisserver import BINARY_ENV, NoServerError, binary, free_port, running_server

__all__ = ["BINARY_ENV", "NoServerError", "binary", "free_port", "running_server"]
