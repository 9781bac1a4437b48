"""Every Redis key notifier writes, built in one place under one prefix."""

from __future__ import annotations

from dataclasses import dataclass

NO_EMAIL = "_default"
"""Account name used when the upstream has no account list (polling without ``email``)."""
DEFAULT_SOURCE = "default"
"""The source of the single-token settings; its keys are those of a notifier with one token."""


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str
    source: str = DEFAULT_SOURCE
    """Whose accounts: each source (token) keeps its accounts' state apart, so two sources may hold the same
    email without one looking up (and declaring deleted) the other's images."""
    medium: str = "images"
    """Whose per-account state these keys hold: images keep the keys they always had; every other medium's
    start with ``<prefix>:<medium>:`` so that they cannot collide with an account named like a medium."""

    def for_source(self, source: str) -> Keys:
        return Keys(self.prefix, source, self.medium)

    def for_medium(self, medium: str) -> Keys:
        return Keys(self.prefix, self.source, medium)

    def _account(self, account: str) -> str:
        scope = "" if self.source == DEFAULT_SOURCE else f"src:{self.source}:"
        media = "" if self.medium == "images" else f"{self.medium}:"
        return f"{self.prefix}:{media}{scope}acct:{account}"

    def tracked(self, account: str) -> str:
        """Hash: image_id -> last status of each non-final image."""
        return f"{self._account(account)}:tracked"

    def known(self, account: str) -> str:
        """Sorted set: image_id -> when it was last seen, for recently seen images no longer tracked."""
        return f"{self._account(account)}:known"

    def checked(self, account: str) -> str:
        """Sorted set: tracked image_id -> when it was last looked up one by one (round robin)."""
        return f"{self._account(account)}:checked"

    def meta(self, account: str) -> str:
        """Hash: baselined_at, last_poll_at, last_error, cursors (where the next poll resumes)."""
        return f"{self._account(account)}:meta"

    def accounts(self) -> str:
        """Sorted set: account -> last poll time, for ``notifier status``."""
        scope = "" if self.source == DEFAULT_SOURCE else f"src:{self.source}:"
        return f"{self.prefix}:{scope}accounts"

    def bucket(self, sink: str) -> str:
        """Hash: a sink's token bucket (tokens, stamp)."""
        return f"{self.prefix}:sink:{sink}:bucket"

    def blocked(self, sink: str) -> str:
        """String: until when a sink asked everyone to wait (429)."""
        return f"{self.prefix}:sink:{sink}:blocked"

    def circuit(self, sink: str) -> str:
        """String with a TTL: a sink found dead, left alone until it expires."""
        return f"{self.prefix}:sink:{sink}:circuit"

    def lease(self, sink: str) -> str:
        """String with a TTL: the one delivery job working on a sink ("token:started_at")."""
        return f"{self.prefix}:sink:{sink}:lease"

    def outbox(self, sink: str) -> str:
        """Stream: a sink's events not yet handed to the delivery policy, in the order they happened."""
        return f"{self.prefix}:sink:{sink}:outbox"

    def dispatcher(self, sink: str) -> str:
        """String with a TTL: the one dispatcher draining a sink's outbox ("token:started_at:pid:host")."""
        return f"{self.prefix}:sink:{sink}:dispatcher"

    def hold(self, sink: str, item: str) -> str:
        """String with a TTL: the event of an item (image, video) being delivered to a sink; later events
        of that item wait in the outbox until it is delivered or has failed for good."""
        return f"{self.prefix}:sink:{sink}:hold:{item}"

    def waiting(self, sink: str) -> str:
        """Set: items with events in a sink's outbox waiting behind a hold."""
        return f"{self.prefix}:sink:{sink}:waiting"

    def wake(self, sink: str) -> str:
        """Counter: bumped when a hold with waiting events ends, so the dispatcher reads the outbox again."""
        return f"{self.prefix}:sink:{sink}:wake"

    def gone(self, sink: str) -> str:
        """String with a TTL: why a sink is gone (404/410), so that it is logged once."""
        return f"{self.prefix}:sink:{sink}:gone"

    def thread(self, sink: str, item: str) -> str:
        """Hash with a TTL: an item's Slack thread on a bot sink (parent ts, the event it shows, replies sent)."""
        return f"{self.prefix}:sink:{sink}:thread:{item}"

    def thread_claim(self, sink: str, item: str) -> str:
        """String with a TTL: the one delivery posting the first message of an item's thread."""
        return f"{self.prefix}:sink:{sink}:thread-claim:{item}"

    def heartbeat(self, role: str) -> str:
        """String with a TTL: the last time a process of this role did its work."""
        return f"{self.prefix}:heartbeat:{role}"

    def pollers(self) -> str:
        """Sorted set: poller id -> when it last checked in (Redis' clock), to share the accounts out."""
        return f"{self.prefix}:pollers"

    def poll_lease(self, account: str) -> str:
        """String with a TTL: the one poller polling an account right now (its poller id)."""
        return f"{self.prefix}:acct:{account}:polling"

    # --- the attempt log (notifier/delivery/attempt_log.py); every key expires with the log's retention

    def logged_chunk(self, chunk_id: str) -> str:
        """String: the attempts one script call wrote, a line each: "event_id TAB record TAB document" (the
        record and the event's document with its payload, so it can be sent again, as JSON)."""
        return f"{self.prefix}:log:chunk:{chunk_id}"

    def logged_where(self, day: int) -> str:
        """Hash: event_id -> "chunk_id ..." of the chunks holding its attempts written on that UTC day (epoch
        day number)."""
        return f"{self.prefix}:log:where:{day}"

    def logged_events(self) -> str:
        """Sorted set: event_id -> when the event was detected, capped at the log's most events."""
        return f"{self.prefix}:log:events"

    def logged_items(self, day: int) -> str:
        """Hash: item id -> "event_id detected_at ..." of the events detected on that UTC day (epoch day
        number): the timeline of one image or video."""
        return f"{self.prefix}:log:items:{day}"

    def legacy_logged_event(self, event_id: str) -> str:
        """Hash (before 2026-12-01; read only, gone within the log's retention): ``doc``, ``outcome:<sink>``,
        ``attempt:<time>:<sink>``."""
        return f"{self.prefix}:log:event:{event_id}"

    def legacy_item_timeline(self, item_id: str) -> str:
        """Sorted set (before 2026-12-01; read only): event_id -> when detected, of one image or video."""
        return f"{self.prefix}:log:item:{item_id}"

    def sink_failed(self, sink: str) -> str:
        """Sorted set: event_id -> when its delivery to the sink failed for good (what `recover` resends)."""
        return f"{self.prefix}:log:sink:{sink}:failed"

    def sink_failures(self, sink: str) -> str:
        """Sorted set: failed attempts to the sink in the last hour ("event_id:time" -> time)."""
        return f"{self.prefix}:log:sink:{sink}:failures"

    def sink_health(self, sink: str) -> str:
        """Hash: last_success_at, last_failure_at, last_error of a sink."""
        return f"{self.prefix}:log:sink:{sink}:health"
