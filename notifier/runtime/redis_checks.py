"""Is this Redis safe to keep notifier's state in? And has it lost that state since we last looked?

- Configuration: a ``maxmemory-policy`` other than ``noeviction`` lets Redis drop image states and queued
  deliveries under memory pressure; no append-only file and no snapshots lose them at every restart.
  Both are said loudly at start-up (the service still runs: the operator decides).
- Sentinel (``redis+sentinel://``): fewer than three sentinels, or no healthy replica to promote, means a
  failover cannot happen or cannot be agreed on; also said at start-up. What a failover can still lose
  (writes not yet replicated) is in the README's "Scale out" section.
- The epoch: a key written once, when notifier first uses a Redis. Should it vanish while this process
  had seen it (a restart without persistence, a FLUSHALL, an eviction), Redis lost notifier's state: the
  next polls record what is there as on a first poll, so changes made meanwhile are not announced. That
  is logged as an error and kept under ``<prefix>:state-lost`` for ``notifier status``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

import redis
from redis.sentinel import SentinelConnectionPool

log = logging.getLogger(__name__)


def config_risks(client: redis.Redis) -> list[str]:
    """What in this Redis's configuration can lose notifier's state, in words; empty when nothing."""
    try:
        config: dict[str, str] = client.config_get("maxmemory-policy")  # type: ignore[assignment]
        config.update(client.config_get("appendonly"))  # type: ignore[arg-type]
        config.update(client.config_get("save"))  # type: ignore[arg-type]
    except redis.ResponseError:
        return ["Redis refused CONFIG GET: check by hand that maxmemory-policy is noeviction and that "
                "persistence (appendonly yes) is on", *sentinel_risks(client)]
    risks = sentinel_risks(client)
    policy = config.get("maxmemory-policy", "noeviction")
    if policy != "noeviction":
        risks.append(f"Redis's maxmemory-policy is {policy}: under memory pressure it evicts keys, notifier's "
                     "image states and queued deliveries among them (events lost or sent again); "
                     "set maxmemory-policy noeviction")
    if config.get("appendonly", "no") == "no" and not config.get("save", "").strip():
        risks.append("Redis keeps nothing on disk (appendonly no, no save points): a restart loses every "
                     "image's last status and every queued delivery; set appendonly yes")
    return risks


def sentinel_risks(client: redis.Redis) -> list[str]:
    """What in a Sentinel set-up keeps a failover from happening; empty for a plain Redis or when nothing."""
    pool = client.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return []
    for sentinel in pool.sentinel_manager.sentinels:
        try:
            replicas: list[dict[str, object]] = sentinel.sentinel_slaves(pool.service_name)
            others: list[dict[str, object]] = sentinel.sentinel_sentinels(pool.service_name)
            break
        except (redis.RedisError, OSError):
            continue
    else:
        return ["no sentinel of NOTIFIER_REDIS_URL answered about its master: check the sentinels"]
    risks = []
    if not any(_healthy(replica) for replica in replicas):
        risks.append("Sentinel knows no healthy replica of the master: if the master fails there is nothing to "
                     "promote; run at least one replica")
    if len(others) + 1 < 3:
        risks.append(f"only {len(others) + 1} sentinel(s) watch the master: run at least three (on separate "
                     "machines) so a failover is agreed on while one is down")
    return risks


def _healthy(node: dict[str, object]) -> bool:
    # redis-py derives these from the node's flags (s_down, o_down, disconnected).
    return not (node.get("is_sdown") or node.get("is_odown") or node.get("is_disconnected"))


def warn_about_config(client: redis.Redis) -> None:
    try:
        risks = config_risks(client)
    except redis.RedisError as exc:
        log.warning("could not check Redis's configuration: %s", exc)
        return
    for risk in risks:
        log.warning("REDIS CONFIGURATION RISK: %s", risk)


class Epoch:
    """Notices Redis losing notifier's state between two checks of one process."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self.key = f"{prefix}:epoch"
        self.lost_key = f"{prefix}:state-lost"
        self._seen: bytes | None = None

    def check(self, *, now: float | None = None) -> bool:
        """True when this check found the state lost (reported once); writes the epoch when missing."""
        current: bytes | None = self._redis.get(self.key)  # type: ignore[assignment]
        lost = self._seen is not None and current != self._seen
        if current is None:
            fresh = f"{uuid.uuid4().hex}:{time.time():.0f}".encode()
            self._redis.set(self.key, fresh, nx=True)
            current = self._redis.get(self.key)  # type: ignore[assignment]
        self._seen = current
        if lost:
            at = time.time() if now is None else now
            self._redis.set(self.lost_key, json.dumps({"at": at}))
            log.error("REDIS LOST NOTIFIER'S STATE (its epoch key %s vanished or changed): image statuses and "
                      "queued deliveries from before are gone; the next polls record what is there without "
                      "announcing it, so changes made meanwhile were not sent. Check Redis's persistence and "
                      "eviction policy.", self.key)
        return lost


def state_lost_at(client: redis.Redis, prefix: str) -> float | None:
    """When a loss of state was last detected (None: never)."""
    raw: bytes | None = client.get(f"{prefix}:state-lost")  # type: ignore[assignment]
    return None if raw is None else float(json.loads(raw)["at"])
