"""Byte-level readers and writers of metadata sites, one module per container family.

Importing this package registers the built-in carriers; :func:`sniff` picks one by content.
"""

from __future__ import annotations

from . import bmff, flv, gif, id3, jpeg, markdown, matroska, ooxml, pdf, png, riff, textdoc, tiff, vorbis  # noqa: F401  (imported to register their carriers)
from .base import (
    DEFAULT_LIMITS,
    Buffer,
    Carrier,
    Limits,
    Piece,
    RawLabel,
    ReadResult,
    carriers,
    get_carrier,
    register,
    sniff,
    sniff_buffer,
    splice,
    unregister,
)

__all__ = [
    "DEFAULT_LIMITS",
    "Buffer",
    "Carrier",
    "Limits",
    "Piece",
    "RawLabel",
    "ReadResult",
    "carriers",
    "get_carrier",
    "register",
    "sniff",
    "sniff_buffer",
    "splice",
    "unregister",
]
