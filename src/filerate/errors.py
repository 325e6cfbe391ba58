"""The errors a user can fix: printed by the command line as one line, without a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (a missing input, a bad option); one line, exit 2."""


class ConfigError(UserError, ValueError):
    """The config file is invalid; the message names the key, the value and the fix."""
