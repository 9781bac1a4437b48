"""Stage 1, the upstream: useapi.net's PixVerse API as the notifier sees it.

``client`` speaks HTTP to the upstream and turns every failure into an ``UpstreamError``; ``clean``
makes what enters valid text (pure: lone surrogates replaced, no NaN); ``statuses`` names the status
codes (pure); ``scan`` is one poll of one account: paging, the stop rule and lookups,
handing what it saw to the tracker.

May use: ``notifier.errors``, ``notifier.backoff``, ``notifier.state`` (the tracker ``scan`` feeds) and
``notifier.ops.metrics``. Never ``sandbox``.
"""
