"""The simulator behaves like the documented upstream, over real HTTP."""

from urllib.parse import quote

import httpx
import pytest

from tests.conftest import TOKEN

pytestmark = pytest.mark.integration


@pytest.fixture
def sim(simulator):
    return simulator()


def get(sim, path: str, token: str = TOKEN, **params: object) -> httpx.Response:
    return httpx.get(sim.url + path, params=params, headers={"Authorization": f"Bearer {token}"})


def test_auth_accounts_and_email_rule(sim) -> None:
    assert get(sim, "/images/", token="wrong").status_code == 401
    assert get(sim, "/accounts").json() == {"error": "Configuration not found", "code": 404}
    sim.state.add_account("a@x.com")
    assert get(sim, "/images/").status_code == 200  # one account: email optional
    sim.state.add_account("b@x.com")
    missing = get(sim, "/images/")
    assert missing.status_code == 400 and "email is required" in missing.json()["error"]
    assert set(get(sim, "/accounts").json()) == {"a@x.com", "b@x.com"}


def test_pages_newest_first_with_next_offset(sim) -> None:
    ids = [sim.state.add_image("a@x.com", 1) for _ in range(12)]
    body = get(sim, "/images/", email="a@x.com", limit=5, offset=10).json()
    assert [i["image_id"] for i in body["data"]] == [ids[1], ids[0]]
    assert (body["next_offset"], body["total"]) == (15, 12)
    assert get(sim, "/images/", email="a@x.com", limit=101).status_code == 400


def test_status_moves_over_time_and_deleted_images_404(sim) -> None:
    image = sim.state.add_image("a@x.com", 5, steps=[(-1, 9)])
    got = get(sim, "/images/" + quote(image, safe="")).json()
    assert (got["image_status"], got["image_status_name"], got["image_status_final"]) == (9, "GENERATING", False)
    sim.state.delete(image)
    assert get(sim, "/images/" + quote(image, safe="")).status_code == 404


def test_injected_faults(sim) -> None:
    sim.state.add_account("a@x.com")
    sim.state.inject(429, {"error": "busy"}, headers={"Retry-After": "9"}, times=2)
    first, second, third = (get(sim, "/images/") for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["retry-after"] == "9"
    sim.state.inject(200, b"{garbage")
    assert get(sim, "/images/").content == b"{garbage"


def test_videos_answer_404_while_processing_and_once_deleted_alike() -> None:
    from notifier.sandbox.sim_state import SimState

    clock = [1000.0]
    state = SimState("tok", clock=lambda: clock[0])
    state.add_account("a@x.com")
    video = state.add_video("a@x.com", 5, steps=[(2.0, 10), (5.0, 1)])
    state.add_image("a@x.com", 1)
    auth = "Bearer tok"
    code, body = state.handle("/v2/pixverse/videos/", {"email": ["a@x.com"]}, auth)
    assert code == 200 and [v["video_id"] for v in body["data"]] == [video] and body["total"] == 1
    # The upstream's page marks QUEUED final; the simulator says so too.
    assert body["data"][0]["video_status_name"] == "QUEUED" and body["data"][0]["video_status_final"] is True
    assert state.handle(f"/v2/pixverse/videos/{video}", {}, auth)[0] == 404
    clock[0] += 5.5
    code, body = state.handle(f"/v2/pixverse/videos/{video}", {}, auth)
    assert code == 200 and body["video_status"] == 1 and body["url"].endswith(".mp4") and body["first_frame"]
    state.delete(video)
    assert state.handle(f"/v2/pixverse/videos/{video}", {}, auth) == (404, {"error": "Not found", "code": 404})
    assert state.count("videos", "a@x.com") == 1 and state.count("video") == 3
