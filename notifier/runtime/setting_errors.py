"""How a bad setting is reported: the variable named, its value never shown (it may be a secret)."""

from __future__ import annotations

import os

from pydantic import ValidationError

ENV_PREFIX = "NOTIFIER_"


def describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = [str(part) for part in err["loc"]]
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and len(loc) > 1:
            # The last part is the user's own key, which may hold anything (a pasted secret): not repeated.
            loc, message = loc[:-1], "has a field it does not know"
        setting = f"{ENV_PREFIX}{loc[0].upper()}" if loc else "settings"
        where = f"[{']['.join(loc[1:])}]" if len(loc) > 1 else ""
        if not loc:
            lines.append(message)
        else:
            lines.append(f"{setting}{where}: {message}")
    return "; ".join(lines)


def too_deep() -> str | None:
    """The variable whose JSON nests too deep to decode (its value is not shown)."""
    for name, value in os.environ.items():
        if not name.upper().startswith("NOTIFIER_"):
            continue
        depth = deepest = 0
        for char in value:
            depth += (char in "[{") - (char in "]}")
            deepest = max(deepest, depth)
        if deepest > 100:
            return name.upper()
    return None
