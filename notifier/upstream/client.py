"""Client of the useapi.net PixVerse API. Every failure leaves as an UpstreamError (raised from the cause).

Only what the notifier needs: list an account's images page by page, get one
image, list the configured accounts. Image objects are kept as received
(every field optional, unknown fields kept); only their shape is checked, and
their text is cleaned where it enters (:mod:`notifier.upstream.clean`: no lone
surrogates, no NaN). Each request is counted once, by how it ended, parsing
included.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from notifier.backoff import parse_retry_after
from notifier.bounds import UPSTREAM_BODY_MAX, read_capped
from notifier.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from notifier.ops.metrics import metrics
from notifier.upstream.clean import TooDeep, clean_text, loads_clean
from notifier.upstream.media import IMAGES, Medium

log = logging.getLogger(__name__)
T = TypeVar("T")

_SNIPPET = 200
_OUTCOMES: dict[type[UpstreamError], str] = {
    UpstreamAuthError: "unauthorized",
    UpstreamRejected: "rejected",
    UpstreamNotFound: "not_found",
    UpstreamUnavailable: "unavailable",
    UpstreamProtocolError: "bad_body",
}


@dataclass(frozen=True, slots=True)
class Page:
    images: list[dict[str, Any]]
    total: int | None
    skipped: int = 0
    """Items dropped for having no usable ``image_id`` (``video_id`` for videos)."""


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return clean_text(str(body["error"])[:_SNIPPET])
    text = response.text.strip()
    return text[:_SNIPPET] if text else response.reason_phrase or "no body"


def translate_status(response: httpx.Response, what: str, now: float) -> UpstreamError | None:
    """The typed error of a non-2xx answer (None for 2xx)."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    text = _error_text(response)
    message = f"{what}: upstream answered {code}: {text}"
    if code == 401:
        return UpstreamAuthError(f"{what}: upstream rejected the API token (401): {text}", status_code=code)
    if code == 404:
        return UpstreamNotFound(message, status_code=code, detail=text)
    if code in (408, 429) or (500 <= code < 600 and code != 596):
        retry_after = parse_retry_after(response.headers.get("retry-after"), now)
        return UpstreamUnavailable(message, status_code=code, retry_after_s=retry_after)
    return UpstreamRejected(message, status_code=code)


def decode_body(response: httpx.Response, what: str) -> Any:
    """The answer's JSON, cleaned (:func:`~notifier.upstream.clean.loads_clean`); else an UpstreamProtocolError."""
    try:
        return loads_clean(response.content)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, TooDeep
        reason = "is nested too deeply" if isinstance(exc, TooDeep) else "is not valid JSON"
        snippet = response.text[:80].replace("\n", " ")
        raise UpstreamProtocolError(
            f"{what}: body {reason} ({len(response.content)} bytes, starts {snippet!r})",
            status_code=response.status_code,
        ) from exc


def parse_page(body: Any, what: str, id_field: str = "image_id") -> Page:
    if not isinstance(body, dict):
        raise UpstreamProtocolError(f"{what}: expected a JSON object, got {type(body).__name__}")
    data = body.get("data")
    if not isinstance(data, list):
        got = "nothing" if data is None else type(data).__name__
        raise UpstreamProtocolError(f"{what}: expected 'data' to be a list, got {got}")
    images = []
    skipped = 0
    for item in data:
        if isinstance(item, dict) and isinstance(item.get(id_field), str) and item[id_field]:
            images.append(item)
        else:
            skipped += 1
    total = body.get("total")
    return Page(images=images, total=total if isinstance(total, int) and not isinstance(total, bool) else None,
                skipped=skipped)


def parse_image(body: Any, image_id: str, what: str, id_field: str = "image_id") -> dict[str, Any]:
    """The image object of ``GET /images/<id>``: an object, as received (``image_id`` added when missing)."""
    if not isinstance(body, dict):
        raise UpstreamProtocolError(f"{what}: expected a JSON object, got {type(body).__name__}")
    # Some answers wrap the object like the list does.
    if id_field not in body and isinstance(body.get("data"), dict):
        body = body["data"]
    image: dict[str, Any] = body if isinstance(body.get(id_field), str) else {**body, id_field: image_id}
    return image


