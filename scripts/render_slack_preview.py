"""Render the Slack messages notifier sends as a picture: docs/slack-preview.png.

An HTML mock of Block Kit (header, plain and mrkdwn sections, fields, image,
buttons, context) filled with the real messages from ``notifier.delivery.sinks.slack``,
screenshotted by headless Chromium. Run: ``.venv/bin/python scripts/render_slack_preview.py``.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from notifier.delivery.sinks import slack  # noqa: E402
from notifier.sandbox.testsink import sample_event  # noqa: E402

CSS = """
body { font-family: Lato, 'Helvetica Neue', Arial, sans-serif; background: #fff; margin: 0; padding: 16px;
       width: 760px; color: #1d1c1d; font-size: 15px; }
.msg { display: flex; gap: 10px; padding: 10px 8px; border-bottom: 1px solid #eee; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 900;
          display: flex; align-items: center; justify-content: center; flex: none; }
.name { font-weight: 900; }
.app { background: #e8e8e8; color: #616061; font-size: 10px; padding: 1px 3px; border-radius: 2px;
       margin-left: 4px; font-weight: 700; }
.time { color: #616061; font-size: 12px; margin-left: 6px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 4px 0; white-space: pre-wrap; line-height: 1.45; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px; margin: 8px 0; white-space: pre-wrap; }
.image img { max-width: 360px; border-radius: 6px; }
.button { display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 4px 12px; font-weight: 700;
          font-size: 13px; margin: 6px 0; }
.context { color: #616061; font-size: 12px; margin-top: 6px; }
"""


def mrkdwn(text: str) -> str:
    # Slack's own escapes (&amp; &lt; &gt;) are already HTML: keep them, then render *bold* and :emoji:.
    text = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", text)
    return text.replace(":warning:", "⚠️").replace(":x:", "❌")


def render_block(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "header":
        return f'<div class="header">{html.escape(block["text"]["text"])}</div>'
    if kind == "section":
        parts = []
        if "text" in block:
            text = block["text"]
            body = mrkdwn(text["text"]) if text["type"] == "mrkdwn" else html.escape(text["text"])
            parts.append(f'<div class="section">{body}</div>')
        if "fields" in block:
            cells = "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        return "".join(parts)
    if kind == "image":
        return f'<div class="image"><img alt="{html.escape(block["alt_text"])}" src="{block["image_url"]}"></div>'
    if kind == "actions":
        return "".join(f'<span class="button">{html.escape(e["text"]["text"])}</span>' for e in block["elements"])
    if kind == "context":
        return "".join(f'<div class="context">{mrkdwn(e["text"])}</div>' for e in block["elements"])
    raise ValueError(f"no rendering for Slack block type {kind!r}")


def render_page(messages: list[dict[str, Any]]) -> str:
    rows = []
    for message in messages:
        blocks = "".join(render_block(block) for block in message["blocks"])
        rows.append(
            '<div class="msg"><div class="avatar">P</div><div><span class="name">PixVerse notifier</span>'
            f'<span class="app">APP</span><span class="time">12:35 PM</span>{blocks}</div></div>'
        )
    return f"<!doctype html><meta charset=utf-8><style>{CSS}</style>{''.join(rows)}"


def sample_messages() -> list[dict[str, Any]]:
    completed = sample_event(1_773_059_698)
    messages = [slack.build_message(completed)]
    for code, name in ((7, "MODERATED"), (8, "FAILED")):
        image = {**completed.data["image"], "image_status": code, "image_status_name": name,
                 "image_status_final": True, "image_url": None,
                 "prompt": "A portrait in the style of a famous painter (notifier test message)"}
        event = type(completed)(id="evt_x", type=f"image.{name.lower()}", timestamp=completed.timestamp,
                                data={**completed.data, "status": name, "image": image, "image_url": None})
        messages.append(slack.build_message(event))
    return messages


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    out = ROOT / "docs" / "slack-preview.png"
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "preview.html"
        page.write_text(render_page(sample_messages()))
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--disable-background-networking", "--disable-component-update", "--no-first-run",
             f"--user-data-dir={tmp}/profile", f"--screenshot={out}", "--window-size=800,680",
             page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
