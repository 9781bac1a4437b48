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
