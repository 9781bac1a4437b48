"""Stage 4, delivery: events to their destinations, through RQ jobs and the retry policy.

``enqueue`` turns events into jobs (one per event and sink, or batch jobs for a burst); ``single`` and
``batch`` are the jobs; ``policy`` and ``retry_table`` decide when to try again (pure); ``circuit`` and
``ratelimit`` keep a sink's lease, open circuit and token bucket in Redis; ``sinks/`` holds one module per
kind of destination, each a pure ``build_request`` and an I/O ``send``.

May use: ``notifier.state``, ``notifier.runtime``, ``notifier.ops.metrics``, ``notifier.errors``,
``notifier.backoff``, ``notifier.upstream.clean`` (the sinks clean what they send again). Never ``sandbox``.
"""
