"""ID3v2 tags and MP3: the label in a ``TXXX`` frame with description ``AIGC``.

The tag's bytes are cut out of the file by its declared size (bounded by
``Limits.max_id3_tag``) and handed to mutagen, which reads ID3v2.2, 2.3 and 2.4 (with
unsynchronisation, extended headers and compressed frames) and writes 2.3 or 2.4 correctly.
Writing keeps the tag's version and every other frame, removes any other ``TXXX`` whose
description contains ``AIGC`` and adds one ``TXXX:AIGC`` holding the inner JSON. Tags stacked
behind the first (a tool that prepends its own tag leaves the old one there) are read too, and
lose their label frames on writing. Only the tags are rebuilt; the MPEG frames after them (and an
ID3v1 tag at the end) are copied byte for byte.

The same helpers read and rewrite the ``id3 `` chunk of WAV files (:mod:`.riff`).
"""

from __future__ import annotations

import io
from typing import Any

from ..errors import CorruptFile, LimitExceeded
from ..label import AIGCLabel
from ..report import error
from .base import DEFAULT_LIMITS, Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register, splice

HEADER = 10
SYNC_SEARCH = 64 << 10  # bytes after the tag searched for the first MPEG frame
LABEL_DESC = "AIGC"


def _syncsafe(b: bytes) -> int:
    if any(x & 0x80 for x in b):
        raise CorruptFile("ID3 tag size is not syncsafe")
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def tag_size(buf: Buffer, off: int = 0) -> int:
    """The whole size (header, frames, padding, footer) of the ID3v2 tag at ``off``, 0 if none."""
    head = bytes(buf[off : off + HEADER])
    if len(head) < HEADER or head[:3] != b"ID3":
        return 0
    if head[3] not in (2, 3, 4) or head[4] == 0xFF:
        raise CorruptFile(f"unknown ID3v2 version 2.{head[3]}")
    size = HEADER + _syncsafe(head[6:10])
    if head[3] == 4 and head[5] & 0x10:
        size += HEADER  # footer
    return size


