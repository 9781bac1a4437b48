"""Client of the useapi.net PixVerse API. Every failure leaves as an UpstreamError subclass.

Only what the notifier needs: list an account's images page by page, get one
image, list the configured accounts. Image objects are kept as received
(every field optional, unknown fields kept); only their shape is checked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from notifier.backoff import parse_retry_after
from notifier.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from notifier.ops.metrics import metrics

log = logging.getLogger(__name__)

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
    """Items dropped for having no usable ``image_id``."""


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])[:_SNIPPET]
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


def _body(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = response.text[:80].replace("\n", " ")
        raise UpstreamProtocolError(
            f"{what}: body is not valid JSON ({len(response.content)} bytes, starts {snippet!r})",
            status_code=response.status_code,
        ) from exc


def parse_page(body: Any, what: str) -> Page:
    if not isinstance(body, dict):
        raise UpstreamProtocolError(f"{what}: expected a JSON object, got {type(body).__name__}")
    data = body.get("data")
    if not isinstance(data, list):
        got = "nothing" if data is None else type(data).__name__
        raise UpstreamProtocolError(f"{what}: expected 'data' to be a list, got {got}")
    images = []
    skipped = 0
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("image_id"), str) and item["image_id"]:
            images.append(item)
        else:
            skipped += 1
    total = body.get("total")
    return Page(images=images, total=total if isinstance(total, int) and not isinstance(total, bool) else None,
                skipped=skipped)


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
            transport=transport,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> UpstreamClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, endpoint: str, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        outcome = "ok"
        try:
            try:
                response = self._client.get(path, params=params)
            except httpx.TimeoutException as exc:
                raise UpstreamUnavailable(f"{what}: timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise UpstreamUnavailable(f"{what}: could not reach the upstream ({type(exc).__name__})") from exc
            error = translate_status(response, what, time.time())
            if error is not None:
                raise error
            return _body(response, what)
        except UpstreamError as exc:
            outcome = _OUTCOMES.get(type(exc), "error")
            raise
        finally:
            metrics().upstream_requests.labels(endpoint, outcome).inc()

    def list_images(self, email: str | None, *, limit: int, offset: int) -> Page:
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if email:
            params["email"] = email
        what = f"list images of {email or 'the default account'} at offset {offset}"
        return parse_page(self._get("images", "images/", what, params), what)

    def get_image(self, image_id: str) -> dict[str, Any]:
        what = f"get image {image_id}"
        body = self._get("image", f"images/{quote(image_id, safe='')}", what)
        if not isinstance(body, dict):
            raise UpstreamProtocolError(f"{what}: expected a JSON object, got {type(body).__name__}")
        # Some answers wrap the object like the list does.
        if "image_id" not in body and isinstance(body.get("data"), dict):
            body = body["data"]
        image: dict[str, Any] = body if isinstance(body.get("image_id"), str) else {**body, "image_id": image_id}
        return image

    def list_accounts(self) -> list[str] | None:
        """Configured account emails; None when the upstream has no account list (404)."""
        what = "list accounts"
        try:
            body = self._get("accounts", "accounts", what)
        except UpstreamNotFound:
            return None
        if not isinstance(body, dict):
            raise UpstreamProtocolError(f"{what}: expected a JSON object keyed by email, got {type(body).__name__}")
        return sorted(key for key in body if isinstance(key, str) and "@" in key)

