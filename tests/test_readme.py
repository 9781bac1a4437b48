"""The README cannot drift from the code: every setting is in its table, CI runs its test command."""

import re

from notifier.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_has_a_row_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(NOTIFIER_[A-Z0-9_]+)` \| ([^|]+) \|", README, flags=re.MULTILINE))
    fields = {f"NOTIFIER_{name.upper()}": field for name, field in Settings.model_fields.items()}
    assert set(rows) == set(fields)
    for variable, field in fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert (f"{default:g}" if isinstance(default, float) else str(default)) in rows[variable], variable
        assert field.description, f"{variable} has no docstring"


def test_ci_runs_the_readme_test_command() -> None:
    assert "\nscripts/test\n" in README
    assert re.search(r"^scripts/test\b", (ROOT / ".ci" / "run").read_text(), flags=re.MULTILINE)
