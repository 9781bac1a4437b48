"""Real notifier processes for integration tests, killed (with their children) at teardown."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from notifier.runtime.settings import Settings


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, BaseModel):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process build the same Settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    for key, value in settings:
        plain = _plain(value)
        if key in ("accounts", "media"):
            plain = ",".join(plain)
        elif isinstance(plain, list | dict):
            plain = json.dumps(plain)
        env[f"NOTIFIER_{key.upper()}"] = str(plain)
    env["PYTHONUNBUFFERED"] = "1"
    return env


STARTED: list[Proc] = []
"""Every process started by the tests, in order (the integration tests scan their logs for secrets)."""


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], cwd: str) -> None:
        self.args = args
        self.env = env
        STARTED.append(self)
        self.log = Path(tempfile.mkstemp(prefix="notifier-proc-", suffix=".log")[1])
        self._out = self.log.open("wb")
        # Its own process group, so a SIGKILL reaches the RQ scheduler child too.
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "notifier.cli", *args],
            env=env, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def wait(self, timeout_s: float) -> int:
        return self.popen.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
        self.signal_group(signal.SIGKILL)
        if self.popen.poll() is None:
            self.popen.wait(timeout=5)
        self._out.close()


def wait_until(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def descendants_of(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
