"""The console in headless Chromium (Debian's ``chromium``, driven by Playwright): it loads, filters, opens an
event, replays a failed delivery, and the new attempt appears. Saves ``docs/console.png``.

Without Chromium the test is skipped, saying how to get it; CI sets NOTIFIER_TEST_REQUIRE_BROWSER=1, under
which a missing browser fails the test instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from notifier.delivery.context import install
from notifier.ops.api_server import ApiServer
from notifier.runtime.settings import Settings
from tests.conftest import ROOT, SECRET
from tests.support.receiver import Receiver
from tests.support.world import World, make_event, world_settings

pytestmark = pytest.mark.integration
# Read at import: the suite's autouse fixture clears NOTIFIER_* variables before each test.
REQUIRED = os.environ.get("NOTIFIER_TEST_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "docs" / "console.png"
"""Rewritten only with SAVE_CONSOLE_SCREENSHOT=1 (the README shows it); otherwise the shot goes to a temp dir."""
SAVE = os.environ.get("SAVE_CONSOLE_SCREENSHOT") == "1"


def _browser_or_skip() -> None:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package is not installed (pip install -e '.[test]')")
    if missing:
        if REQUIRED:
            pytest.fail("NOTIFIER_TEST_REQUIRE_BROWSER=1 but " + "; ".join(missing))
        pytest.skip("browser test skipped: " + "; ".join(missing))


@pytest.fixture
def served(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver], redis_url: str,
           real_redis: redis.Redis) -> Iterator[tuple[World, str]]:
    _browser_or_skip()
    rec = receiver(SECRET)
    world = World(world_settings(make_settings, rec, redis_url, delivery_batch_size=1), real_redis, rec)
    server = ApiServer(world.settings, real_redis, host="127.0.0.1", port=0).start()
    yield world, server.url
    server.stop()
    install(None)


def test_the_console_filters_opens_an_event_and_replays_a_failed_delivery(served: tuple[World, str],
                                                                         tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    world, url = served
    broken = make_event(now=time.time() - 5, account="artist2@example.com", prompt="<img src=x onerror=alert(1)>")
    # Its first try to "hook" is refused for good; everything else is accepted.
    world.receiver.script = lambda webhook_id, before: \
        (400, {}, 0.0) if webhook_id == broken.id and before == 0 else (200, {}, 0.0)
    world.enqueue([make_event(now=time.time() - 10) for _ in range(3)] + [broken])
    world.work()
    with tempfile.TemporaryDirectory(prefix="console-chromium-") as profile, sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=ARGS,
                                                        headless=True, viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
            page.goto(url)
            rows = page.locator("#events tbody tr.event")
            expect(rows).to_have_count(4)
            expect(page.locator("#sinks tbody tr.sink")).to_have_count(2)
            expect(page.locator("#sinks")).not_to_contain_text("sup3r-s3cret-query")

            page.select_option("#filters select[name=outcome]", "failed")
            expect(rows).to_have_count(1)
            rows.first.locator("td").first.click()  # the row, not its item link (that opens the timeline)
            expect(page.locator("#detail-id")).to_have_text(broken.id)
            attempts = page.locator("#attempts tbody tr.attempt")
            expect(attempts.filter(has_text="hook").filter(has_text="failed")).to_have_count(1)
            expect(page.locator("#payload")).to_contain_text("onerror=alert(1)")  # shown as text, not run

            page.click("#detail-replay button[data-sink=hook]")
            expect(page.locator("#status")).to_contain_text("replay to hook queued")
            assert dialogs == [f"Send event {broken.id} to hook again?"]
            world.work()  # the delivery worker's loop, on the job the page enqueued
            expect(attempts.filter(has_text="delivered").filter(has_text="hook")).to_have_count(1, timeout=10_000)
            expect(rows).to_have_count(0)  # live: the failed filter no longer matches it
            page.select_option("#filters select[name=outcome]", "")
            expect(rows).to_have_count(4)
            shot = SCREENSHOT if SAVE else tmp_path / "console.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
