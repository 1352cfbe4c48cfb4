"""Errors meant for the user: the CLI prints them as one line and exits non-zero."""


class ToolchainError(Exception):
    """A problem with the user's input (file, config, value); printed without a traceback."""


class ConfigError(ToolchainError, ValueError):
    """An unknown config key or a bad value, raised before any work starts."""


class NotImplementedStage(ToolchainError):
    """A registered stage whose implementation a later release delivers (exit code 2)."""

    exit_code = 2
