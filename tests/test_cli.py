import base64
import json
import subprocess
import sys

import pytest

from notifier import cli
from tests.conftest import ROOT, SECRET
from tests.support.processes import settings_env, wait_until


def test_gen_secret_is_a_valid_signing_secret(capsys: pytest.CaptureFixture[str]) -> None:
    from notifier.runtime.sink_config import check_webhook_secret

    assert cli.main(["gen-secret"]) == 0
    secret = capsys.readouterr().out.strip()
    assert check_webhook_secret(secret) == secret
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_help_says_what_it_does_and_where_to_start(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    about = out.split("\n\n")[1].splitlines()
    assert about[0].startswith("Sends each status change of your useapi.net PixVerse images to webhooks")
    assert "`notifier demo`" in about[1] and "``" not in out


def test_every_option_of_every_command_says_what_it_does() -> None:
    commands = cli._parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert parser.description, name
        for action in parser._actions:
            assert action.help, f"notifier {name} {'/'.join(action.option_strings) or action.dest}"


def test_bad_setting_stops_start_up_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT / "tests")  # no .env there
    monkeypatch.setenv("NOTIFIER_WEBHOOK_URL", "https://hooks.example/very-secret-path")
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRET", "whsec_not-base64!")
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "NOTIFIER_WEBHOOK_SECRET" in err
    assert "very-secret-path" not in err and "not-base64" not in err


def test_missing_token_names_the_setting(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT / "tests")
    assert cli.main(["poll-once"]) == 2
    assert "NOTIFIER_USEAPI_TOKEN is not set" in capsys.readouterr().err


@pytest.mark.integration
def test_poller_with_a_revoked_token_says_so_once_and_keeps_running(
    simulator, make_settings, redis_url: str
) -> None:
    sim = simulator(token="user:1-the-real-one")
    sim.state.add_account("a@x.com")
    settings = make_settings(useapi_base_url=sim.url, redis_url=redis_url, accounts=["a@x.com"],
                             poll_interval_s=0.2, upstream_auth_pause_s=1, webhook_url="https://h.example/x",
                             webhook_secret=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "notifier.cli", "poller"], env=settings_env(settings),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    try:
        wait_until(lambda: sim.state.count("unauthorized") >= 3, 30, "three tries with the bad token")
        assert proc.poll() is None, "the poller died"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    assert sim.state.count("unauthorized") >= 3  # it retried, slowly (1 s pauses at 0.2 s interval)
    assert out.count("rejected the API token (401): Unauthorized") == 1
    assert settings.useapi_token.get_secret_value() not in out
    assert "h.example/x" not in out


@pytest.mark.integration
def test_test_sink_prints_each_answer(receiver, make_settings) -> None:
    slack = receiver()
    dead = receiver()
    dead.answer(404, times=1)
    settings = make_settings(
        slack_webhooks=[{"url": slack.url, "name": "team"}, {"url": dead.url, "name": "old_channel"}],
        webhook_url=receiver().url, webhook_secret=SECRET,
    )
    done = subprocess.run([sys.executable, "-m", "notifier.cli", "test-sink"], env=settings_env(settings),
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    lines = done.stdout.splitlines()
    assert done.returncode == 1
    assert any(line.startswith("slack team (http://127.0.0.1:") and ": ok: answered 200: ok in " in line
               for line in lines), lines
    assert any(line.startswith("slack old_channel") and "FAILED: slack: answered 404" in line for line in lines)
    assert any(line.startswith("webhook webhook") and ": ok: answered 200" in line for line in lines)
    assert slack.received[0].payload["blocks"][0]["text"]["text"] == "✅ Image completed"
    assert "s3cr3t-path-token" not in done.stdout + done.stderr

    one = subprocess.run([sys.executable, "-m", "notifier.cli", "test-sink", "team"], env=settings_env(settings),
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert one.returncode == 0 and len(one.stdout.splitlines()) == 1
    missing = subprocess.run([sys.executable, "-m", "notifier.cli", "test-sink", "nope"],
                             env=settings_env(settings), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert missing.returncode == 2 and "no sink named 'nope'; configured: webhook, team, old_channel" in missing.stderr


def test_render_previews_a_sink_with_its_templates(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NOTIFIER_SLACK_WEBHOOKS", json.dumps([{
        "url": "https://hooks.slack.com/services/T0/B0/s3cr3tpath", "name": "team",
        "text_template": "*{{ title }}* by {{ account }}"}]))
    assert cli.main(["render", "team", "--type", "image.failed"]) == 0
    out = capsys.readouterr().out
    assert '"text": "*Image failed* by artist@example.com"' in out and "s3cr3tpath" not in out
    assert cli.main(["render", "team", "--type", "image.nope"]) == 2
    assert "unknown event type" in capsys.readouterr().err
