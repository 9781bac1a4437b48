"""Bounds on what comes from outside: upstream pages, sink answers, the image every job copies."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from notifier.bounds import CUT, MAX_IMAGE_BYTES, MAX_STRING, SINK_ANSWER_MAX, UPSTREAM_BODY_MAX, bound_image
from notifier.delivery import egress_hooks
from notifier.delivery.egress import EgressPolicy
from notifier.delivery.sinks import webhook
from notifier.delivery.sinks.bulk import send_all
from notifier.errors import DeliveryError, UpstreamProtocolError
from notifier.runtime.sink_config import WebhookConfig
from notifier.state.events import build_event
from notifier.upstream.client import UpstreamClient
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET


def endless(chunk: bytes, counter: list[int]) -> Iterator[bytes]:
    while True:
        counter[0] += len(chunk)
        yield chunk


def test_an_upstream_page_is_read_up_to_16_mib_then_refused() -> None:
    sent = [0]
    body = b'{"data": [' + b" " * (1 << 20)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=endless(body, sent)))
    with UpstreamClient("https://up.example/v2", "tok", timeout_s=5, transport=transport) as client, \
            pytest.raises(UpstreamProtocolError, match="larger than 16 MiB"):
        client.list_images("a@x.com", limit=1, offset=0)
    assert UPSTREAM_BODY_MAX <= sent[0] <= UPSTREAM_BODY_MAX + 2 * len(body)  # it stopped reading


def test_a_compressed_upstream_page_is_capped_after_decompression() -> None:
    import gzip

    bomb = gzip.compress(b" " * (40 << 20))  # 40 MiB of spaces in about 40 KiB
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=bomb,
                                                                   headers={"content-encoding": "gzip"}))
    with UpstreamClient("https://up.example/v2", "tok", timeout_s=5, transport=transport) as client, \
            pytest.raises(UpstreamProtocolError, match="larger than 16 MiB"):
        client.list_images("a@x.com", limit=1, offset=0)


def test_a_normal_upstream_page_still_reads_whole() -> None:
    page = {"data": [{"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1}], "total": 1}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=page, headers={"retry-after": "3"}))
    with UpstreamClient("https://up.example/v2", "tok", timeout_s=5, transport=transport) as client:
        assert client.list_images("a@x.com", limit=1, offset=0).images == page["data"]


class EndlessAnswer:
    """A loopback server that answers 400 and then streams an endless chunked body."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sent = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        chunk = b"x" * 65536
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                conn.sendall(framed)
                self.sent += len(chunk)
        except OSError:
            conn.close()


@pytest.fixture
def endless_answer() -> Iterator[EndlessAnswer]:
    server = EndlessAnswer()
    yield server
    server.sock.close()


def request(url: str) -> Any:
    image = {"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1}
    event = build_event(image=image, account="a@x.com", status=resolve(image), previous=None, now=time.time())
    return webhook.build_request(event, WebhookConfig(url=url, secret=SECRET, name="hook"), time.time())


def httpx_send(url: str) -> Any:
    with egress_hooks.client(EgressPolicy.build()) as client:
        try:
            return webhook.send(client, request(url), 5)
        except DeliveryError as error:
            return error


def aiohttp_send(url: str) -> Any:
    return send_all([request(url)], 5, 2, policy=EgressPolicy.build())[0]


@pytest.mark.parametrize("send", [httpx_send, aiohttp_send], ids=["httpx", "aiohttp"])
def test_a_sink_answer_is_read_up_to_64_kib(send: Callable[[str], Any], endless_answer: EndlessAnswer) -> None:
    started = time.monotonic()
    outcome = send(endless_answer.url)
    assert time.monotonic() - started < 4  # not read to its (missing) end, not timed out
    assert isinstance(outcome, DeliveryError) and outcome.status_code == 400 and not outcome.retryable
    assert outcome.response_text == "x" * 300
    assert SINK_ANSWER_MAX <= 64 * 1024


def test_small_images_are_unchanged() -> None:
    image = {"image_id": "i", "image_status": 1, "prompt": "p" * MAX_STRING, "nested": {"a": [1, 2, {"b": None}]}}
    assert bound_image(image) == image


def test_long_fields_are_cut_and_the_whole_stays_small() -> None:
    image = {"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1, "model": "qwen-image",
             "image_url": "https://media.example/1.png", "prompt": "p" * 1_000_000,
             "tags": list(range(10_000)), "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}},
             **{f"extra{n}": "e" * 4000 for n in range(200)}}
    bounded = bound_image(image)
    size = len(json.dumps(bounded, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= MAX_IMAGE_BYTES
    for key in ("image_id", "image_status", "model", "image_url"):
        assert bounded[key] == image[key]
    assert bounded["prompt"] in (CUT, "p" * (MAX_STRING - len(CUT)) + CUT)
    event = build_event(image=image, account="a@x.com", status=resolve(image), previous=None, now=0)
    assert len(json.dumps(event.payload()).encode()) < MAX_IMAGE_BYTES + 2048
    assert event.data["image_url"] == image["image_url"]
