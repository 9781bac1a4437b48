"""Stage 2, polling: which account is polled when, and how long an account pauses after errors.

May use: ``notifier.upstream`` (one poll of one account), ``notifier.state``, ``notifier.runtime.settings``,
``notifier.ops.metrics``, ``notifier.errors``, ``notifier.backoff``. Never ``sandbox``.
"""
