"""Exceptions with one-line, user-facing messages (the CLI prints them without a traceback)."""

from __future__ import annotations


class XlalignError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class CorpusError(XlalignError, ValueError):
    """A corpus file or folder is malformed, mismatched across languages, or empty."""


class ModelLoadError(XlalignError, RuntimeError):
    """A model id or path could not be loaded."""


class ConfigError(XlalignError, ValueError):
    """An invalid option value or combination."""
