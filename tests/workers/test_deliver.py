from __future__ import annotations

import fakeredis
from rq.serializers import JSONSerializer

from notifier.delivery.batch import deliver_batch
from notifier.delivery.enqueue import BATCH_FUNC, JOB_FUNC, LEGACY_FUNCS
from notifier.delivery.single import deliver
from workers.deliver import DeliveryJob


def test_jobs_name_the_functions_that_run_them() -> None:
    connection = fakeredis.FakeStrictRedis()
    assert DeliveryJob.create(JOB_FUNC, connection=connection, serializer=JSONSerializer).func is deliver
    assert DeliveryJob.create(BATCH_FUNC, connection=connection, serializer=JSONSerializer).func is deliver_batch


def test_jobs_from_before_the_stages_still_run() -> None:
    # A queue or failed registry written by the flat layout names notifier.delivery.deliver.
    connection = fakeredis.FakeStrictRedis()
    legacy = {name: DeliveryJob.create(name, connection=connection, serializer=JSONSerializer).func
              for name in LEGACY_FUNCS}
    assert legacy == {"notifier.delivery.deliver": deliver, "notifier.batch_delivery.deliver_batch": deliver_batch}


def test_a_job_naming_anything_else_is_refused_before_it_runs() -> None:
    import pytest
    from rq.webhook import Webhook

    from workers.deliver import JobRefused

    connection = fakeredis.FakeStrictRedis()

    def job(func: str, **options: object) -> DeliveryJob:
        made = DeliveryJob.create(func, args=["true"], connection=connection, serializer=JSONSerializer, **options)
        made.save()
        # As a worker sees it: read back from Redis.
        return DeliveryJob.fetch(made.id, connection=connection, serializer=JSONSerializer)

    from rq import Callback

    planted = [
        job("os.system"),
        job("subprocess.getoutput"),
        job(JOB_FUNC, on_failure=Callback("os.system")),
        job(JOB_FUNC, on_success=Callback("os.system")),
        job(JOB_FUNC, webhooks=[Webhook("http://127.0.0.1:9/steal", "failed")]),
    ]
    for made in planted:
        made.retries_left = 3
        with pytest.raises(JobRefused, match="refused: it"):
            made.func  # noqa: B018
        assert made.retries_left == 0
        assert made.failure_callback is None and made.success_callback is None and made.stopped_callback is None
