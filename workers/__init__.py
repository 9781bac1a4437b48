"""Process entry points: the poller, the delivery worker, and the supervisor of both."""
