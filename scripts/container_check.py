"""Run the built image against a Redis, a simulated upstream and a receiver on the host.

Used by ``scripts/container-check``: one event must reach the receiver signed, and the image's own
HEALTHCHECK must report healthy. Prints what it measured.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notifier.runtime.embedded_redis import find_redis_server
from notifier.runtime.sink_config import new_secret
from notifier.sandbox.receiver import Received, WebhookReceiver
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator
from tests.support.redis_server import free_port

PODMAN = ["podman", "run", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--ulimit", "nofile=20000:20000",
          "--ulimit", "nproc=4096:4096", "--network", "host", "--health-interval", "disable"]
TOKEN = "user:1-container-check"  # noqa: S105 - the simulator's token
API_TOKEN = "container-check-api-token"  # noqa: S105 - a throwaway read token for this check


def wait(predicate: object, timeout_s: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"container-check: FAILED: timed out waiting for {what}")
        time.sleep(0.1)


def check_console(api_port: int, event_id: str) -> None:
    """The image serves the console's files (package data) and the API lists the event just delivered."""
    base = f"http://127.0.0.1:{api_port}"
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    def logged() -> bool:
        try:
            answer = httpx.get(f"{base}/api/events", params={"id": event_id}, headers=auth, timeout=5)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200 and bool(answer.json()["events"])

    wait(logged, 30, "the delivered event in the API's attempt log")
    for path, needle in (("/", "notifier console"), ("/console/console.js", "refreshEvents")):
        answer = httpx.get(base + path, timeout=5)
        if answer.status_code != 200 or needle not in answer.text:
            raise SystemExit(f"container-check: FAILED: {path} answered {answer.status_code} without the console")
    print("container-check: console served, the delivered event listed by the API")


def main(image: str) -> int:
    binary = find_redis_server()
    assert binary is not None, "no redis-server"
    port, http_port, api_port = free_port(), free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
                                 stdout=subprocess.DEVNULL)
        received: list[Received] = []
        secret = new_secret()
        receiver = WebhookReceiver(secret, received.append, path="/hook")
        state = SimState(TOKEN)
        state.add_history("artist@example.com", 3)
        name = f"notifier-check-{port}"
        try:
            with Simulator(state) as sim:
                env = {"NOTIFIER_USEAPI_TOKEN": TOKEN, "NOTIFIER_USEAPI_BASE_URL": sim.url,
                       "NOTIFIER_REDIS_URL": f"redis://127.0.0.1:{port}/0", "NOTIFIER_WEBHOOK_URL": receiver.url,
                       "NOTIFIER_WEBHOOK_SECRET": secret, "NOTIFIER_POLL_INTERVAL_S": "0.5",
                       "NOTIFIER_HTTP_PORT": str(http_port), "NOTIFIER_LOG_FORMAT": "json",
                       "NOTIFIER_API_PORT": str(api_port), "NOTIFIER_API_TOKEN": f"read:{API_TOKEN}"}
                args = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
                started = time.monotonic()
                subprocess.run([*PODMAN, "-d", "--name", name, *args, image], check=True, capture_output=True)
                wait(lambda: state.count("images", "artist@example.com") >= 2, 60, "the container's first polls")
                print(f"container-check: polling {time.monotonic() - started:.1f} s after `podman run`")
                changed = time.time()
                state.add_image("artist@example.com", 1)
                wait(lambda: bool(received), 30, "a webhook from the container")
                event = received[0]
                if not event.verified:
                    raise SystemExit(f"container-check: FAILED: signature not verified: {event.error}")
                print(f"container-check: {event.payload and event.payload['type']} delivered, signature verified, "
                      f"{event.at - changed:.2f} s after the change")
                check_console(api_port, event.webhook_id)
                health = subprocess.run(["podman", "healthcheck", "run", name], capture_output=True, text=True)
                wait(lambda: subprocess.run(["podman", "healthcheck", "run", name],
                                            capture_output=True).returncode == 0, 60, "a healthy health check")
                print(f"container-check: HEALTHCHECK healthy (first try: {health.returncode == 0})")
                stop = subprocess.run(["podman", "stop", "-t", "30", name], capture_output=True, text=True)
                code = subprocess.run(["podman", "inspect", "-f", "{{.State.ExitCode}}", name],
                                      capture_output=True, text=True).stdout.strip()
                print(f"container-check: stopped by SIGTERM, exit code {code}")
                if stop.returncode != 0 or code != "0":
                    raise SystemExit("container-check: FAILED: the container did not stop cleanly")
        finally:
            logs = subprocess.run(["podman", "logs", name], capture_output=True, text=True)
            if logs.returncode == 0 and "--verbose" in sys.argv:
                print(logs.stdout[-3000:], logs.stderr[-3000:])
            subprocess.run(["podman", "rm", "-f", name], capture_output=True)
            receiver.stop()
            redis.terminate()
            redis.wait(10)
    print("container-check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
