"""The configuration shared by every group of settings (one environment prefix, ``.env``, docstrings)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from notifier.runtime.setting_errors import ENV_PREFIX


class SettingsGroup(BaseSettings):
    """Base of each group of fields; :class:`~notifier.runtime.settings.Settings` joins the groups into one.

    The groups only keep modules short and let each stage own its knobs: nothing builds a group on its own.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True,
        use_attribute_docstrings=True,
    )
