"""A run of a job whose record expired in Redis (an outage or a failover) is still listed, by id, so finishing or
deleting the job works instead of raising and failing a delivered job."""

from __future__ import annotations

import fakeredis
import pytest
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job

from workers.deliver import DeliveryJob
from workers.executions import LenientExecutionRegistry


def _job_with_a_lost_execution(client: fakeredis.FakeRedis) -> tuple[Job, Execution, Execution]:
    job = DeliveryJob.create(func=print, connection=client)
    job.save()
    with client.pipeline() as pipe:
        lost = Execution.create(job, 60, pipeline=pipe)
        kept = Execution.create(job, 60, pipeline=pipe)
        pipe.execute()
    client.delete(lost.key)  # its hash expired while its entry in the job's registry stays (60 s longer)
    return job, lost, kept


def test_a_lost_execution_is_listed_by_id_and_the_others_in_full() -> None:
    client = fakeredis.FakeRedis()
    job, lost, kept = _job_with_a_lost_execution(client)
    with pytest.raises(ValueError, match="not found"):
        ExecutionRegistry(job.id, connection=client).get_executions()  # what RQ does on its own
    found = {execution.id: execution for execution in LenientExecutionRegistry(job.id, client).get_executions()}
    assert set(found) == {lost.id, kept.id}
    assert found[lost.id].composite_key == lost.composite_key
    assert found[kept.id].worker_name == kept.worker_name and found[kept.id].created_at is not None


def test_a_delivery_job_with_a_lost_execution_can_be_cleaned_up() -> None:
    client = fakeredis.FakeRedis()
    job, _lost, kept = _job_with_a_lost_execution(client)
    assert isinstance(job.execution_registry, LenientExecutionRegistry)
    job.delete()
    assert not client.exists(kept.key) and not client.exists(job.execution_registry.key)