def parse_accounts(body: Any) -> list[str]:
    """The account emails of ``GET /accounts``: the keys of an object that look like emails."""
    if not isinstance(body, dict):
        raise UpstreamProtocolError(f"list accounts: expected a JSON object keyed by email, got {type(body).__name__}")
    return sorted(key for key in body if isinstance(key, str) and "@" in key)


class UpstreamClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 16,
    ) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxy or .netrc from the environment (see notifier.delivery.egress)
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> UpstreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, endpoint: str, path: str, what: str, parse: Callable[[Any], T],
             params: dict[str, Any] | None = None) -> T:
        """GET, check the status, decode and ``parse`` the body, and count the request by its outcome.

        Every failure leaves as an UpstreamError (``raise ... from`` the original).
        """
        outcome = "error"
        try:
            try:
                response = self._get_capped(path, params, what)
            except httpx.TimeoutException as exc:
                raise UpstreamUnavailable(f"{what}: timed out ({type(exc).__name__})") from exc
            except httpx.DecodingError as exc:  # e.g. Content-Encoding: gzip on a body that is not gzip
                raise UpstreamProtocolError(f"{what}: body could not be decoded ({exc})") from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"{what}: could not reach the upstream ({type(exc).__name__})") from exc
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, UnicodeError) as exc:
                raise UpstreamError(f"{what}: the request failed ({type(exc).__name__})") from exc
            error = translate_status(response, what, time.time())
            if error is not None:
                raise error
            parsed = parse(decode_body(response, what))
            outcome = "ok"
            return parsed
        except UpstreamError as exc:
            outcome = _OUTCOMES.get(type(exc), "error")
            raise
        finally:
            metrics().upstream_requests.labels(endpoint, outcome).inc()

    def _get_capped(self, path: str, params: dict[str, Any] | None, what: str) -> httpx.Response:
        """GET, reading at most UPSTREAM_BODY_MAX bytes of the answer (decoded): a bigger one is an error."""
        with self._client.stream("GET", path, params=params) as streamed:
            body, more = read_capped(streamed.iter_bytes(), UPSTREAM_BODY_MAX)
        if more:
            raise UpstreamProtocolError(f"{what}: the answer is larger than {UPSTREAM_BODY_MAX >> 20} MiB",
                                        status_code=streamed.status_code)
        headers = [(k, v) for k, v in streamed.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(streamed.status_code, headers=headers, content=body, request=streamed.request)

    def list_images(self, email: str | None, *, limit: int, offset: int, medium: Medium = IMAGES) -> Page:
        """One page of the account's images (or videos, with ``medium``)."""
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if email:
            params["email"] = email
        what = clean_text(f"list {medium.name} of {email or 'the default account'} at offset {offset}")
        return self._get(medium.name, medium.list_path, what,
                         lambda body: parse_page(body, what, medium.id_field), params)

    def get_image(self, image_id: str, medium: Medium = IMAGES) -> dict[str, Any]:
        """One image (or video, with ``medium``); a video still processing answers 404 too."""
        what = clean_text(f"get {medium.noun} {image_id}")
        try:
            path = f"{medium.name}/{quote(image_id, safe='')}"
        except UnicodeEncodeError as exc:  # a lone surrogate: no URL can name it, so no request is made
            raise UpstreamRejected(f"{what}: the {medium.noun} id is not valid text") from exc
        return self._get(medium.item_endpoint, path, what,
                         lambda body: parse_image(body, image_id, what, medium.id_field))

    def list_accounts(self) -> list[str] | None:
        """Configured account emails; None when the upstream has no account list (404)."""
        try:
            return self._get("accounts", "accounts", "list accounts", parse_accounts)
        except UpstreamNotFound:
            return None

