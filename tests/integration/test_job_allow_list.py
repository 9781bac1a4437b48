"""Whoever can write to Redis cannot make a delivery worker run code of their choosing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rq import Callback, Queue
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import JOB_FUNC, make_queue
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration


def test_a_planted_job_is_refused_failed_and_logged_not_run(stack: Callable[..., Stack], tmp_path: Path) -> None:
    s = stack()
    queue = make_queue(s.redis, s.settings)
    proof = tmp_path / "pwned"
    planted = Queue(s.settings.queue_name, connection=s.redis, serializer=JSONSerializer)
    system = planted.enqueue_call("os.system", args=(f"touch {proof}",), job_id="planted-system")
    callback = planted.enqueue_call(JOB_FUNC, args=("webhook", "evt_x", {}), job_id="planted-callback",
                                    on_failure=Callback("os.system"), on_success=Callback("os.system"))
    worker = s.spawn(["worker", "--burst"])
    assert worker.wait(60) == 0
    assert not proof.exists()
    failed = FailedJobRegistry(queue=queue)
    assert set(failed.get_job_ids(cleanup=False)) == {system.id, callback.id}
    for job_id, why in ((system.id, "names 'os.system'"), (callback.id, "carries callbacks")):
        result = queue.fetch_job(job_id).latest_result()  # type: ignore[union-attr]
        assert result is not None and f"refused: it {why}" in (result.exc_string or "")
        assert f"refused job '{job_id}': it {why}" in worker.output()
