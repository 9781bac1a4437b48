"""The sandbox: what imitates the outside world, for the demo, the tests and the benchmarks.

A simulated upstream (``simulator``), ``traffic`` that keeps it making images for ``simulate``, a
verifying webhook receiver (``receiver``), ``demo`` and ``testsink`` (a sample event to each configured
sink). Production code never imports this package; only
``notifier.cli``'s ``demo``, ``simulate`` and ``test-sink`` commands do, besides tests, bench and scripts.
"""
