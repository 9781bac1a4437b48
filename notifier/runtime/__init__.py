"""Runtime: settings (and each sink's settings), the Redis connection, the embedded Redis, process
helpers, and ``app``, which wires the stages together for the processes in ``workers/``.

``settings`` and ``sink_config`` sit under every stage; ``app`` sits above them all. Never ``sandbox``.
"""
