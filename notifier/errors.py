"""The one exception tree: everything the service raises on purpose is a NotifierError.

Messages never carry secrets (token, webhook secrets, sink URLs): they name
the setting, the account or the sink instead.
"""

from __future__ import annotations


class NotifierError(Exception):
    """Base of every error notifier raises on purpose."""


class ConfigError(NotifierError):
    """A setting is missing or invalid; the message names the setting."""


class UpstreamError(NotifierError):
    """The upstream API answered with an error or could not be reached.

    ``retryable`` says whether the same request may succeed later without a
    change on the user's side; ``retry_after_s`` is the upstream's own hint.
    """

    retryable: bool = False

    def __init__(self, message: str, *, status_code: int | None = None, retry_after_s: float | None = None,
                 detail: str = ""):
        super().__init__(message)
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.detail = detail
        """The upstream's own error text, when it gave one."""


class UpstreamAuthError(UpstreamError):
    """401: the token is wrong, revoked or missing. Polling pauses; retrying fast would not help."""


class UpstreamRejected(UpstreamError):
    """400/402/412/596 and other client errors: the upstream's text says why."""


class UpstreamNotFound(UpstreamError):
    """404: no such image (deleted) or no account configured."""


class UpstreamUnavailable(UpstreamError):
    """429, 5xx, timeouts and connection errors: worth retrying after a back-off."""

    retryable = True


class UpstreamProtocolError(UpstreamError):
    """The upstream answered 2xx with a body that is not what its documentation promises."""

    retryable = True


class DeliveryError(NotifierError):
    """A sink did not accept an event.

    ``retryable`` is False for permanent refusals (most 4xx): retrying them
    would only repeat the refusal.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        response_text: str = "",
        answered_at: float | None = None,
        max_attempts: int | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.max_attempts = max_attempts
        """Fewer tries than ``NOTIFIER_DELIVERY_MAX_ATTEMPTS`` for this kind of failure (an Apprise failure,
        which cannot tell a refusal from an outage); None: the setting."""
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.response_text = response_text
        """The start of the destination's answer, for sinks that read error codes in it."""
        self.answered_at = answered_at
        """When the answer came (epoch seconds): what ``retry_after_s`` counts from."""
