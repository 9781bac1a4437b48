"""Property tests (fuzzing) of the upstream client: any answer is parsed or a clear UpstreamError, never another
exception, and what is parsed is clean (valid UTF-8, strict JSON). Issue #10, "What must hold"."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from notifier.errors import UpstreamError
from notifier.upstream.client import Page, UpstreamClient, parse_accounts, parse_image, parse_page
from tests.support.strategies import any_text, images, json_values


def assert_clean(value: Any) -> None:
    """Strict JSON that encodes to UTF-8: what Redis, the signature and every sink need."""
    json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")


pages = st.fixed_dictionaries(
    {"data": st.lists(images() | json_values, max_size=5)},
    optional={"total": json_values, "next_offset": json_values},
)
bodies = json_values | pages | st.lists(images(), max_size=3).map(lambda imgs: {"data": imgs})


@given(bodies)
def test_fuzz_parse_page(body: Any) -> None:
    try:
        page = parse_page(body, "list images")
    except UpstreamError:
        return
    assert isinstance(page, Page)
    assert all(isinstance(img, dict) and isinstance(img["image_id"], str) and img["image_id"] for img in page.images)
    assert len(page.images) + page.skipped == len(body["data"])
    assert page.total is None or (isinstance(page.total, int) and not isinstance(page.total, bool))


@given(bodies | images(), any_text.filter(bool))
def test_fuzz_parse_image(body: Any, image_id: str) -> None:
    try:
        image = parse_image(body, image_id, "get image")
    except UpstreamError:
        return
    assert isinstance(image, dict) and isinstance(image["image_id"], str)


@given(json_values | st.dictionaries(any_text, json_values))
def test_fuzz_parse_accounts(body: Any) -> None:
    try:
        accounts = parse_accounts(body)
    except UpstreamError:
        return
    assert all(isinstance(a, str) and "@" in a for a in accounts)


def encodings(body: bytes) -> st.SearchStrategy[tuple[bytes, dict[str, str]]]:
    return st.sampled_from([
        (body, {}),
        (body, {"content-type": "application/json; charset=latin-1"}),
        (gzip.compress(body), {"content-encoding": "gzip"}),
        (body, {"content-encoding": "gzip"}),  # says gzip, is not
        (body[: len(body) // 2], {}),  # cut short
    ])


answers = st.one_of(
    # JSON, escaped (lone surrogates arrive as "\ud83d" escapes) or raw, NaN included.
    st.tuples(bodies, st.booleans()).map(lambda b: json.dumps(b[0], ensure_ascii=b[1]).encode("utf-8",
                                                                                               "surrogatepass")),
    st.binary(max_size=200),
    st.integers(1, 100_000).map(lambda depth: b"[" * depth + b"]" * (depth % 3)),
).flatmap(encodings)


@given(answers, st.sampled_from([200, 200, 200, 204, 400, 401, 404, 429, 500, 596]),
       st.sampled_from(["images", "image", "accounts"]))
def test_fuzz_client_answers(answer: tuple[bytes, dict[str, str]], status: int, endpoint: str) -> None:
    content, headers = answer
    transport = httpx.MockTransport(lambda request: httpx.Response(status, content=content, headers=headers))
    with UpstreamClient("https://api.example/v2/pixverse", "user:1-tok", timeout_s=1, transport=transport) as client:
        try:
            if endpoint == "images":
                result: Any = client.list_images("a@x.com", limit=10, offset=0)
                assert_clean(result.images)
            elif endpoint == "image":
                result = client.get_image("user:1-pixverse:a@x.com-image:1")
                assert_clean(result)
            else:
                assert_clean(client.list_accounts())
        except UpstreamError as exc:
            str(exc).encode("utf-8")  # logged, and written to Redis as the account's last error
            assert "user:1-tok" not in str(exc)