def load(tag: bytes):  # -> mutagen.id3.ID3
    from mutagen.id3 import ID3, ID3NoHeaderError  # mutagen is a core dependency; imported on use
    from mutagen.id3._util import error as ID3Error

    try:
        return ID3(io.BytesIO(tag), translate=False)
    except ID3NoHeaderError:
        raise CorruptFile("no ID3 header") from None
    except (ID3Error, EOFError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise CorruptFile(f"unreadable ID3 tag: {exc}") from None


def is_label(frame: Any) -> bool:
    return type(frame).__name__ in ("TXXX", "TXX") and LABEL_DESC in str(frame.desc).upper()


def _cut(buf: Buffer, off: int, end: int, limits: Limits) -> bytes:
    size = tag_size(buf, off)
    if size > limits.max_id3_tag:
        raise LimitExceeded(f"ID3 tag of {size} bytes (limit {limits.max_id3_tag})")
    if off + size > end:
        raise CorruptFile(f"ID3 tag declares {size} bytes, only {end - off} present")
    return bytes(buf[off : off + size])


def read_tag(buf: Buffer, off: int, end: int, site: str, res: ReadResult, limits: Limits) -> None:
    """Add the ``TXXX:AIGC`` frames of the ID3v2 tag at ``buf[off:end]`` to ``res``."""
    try:
        tag = load(_cut(buf, off, end, limits))
    except (CorruptFile, LimitExceeded) as exc:
        res.findings.append(error(exc.code, exc.message, site))
        res.complete = False
        return
    for key, frame in tag.items():
        if is_label(frame):
            for text in frame.text:
                res.labels.append(RawLabel(f"{site}:{key}", str(text)))


def labeled_tag(old: bytes | None, label: AIGCLabel | None) -> bytes:
    """The bytes of an ID3v2 tag like ``old`` (or a new v2.4 tag) holding exactly one label, or
    none when ``label`` is None (the label moved elsewhere). Version and other frames are kept."""
    from mutagen.id3 import ID3, TXXX, Encoding

    tag = load(old) if old else ID3()
    version = 3 if old and tag.version < (2, 4, 0) else 4
    if old and tag.version < (2, 3, 0):
        tag.update_to_v24()  # a v2.2 tag (3-letter frames) cannot be written back as 2.2
    for key in [k for k, f in tag.items() if is_label(f)]:
        del tag[key]
    if label is not None:
        tag.add(TXXX(encoding=Encoding.LATIN1, desc=LABEL_DESC, text=[label.to_inner_json()]))
    out = io.BytesIO(old or b"")
    try:
        tag.save(out, v1=0, v2_version=version, padding=lambda info: info.get_default_padding() if label else 0)
    except (ValueError, TypeError) as exc:
        raise CorruptFile(f"the ID3 tag cannot be rewritten: {exc}") from None
    data = out.getvalue()
    return data[: tag_size(data)]


# -- MP3 ---------------------------------------------------------------------------------------
def _mpeg_sync(head: bytes, off: int) -> bool:
    return len(head) >= off + 2 and head[off] == 0xFF and (head[off + 1] & 0xE0) == 0xE0 and (head[off + 1] & 0x06) != 0


def _layer3_header(head: bytes) -> bool:
    """A plausible MPEG audio Layer III frame header at the start (not, e.g., a UTF-16 BOM)."""
    if len(head) < 4 or not _mpeg_sync(head, 0):
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer == 1 and bitrate not in (0, 15) and rate != 3


def sniff_mp3(head: bytes) -> int:
    if head[:3] == b"ID3":
        return 90  # an ID3v2 tag leads MP3 files (AAC/ADTS and FLAC may carry one too: FLAC sniffs higher)
    return 60 if _layer3_header(head) else 0


MAX_STACKED = 8  # ID3v2 tags laid end to end at the start of a file (a tool prepending its own)


def stacked(buf: Buffer, limits: Limits) -> list[tuple[int, int]]:
    """(offset, size) of each ID3v2 tag at the start of the file. Players read the first; a tool
    that prepends a tag without merging (gtkit/aigc writes its TXXX:AIGC tag this way) leaves
    the old one behind it, where a label may sit too."""
    out: list[tuple[int, int]] = []
    off = 0
    while len(out) < MAX_STACKED and (size := tag_size(buf, off)):
        if size > limits.max_id3_tag or off + size > len(buf):
            out.append((off, size))  # _cut reports it
            break
        out.append((off, size))
        off += size
    return out


def read_mp3(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    res = ReadResult(format="mp3")
    for i, (off, _size) in enumerate(stacked(buf, limits)):
        read_tag(buf, off, len(buf), "mp3:ID3v2" if i == 0 else f"mp3:ID3v2[{i}]", res, limits)
    return res


def write_mp3(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    tags = stacked(buf, limits)
    first = _cut(buf, 0, len(buf), limits) if tags else None
    edits = [(0, len(first) if first else 0, labeled_tag(first, label))]
    for off, size in tags[1:]:
        old = _cut(buf, off, len(buf), limits)
        if any(is_label(f) for f in load(old).values()):
            edits.append((off, off + size, labeled_tag(old, None)))
    size = sum(s for _, s in tags)
    rest = bytes(buf[size : size + SYNC_SEARCH])
    if not any(_mpeg_sync(rest, i) for i in range(max(len(rest) - 1, 0))):
        raise CorruptFile("no MPEG audio frame after the ID3 tag")
    return splice(buf, edits)


MP3 = register(
    Carrier(
        name="mp3",
        mime="audio/mpeg",
        extensions=(".mp3",),
        sniff=sniff_mp3,
        read=read_mp3,
        write=write_mp3,
        media="audio",
    )
)
