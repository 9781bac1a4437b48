"""Stage 3, state: what the notifier remembers in Redis and what counts as an event.

``keys`` builds every Redis key under one prefix; ``transitions`` decides whether an observation is an
event (pure); ``events`` builds the payload and its deterministic id (pure); ``tracker`` changes the state
and enqueues the delivery jobs in one Redis transaction.

May use: ``notifier.upstream.statuses``, ``notifier.errors``. Never ``sandbox``.
"""
