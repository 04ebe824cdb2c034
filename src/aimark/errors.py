"""One exception tree for everything aimark refuses to do.

Every error carries a stable machine-readable ``code`` and renders as data through
``to_dict()`` so the CLI's ``--json`` output and any HTTP front end share one shape.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


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
    """The input cannot be opened (missing, a directory, unreadable), or its content cannot
    take what was asked (audio too short for the watermark, an image too small)."""

    code = "input_error"


class InvalidArgument(AimarkError):
    """An argument is not valid: a watermark key or payload, a placement or position, an
    explicit label wording, a media option the media does not take."""

    code = "invalid_argument"


class EncodeError(AimarkError):
    """The changed content could not be encoded back into the file's format."""

    code = "encode_error"


class MissingDependency(AimarkError):
    """An optional part of aimark is not installed; ``extra`` names the pip extra that brings it."""

    code = "missing_dependency"

    def __init__(self, message: str, *, extra: str | None = None, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "extra": self.extra}


def guard(fn: Callable[[], T], what: str) -> T:
    """Run ``fn``; a parser slip on hostile bytes (a struct, index, value, overflow or Unicode
    error) becomes a :class:`CorruptFile` naming ``what`` instead of a crash."""
    try:
        return fn()
    except AimarkError:
        raise
    except (struct.error, IndexError, ValueError, OverflowError, UnicodeError) as exc:
        raise CorruptFile(f"malformed {what}: {exc}") from None
