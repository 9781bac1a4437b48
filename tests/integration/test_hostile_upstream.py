"""An upstream that echoes the token and sends control characters leaves no secret and no forged line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from notifier.state.keys import Keys
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until

pytestmark = pytest.mark.integration

FORGED = "2026-01-01 00:00:00,000 ERROR notifier: forged"


def test_an_upstream_echoing_the_token_leaves_no_trace(stack: Callable[..., Stack]) -> None:
    s = stack()
    token = s.settings.useapi_token.get_secret_value()
    s.sim.state.inject(400, {"error": f"bad request with token {token}\n{FORGED}\x1b[2J\u202e"}, times=50)
    poller = s.spawn(["poller"])
    meta = Keys(s.settings.key_prefix).meta(A)
    wait_until(lambda: bool(s.redis.hget(meta, "last_error")), 20, "the poll's error to be recorded")
    stored = s.redis.hget(meta, "last_error").decode()  # type: ignore[union-attr]
    assert token not in stored and "\n" not in stored and "\x1b" not in stored and "[redacted]" in stored
    status = subprocess.run([sys.executable, "-m", "notifier.cli", "status"], env=settings_env(s.settings),
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert token not in status.stdout and "\x1b" not in status.stdout and "forged" in status.stdout
    poller.stop()
    log = poller.output()
    assert "forged" in log and token not in log and "\x1b" not in log and "\u202e" not in log
    assert not [line for line in log.splitlines() if line.startswith(FORGED)]
