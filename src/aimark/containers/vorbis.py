"""FLAC, Ogg Vorbis and Ogg Opus: the label in the Vorbis comment ``AIGC=<inner JSON>``.

mutagen reads and writes these comment headers correctly (FLAC metadata blocks and padding; Ogg
pages re-paginated, renumbered and re-checksummed when the comment packet changes size), so
both journeys go through it: the reader over a read-only view of the input, the writer over an
in-memory copy. Every other comment, picture and metadata block is kept; comments whose name
contains ``AIGC`` (names are case-insensitive) are replaced by exactly one ``AIGC``. The audio
frames and pages are copied unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import error
from .base import DEFAULT_LIMITS, Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register

LABEL_KEY = "AIGC"


class BufferFile(io.RawIOBase):
    """A read-only, seekable file over a buffer (bytes or mmap) without copying it."""

    def __init__(self, buf: Buffer) -> None:
        self._view = memoryview(buf)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), len(self._view) - self._pos))
        b[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        base = (0, self._pos, len(self._view))[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._view.release()
        super().close()


def _open(kind: str, fileobj: Any) -> Any:
    from mutagen import MutagenError
    from mutagen.flac import FLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    cls = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[kind]
    try:
        return cls(fileobj)
    except MutagenError as exc:
        raise CorruptFile(f"unreadable {kind} header: {exc}") from None
    except (EOFError, ValueError, KeyError, IndexError, TypeError, OverflowError, MemoryError) as exc:
        raise CorruptFile(f"malformed {kind} header: {exc}") from None


def _reader(kind: str) -> Callable[[Buffer, Limits], ReadResult]:
    def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
        res = ReadResult(format=kind)
        with BufferFile(buf) as f:
            try:
                audio = _open(kind, io.BufferedReader(f))
            except CorruptFile as exc:
                res.findings.append(error(exc.code, exc.message, kind))
                res.complete = False
                return res
        for name, value in audio.tags if audio.tags is not None else ():
            if LABEL_KEY in name.upper():
                res.labels.append(RawLabel(f"{kind}:VorbisComment:{name}", value))
        return res

    return read


def _writer(kind: str) -> Callable[[Buffer, AIGCLabel, Limits], list[Piece]]:
    def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
        if len(buf) > limits.max_audio_file:
            raise LimitExceeded(f"{kind} file of {len(buf)} bytes (limit {limits.max_audio_file} for an in-memory rewrite)")
        out = io.BytesIO(bytes(buf))
        audio = _open(kind, out)
        if audio.tags is None:
            audio.add_tags()
        for name in {k for k, _ in audio.tags if LABEL_KEY in k.upper()}:
            del audio.tags[name]
        audio.tags[LABEL_KEY] = [label.to_inner_json()]
        try:
            out.seek(0)
            audio.save(out)
        except Exception as exc:  # mutagen raises several types on structures it cannot rewrite
            raise CorruptFile(f"cannot rewrite the {kind} comment header: {exc}") from None
        return [out.getvalue()]

    return write


def _ogg_codec(head: bytes) -> bytes | None:
    if head[:4] != b"OggS" or len(head) < 28:
        return None
    body = 27 + head[26]
    return head[body : body + 8]


def sniff_flac(head: bytes) -> int:
    return 100 if head[:4] == b"fLaC" else 0


def sniff_ogg(head: bytes) -> int:
    codec = _ogg_codec(head)
    return 100 if codec is not None and codec[:7] == b"\x01vorbis" else 0


def sniff_opus(head: bytes) -> int:
    codec = _ogg_codec(head)
    return 100 if codec == b"OpusHead" else 0


def sniff_other_ogg(head: bytes) -> int:
    codec = _ogg_codec(head)
    return 50 if codec is not None else 0


def _refuse(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    raise UnsupportedFormat("an Ogg stream other than Vorbis or Opus (FLAC-in-Ogg, Speex, Theora) is not supported")


def _refuse_write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    _refuse(buf, limits)
    return []


for _name, _mime, _exts, _sniff in (
    ("flac", "audio/flac", (".flac",), sniff_flac),
    ("ogg", "audio/ogg", (".ogg", ".oga"), sniff_ogg),
    ("opus", "audio/ogg; codecs=opus", (".opus",), sniff_opus),
):
    register(
        Carrier(
            name=_name,
            mime=_mime,
            extensions=_exts,
            sniff=_sniff,
            read=_reader(_name),
            write=_writer(_name),
            media="audio",
        )
    )
OTHER_OGG = register(
    Carrier(
        name="ogg-other",
        mime="application/ogg",
        extensions=(".ogx",),
        sniff=sniff_other_ogg,
        read=_refuse,
        write=_refuse_write,
        media="audio",
    )
)
