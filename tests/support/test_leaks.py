"""The secret scan of the integration tests finds what it looks for (so its silence means something)."""

from __future__ import annotations

import json
import zlib

import fakeredis

from tests.conftest import SECRET, TOKEN
from tests.support.leaks import find_leaks, redis_texts, secrets_in_env


def test_the_scan_finds_planted_secrets() -> None:
    second = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
    env = {"NOTIFIER_USEAPI_TOKEN": TOKEN, "NOTIFIER_WEBHOOK_SECRET": f"{SECRET} {second}",
           "NOTIFIER_WEBHOOK_URL": "http://127.0.0.1:5000/hooks/s3cr3t-path-token",
           "NOTIFIER_WEBHOOKS": json.dumps([{"url": "https://x.example/other-t0ken", "secret": SECRET}]),
           "NOTIFIER_REDIS_URL": "redis://:url-pa55word@127.0.0.1:6379/0", "NOTIFIER_REDIS_PASSWORD": "pa55word-x",
           "NOTIFIER_METRICS_TOKEN": "m3trics-token"}
    secrets = secrets_in_env(env)
    assert {TOKEN, SECRET, SECRET[6:], "/hooks/s3cr3t-path-token", "/other-t0ken", "url-pa55word", "pa55word-x",
            "m3trics-token", "c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="} <= secrets
    store = fakeredis.FakeRedis()
    store.hset("rq:job:1", mapping={"data": zlib.compress(f'["x", {{"t": "{TOKEN}"}}]'.encode()),
                                    "exc_info": "fine"})
    store.zadd("rq:failed:q", {"job-with-/hooks/s3cr3t-path-token": 1})
    store.set("plain", "nothing here")
    texts = [*redis_texts(store), ("log", f"INFO ok\nERROR whoops {SECRET[6:]}")]
    leaks = find_leaks(texts, secrets)
    assert any(leak.startswith("redis rq:job:1:") for leak in leaks)
    assert any(leak.startswith("redis rq:failed:q:") for leak in leaks)
    assert any(leak.startswith("log:") for leak in leaks)
    assert not find_leaks([("plain", "nothing here")], secrets)
