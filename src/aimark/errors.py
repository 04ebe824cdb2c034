"""One exception tree for everything aimark refuses to do.

Every error carries a stable machine-readable ``code`` and renders as data through
``to_dict()`` so the CLI's ``--json`` output and any HTTP front end share one shape.
"""

from __future__ import annotations

from typing import Any


class AimarkError(Exception):
    """Base class of every error aimark raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "path": self.path}

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class UnsupportedFormat(AimarkError):
    """The bytes are not a format aimark can read or write."""

    code = "unsupported_format"


class CorruptFile(AimarkError):
    """The container structure is broken (truncated, bad sizes, bad markers)."""

    code = "corrupt_file"


class UnsafeContent(CorruptFile):
    """The file contains something aimark refuses to parse (XML DTDs, entities)."""

    code = "unsafe_content"


class LimitExceeded(AimarkError):
    """A declared or actual size is beyond a configured safety limit."""

    code = "limit_exceeded"


class InvalidLabel(AimarkError):
    """A label given for writing does not satisfy GB 45438-2025 Annex E."""

    code = "invalid_label"


class OutputError(AimarkError):
    """The output cannot be written (same path as input, permissions, disk)."""

    code = "output_error"


class InputError(AimarkError):
    """The input cannot be opened (missing, a directory, unreadable)."""

    code = "input_error"


class LabelWordingWarning(UserWarning):
    """An explicit label text lacks the AI element or the generation element of SPEC section 1."""
