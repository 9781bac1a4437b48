"""clean_text / clean_json: what enters from the upstream is valid Unicode and finite, and otherwise unchanged."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from notifier.upstream.clean import MAX_DEPTH, REPLACEMENT, TooDeep, clean_json, clean_text, loads_clean

# Text with every kind of code point, lone surrogates included.
any_text = st.text(st.characters(codec=None, categories=None))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(any_text, inner, max_size=5),
    max_leaves=30,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("cat \ud83d", f"cat {REPLACEMENT}"),  # half an emoji
        ("\ude00 then \ud83d", f"{REPLACEMENT} then {REPLACEMENT}"),
        ("\ud83d\ude00", "😀"),  # a pair left as two code points is the character it encodes
        ("\udcff", REPLACEMENT),  # a byte Python's surrogateescape kept
        ("plain, 漢字, 🎨, \x00\x1b", "plain, 漢字, 🎨, \x00\x1b"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_valid_text_is_returned_as_it_is() -> None:
    text = "x" * 10_000
    assert clean_text(text) is text


def test_json_from_a_cut_emoji_is_cleaned_everywhere() -> None:
    raw = json.loads('{"p\\ud83d": ["\\ud83d", {"n": NaN, "i": -Infinity, "ok": 1.5}], "k": true}')
    assert clean_json(raw) == {f"p{REPLACEMENT}": [REPLACEMENT, {"n": None, "i": None, "ok": 1.5}], "k": True}


def test_too_deep_is_refused() -> None:
    deep: Any = []
    for _ in range(MAX_DEPTH - 1):
        deep = [deep]
    assert clean_json(deep) == deep  # MAX_DEPTH lists in all
    with pytest.raises(TooDeep, match="deeper than"):
        clean_json([deep])
    assert isinstance(TooDeep(), ValueError)


@given(any_text)
def test_fuzz_clean_text_is_valid_utf8_idempotent_and_keeps_valid_text(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")
    assert clean_text(cleaned) == cleaned
    assert len(cleaned) <= len(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert REPLACEMENT in cleaned or cleaned != text
    else:
        assert cleaned == text


@given(json_values)
def test_fuzz_clean_json_is_strict_json(value: Any) -> None:
    cleaned = clean_json(value)
    body = json.dumps(cleaned, ensure_ascii=False, allow_nan=False).encode("utf-8")
    assert clean_json(json.loads(body)) == cleaned


@given(st.floats())
def test_fuzz_numbers_stay_unless_not_finite(number: float) -> None:
    assert clean_json(number) == (number if math.isfinite(number) else None)


def json_bytes() -> st.SearchStrategy[bytes]:
    encoded = st.tuples(json_values, st.booleans()).map(
        lambda v: json.dumps(v[0], ensure_ascii=v[1]).encode("utf-8", "surrogatepass"))
    deep = st.tuples(st.integers(1, 300), st.sampled_from([b"[", b'{"a":'])).map(
        lambda d: d[1] * d[0] + b"1" + (b"]" if d[1] == b"[" else b"}") * d[0])
    numbers = st.sampled_from([b"1e999", b"-1e400", b"9" * 400 + b".5", b"1e-999", b"[NaN, Infinity, -Infinity]"])
    return encoded | deep | numbers | encoded.map(
        lambda raw: raw.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass"))


@given(json_bytes())
def test_fuzz_loads_clean_is_clean_json_of_loads(raw: bytes) -> None:
    # The fast path (no walk when the bytes need none) gives what the full walk gives.
    try:
        expected = clean_json(json.loads(raw))
    except (TooDeep, RecursionError):
        with pytest.raises(TooDeep):
            loads_clean(raw)
        return
    assert loads_clean(raw) == expected


def test_loads_clean_walks_only_when_needed() -> None:
    plain = json.dumps({"data": [{"image_id": str(n), "prompt": "漢字 🎨"} for n in range(50)]}).encode()
    assert loads_clean(plain) == json.loads(plain)
    assert loads_clean(b'["\\ud83d", 1e999, NaN]') == [REPLACEMENT, None, None]
    assert loads_clean(b'["\xed\xa0\xbd"]') == [REPLACEMENT]  # the same surrogate, its bytes raw
    wide = [[{"a": [1]}]] * 500  # many brackets, shallow
    assert loads_clean(json.dumps(wide).encode()) == wide
    with pytest.raises(TooDeep):
        loads_clean(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(TooDeep):
        loads_clean(b"[" * 100_000)
