"""A private Redis master, one replica and three sentinels on loopback, for failover tests.

Every node has a password (the data nodes one, the sentinels another), so the test also shows which
password goes where. Short ``down-after-milliseconds`` and ``failover-timeout`` make a failover take
seconds, not the production defaults' minutes.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.processes import wait_until
from tests.support.redis_server import find_redis_server, free_port

SERVICE = "notifier-master"
DATA_PASSWORD = "data-pa55-Rk7qLm2x"
SENTINEL_PASSWORD = "sentinel-pa55-Wp3zQv8n"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


class Node:
    def __init__(self, binary: str, args: list[str], port: int, password: str, workdir: Path) -> None:
        self.port = port
        self.password = password
        self.log = workdir / "output.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([binary, *args], cwd=workdir, stdout=out, stderr=subprocess.STDOUT)

    def client(self, *, decode: bool = True) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2,
                           decode_responses=decode)

    def answers(self) -> bool:
        if self.process.poll() is not None:
            last = self.log.read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(f"exited with {self.process.returncode}: {' '.join(last)}")
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def tls_sentinel(binary: str, workdir: Path, master_port: int, master_password: str, cert: Path, key: Path,
                 service: str = SERVICE) -> tuple[subprocess.Popen[bytes], int]:
    """One sentinel that speaks only TLS (clients and master alike), watching a TLS-only master; (process, port)."""
    port = free_port()
    config = workdir / f"sentinel-{port}.conf"
    config.write_text("\n".join([
        "port 0", f"tls-port {port}", "bind 127.0.0.1", f"dir {workdir}", "loglevel warning",
        f"tls-cert-file {cert}", f"tls-key-file {key}", f"tls-ca-cert-file {cert}", "tls-auth-clients no",
        "tls-replication yes",  # a sentinel reaches the master the way replicas do: over TLS
        f"sentinel monitor {service} 127.0.0.1 {master_port} 1", f"sentinel auth-pass {service} {master_password}",
        "",
    ]))
    process = subprocess.Popen([binary, str(config), "--sentinel"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    return process, port


class SentinelCluster:
    def __init__(self) -> None:
        self.binary = find_redis_server()
        self.dir = Path(tempfile.mkdtemp(prefix="notifier-test-sentinel-"))
        self.nodes: list[Node] = []
        try:
            self.master = self._data_node("master", [])
            self.replica = self._data_node("replica", ["--replicaof", "127.0.0.1", str(self.master.port)])
            self.sentinels = [self._sentinel(index) for index in range(3)]
            for node in self.nodes:
                wait_until(node.answers, 10, f"the node on port {node.port}")
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def _data_node(self, name: str, extra: list[str]) -> Node:
        port = free_port()
        workdir = self.dir / name
        workdir.mkdir()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(workdir), "--requirepass", DATA_PASSWORD, "--masterauth", DATA_PASSWORD,
                # The default (5 s) delays the replica's first sync: nothing to wait for here.
                "--repl-diskless-sync-delay", "0", "--loglevel", "warning", *extra]
        self.nodes.append(Node(self.binary, args, port, DATA_PASSWORD, workdir))
        return self.nodes[-1]

    def _sentinel(self, index: int) -> Node:
        port = free_port()
        workdir = self.dir / f"sentinel-{index}"
        workdir.mkdir()
        config = workdir / "sentinel.conf"  # a sentinel rewrites its file: one each
        config.write_text("\n".join([
            f"port {port}", "bind 127.0.0.1", f"dir {workdir}", "loglevel warning",
            f"requirepass {SENTINEL_PASSWORD}", f"sentinel sentinel-pass {SENTINEL_PASSWORD}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.master.port} 2",
            f"sentinel auth-pass {SERVICE} {DATA_PASSWORD}",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}", "",
        ]))
        self.nodes.append(Node(self.binary, [str(config), "--sentinel"], port, SENTINEL_PASSWORD, workdir))
        return self.nodes[-1]

    def settled(self) -> bool:
        """Every sentinel knows the replica (in sync) and the two other sentinels: a failover can be agreed on."""
        for sentinel in self.sentinels:
            state = sentinel.client().sentinel_master(SERVICE)
            if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                return False
        info = self.replica.client().info("replication")
        return bool(info.get("master_link_status") == "up")

    def master_port(self) -> int:
        """The port of the master the sentinels name now."""
        host_port = self.sentinels[0].client().sentinel_get_master_addr_by_name(SERVICE)
        return int(host_port[1])

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_for_failover(self, timeout_s: float) -> float:
        """Seconds until every sentinel names the replica as the master."""
        start = time.monotonic()
        wait_until(lambda: all(int(s.client().sentinel_get_master_addr_by_name(SERVICE)[1]) == self.replica.port
                               for s in self.sentinels), timeout_s, "the sentinels to promote the replica", 0.1)
        return time.monotonic() - start
