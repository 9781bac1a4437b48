"""Hypothesis strategies shared by the property tests (fuzzers): hostile text, JSON values, images.

Runs are bounded by the profile in tests/conftest.py; ``HYPOTHESIS_PROFILE=long`` runs them longer.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Every code point: lone surrogates (half an emoji), control characters, NUL, astral emoji.
any_text = st.text(st.characters(codec=None, categories=None), max_size=40)
# Now and then far past every chat limit (repeating keeps generation cheap).
huge_text = st.builds(lambda text, times: (text or "x") * times, any_text, st.integers(100, 5_000))
texts = any_text | huge_text | st.sampled_from(["", " ", "\ud83d", "\udcff", "<!channel> @everyone", "\x00\x1b[2J"])

scalars = st.none() | st.booleans() | st.integers() | st.floats() | texts
json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)

IMAGE_FIELDS = (
    "image_id", "image_status", "image_status_name", "model", "prompt", "quality", "aspect_ratio",
    "output_width", "output_height", "seed", "image_url", "created_at", "queue_data", "error",
)


@st.composite
def images(draw: st.DrawFn) -> dict[str, Any]:
    """An image object as an upstream might send it: any field missing, of any type, or extra."""
    base: dict[str, Any] = {
        "image_id": "user:1-pixverse:a@x.com-image:1",
        "image_status": 1,
        "model": "qwen-image",
        "prompt": "a lighthouse",
        "image_url": "https://media.pixverse.ai/image/1.png",
    }
    for field in draw(st.lists(st.sampled_from(IMAGE_FIELDS), unique=True, max_size=len(IMAGE_FIELDS))):
        if draw(st.booleans()):
            base[field] = draw(json_values)
        else:
            base.pop(field, None)
    base.update(draw(st.dictionaries(any_text, json_values, max_size=3)))
    return base
