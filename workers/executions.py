"""RQ's record of a job's runs ("executions"), kept usable when Redis lost some of it.

RQ lists a job's executions in a sorted set that outlives each execution's own hash by 60 s, and reads
every listed hash when the job finishes. A hash can be gone while its entry stays: it expired because
its worker could not refresh it (Redis away for longer than the heartbeat's TTL), or a Sentinel
failover promoted a replica that had the entry and not the latest refresh. RQ then raises
``ValueError: Execution ... not found`` while cleaning up a delivery that succeeded, so a delivered job
counted as failed, ran again (its events sent once more) and ended in the failed registry. Here a
missing execution is listed by its id alone, which is all that removing it needs.
"""

from __future__ import annotations

from rq.executions import Execution, ExecutionRegistry


class LenientExecutionRegistry(ExecutionRegistry):
    def get_executions(self, start: int = 0, end: int = -1) -> list[Execution]:
        found = []
        for execution_id in self.get_execution_ids(start, end):
            try:
                found.append(Execution.fetch(id=execution_id, job_id=self.job_id, connection=self.connection))
            except ValueError:
                found.append(Execution(id=execution_id, job_id=self.job_id, connection=self.connection))
        return found
