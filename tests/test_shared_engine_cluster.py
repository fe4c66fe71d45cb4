"""The shared engine on a Redis Cluster of three masters, started here: a real one, never a mock.

A namespace's keys share one hash tag (``ims:{media}:``), so they fall in one
slot, and each script runs whole on the node that holds it. The storage is
given one node's URL, as for one server; where another node holds the
namespace, the first answer (``MOVED``) makes it a cluster client.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from django.core.files.base import ContentFile
from redis.cluster import RedisCluster

from inmemorystorage import InMemoryStorage
from inmemorystorage.budget import FILE_OVERHEAD
from inmemorystorage.redis_store import STAGED_FROM, client_for

from .redis_server import running_cluster

pytestmark = [pytest.mark.once, pytest.mark.usefixtures("forget_shared_stores")]

NAMESPACES = [f"site{i}" for i in range(8)]


@pytest.fixture(scope="module")
def cluster() -> Iterator[list[str]]:
    with running_cluster() as urls:
        yield urls


def node_of(urls: list[str], namespace: str) -> str:
    """The ``host:port`` of the node that holds *namespace*'s keys."""
    client = RedisCluster.from_url(urls[0])
    node = client.get_node_from_key(f"ims:{{{namespace}}}:meta")
    client.close()
    return f"{node.host}:{node.port}"


def test_namespaces_spread_over_the_nodes_each_keep_their_files(cluster):
    """Eight namespaces on three masters, each reached through the first node's URL."""
    assert len({node_of(cluster, n) for n in NAMESPACES}) > 1  # more than one node is used
    storages = {n: InMemoryStorage(namespace=n, server=cluster[0]) for n in NAMESPACES}
    for namespace, storage in storages.items():
        storage.save("docs/a.txt", ContentFile(namespace.encode()))
        storage.save("docs/a.txt", ContentFile(b"second"))  # taken: another name
    for namespace, storage in storages.items():
        dirs, files = storage.listdir("docs")
        assert [] == dirs
        assert 2 == len(files)
        assert namespace.encode() == storage.open("docs/a.txt").read()
        assert storage.exists("docs")
        assert 2 == storage.stats().files
        storage.delete("docs/a.txt")
        assert not storage.exists("docs/a.txt")
        storage.clear()
        assert ([], []) == storage.listdir("")


def test_a_large_save_on_a_cluster_is_staged_on_its_namespace_s_node(cluster):
    """The stage shares the namespace's hash tag: SET, script and DEL meet on one node."""
    large = os.urandom(STAGED_FROM * 4)
    for namespace in NAMESPACES[:3]:
        storage = InMemoryStorage(namespace=namespace, server=cluster[0])
        assert "big.bin" == storage.save("big.bin", ContentFile(large))
        assert large == storage.open("big.bin").read()
        client = RedisCluster.from_url(cluster[0])
        assert [] == client.keys(f"ims:{{{namespace}}}:up:*", target_nodes=RedisCluster.ALL_NODES)
        client.close()
        storage.clear()


def test_a_bounded_namespace_on_a_cluster_evicts_least_recently_used_first(cluster):
    charge = 1000 + FILE_OVERHEAD + len("f0.bin")
    limit = 3 * charge + charge // 2  # three files, and room to remember an eviction
    storage = InMemoryStorage(namespace="bounded", server=cluster[1], max_bytes=limit)
    for i in range(3):
        storage.save(f"f{i}.bin", ContentFile(bytes(1000)))
    storage.open("f0.bin").read()  # f1 is now the least recently used
    storage.save("f3.bin", ContentFile(bytes(1000)))
    assert not storage.exists("f1.bin")
    assert storage.exists("f0.bin")
    assert "f1.bin" == storage.recent_eviction("f1.bin").name
    stats = storage.stats()
    assert (3, 1) == (stats.files, stats.evictions)
    assert stats.bytes_used <= limit
    storage.clear()


def test_a_repair_on_a_cluster_counts_what_the_namespace_s_node_holds(cluster):
    storage = InMemoryStorage(namespace="mended", server=cluster[2])
    storage.save("a.txt", ContentFile(b"a" * 100))
    storage.save("b.txt", ContentFile(b"b" * 100))
    used = storage.stats().bytes_used
    host, port = node_of(cluster, "mended").split(":")
    redis.Redis(host=host, port=int(port)).delete(b"ims:{mended}:f:b.txt")
    assert storage._store.repair() > 0
    assert used - (100 + len("b.txt") + FILE_OVERHEAD) == storage.stats().bytes_used
    assert ([], ["a.txt"]) == storage.listdir("")
    storage.clear()


def test_the_restart_check_asks_the_node_that_holds_the_namespace(cluster):
    """Reached through another node's URL, the namespace notes its own node's run_id."""
    namespace = next(n for n in NAMESPACES if node_of(cluster, n) != cluster[0][8:-2])
    storage = InMemoryStorage(namespace=namespace, server=cluster[0])
    storage.save("a.txt", ContentFile(b"a"))
    host, port = node_of(cluster, namespace).split(":")
    holder = redis.Redis(host=host, port=int(port))
    noted = holder.hget(f"ims:{{{namespace}}}:meta", "run").decode()
    assert holder.info("server")["run_id"] == noted
    storage.clear()


def test_a_cluster_client_never_retries_whatever_its_url_asks(cluster):
    """The cluster client sends a script once: it and its nodes keep no retry of redis-py's."""
    client = client_for(f"{cluster[0]}?retry_on_timeout=true", cluster=True)
    node = client.get_node_from_key("ims:{retry}:meta")
    connection = node.redis_connection.connection_pool.get_connection()
    try:
        assert [0, 0] == [client.retry.get_retries(), connection.retry.get_retries()]
    finally:
        node.redis_connection.connection_pool.release(connection)
