"""The scripts the README names each set up .venv by themselves, quietly unless the install fails.

``scripts/lib/venv.sh`` is exercised against a stand-in python that records its calls and prints what
pip prints on this kind of machine (warnings that read like a failure).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

LIB = ROOT / "scripts" / "lib" / "venv.sh"
NOISE = ("WARNING: Location 'file:///opt/pypi-more/simple/httpx/' is ignored: it is neither a file nor a directory.\n"
         "!!\n  Please be careful with folders in your working directory with the same name as your package\n!!")
# The stand-in for python: `-m venv DIR` makes DIR/bin/python (itself); anything else is pip, which
# prints the noise and exits with $FAKE_RC (in the file "rc", default 0).
FAKE_PYTHON = f"""#!/usr/bin/env bash
echo "$*" >> "$PWD/calls"
if [ "$1 $2" = "-m venv" ]; then
    [ -f "$PWD/venv-fails" ] && {{ echo "ensurepip is not available"; exit 1; }}
    mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && exit 0
fi
cat <<'NOISE'
{NOISE}
NOISE
exit "$(cat "$PWD/rc" 2>/dev/null || echo 0)"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    python = tmp_path / "python3"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def ensure(project: Path, extras: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", f'set -euo pipefail; . "{LIB}"; ensure_venv {extras}'], cwd=project,
                          env={"PATH": "/usr/bin:/bin", "PYTHON": str(project / "python3")},
                          capture_output=True, text=True, timeout=30)


def calls(project: Path) -> list[str]:
    path = project / "calls"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


def test_a_missing_venv_is_made_and_the_install_says_one_line(project: Path) -> None:
    done = ensure(project, "embedded")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == "setting up .venv (the first time takes a minute) …\n"
    assert calls(project) == ["-m venv .venv", "-m pip install --upgrade pip",
                              "-m pip install --disable-pip-version-check -e .[embedded]"]


def test_an_install_is_silent_and_done_again_only_when_something_changed(project: Path) -> None:
    ensure(project, "embedded")
    calls(project)
    for extras, installs in (("embedded", 0), ("test", 1), ("test", 0), ("embedded", 0)):
        done = ensure(project, extras)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), extras
        assert len(calls(project)) == installs, extras
    with (project / "pyproject.toml").open("a") as changed:
        changed.write('version = "2"\n')
    assert ensure(project, "embedded").stderr == ""
    assert calls(project) == ["-m pip install --disable-pip-version-check -e .[embedded]"]


def test_a_failed_install_shows_what_pip_said(project: Path) -> None:
    ensure(project, "embedded")
    (project / "rc").write_text("1")
    (project / "pyproject.toml").write_text('[project]\nname = "y"\n')
    done = ensure(project, "embedded")
    assert done.returncode == 1
    assert NOISE in done.stderr
    assert done.stderr.rstrip().endswith("installing the project into .venv failed (pip's output above)")
    (project / "rc").write_text("0")
    assert ensure(project, "embedded").returncode == 0  # nothing was marked installed: it tries again


def test_a_venv_that_could_not_be_made_is_not_left_half_made(project: Path) -> None:
    (project / "venv-fails").touch()
    done = ensure(project, "test")
    assert done.returncode == 1 and "ensurepip is not available" in done.stderr
    assert "making .venv with" in done.stderr
    assert not (project / ".venv").exists()


def named_scripts() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    return {name for name in re.findall(r"\bscripts/[\w-]+(?:\.py)?", readme) if not name.endswith(".py")}


def test_every_script_the_readme_names_sets_up_its_venv_before_using_it() -> None:
    scripts = named_scripts()
    assert {"scripts/demo", "scripts/test", "scripts/run", "scripts/container-check"} <= scripts
    for name in scripts:
        lines = (ROOT / name).read_text().splitlines()
        uses = [n for n, line in enumerate(lines) if ".venv/" in line and not line.lstrip().startswith("#")]
        sets_up = [n for n, line in enumerate(lines) if line.strip().startswith("ensure_venv ")]
        assert ". scripts/lib/venv.sh" in lines, name
        assert sets_up and (not uses or sets_up[0] < uses[0]), name
