"""FLV: the label as the AMF0 string ``AIGC`` in the ``onMetaData`` script tag (where
``ffmpeg -metadata AIGC=`` puts it too).

Writing re-serialises only ``onMetaData``: every other property is kept (its AMF0 bytes copied),
AIGC properties are replaced by exactly one. The script tag changes size, so every tag after it
moves by the difference: the tag's own PreviousTagSize is fixed, the absolute byte positions in
``keyframes.filepositions`` (written by ``ffmpeg -flvflags add_keyframe_index`` and by yamdi)
are moved, and ``filesize`` is updated. Audio and video tags are copied byte for byte. A file
without an onMetaData tag gets one after the header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from ..errors import CorruptFile, LimitExceeded
from ..label import AIGCLabel
from ..report import error
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, register, splice

LABEL_KEY = "AIGC"
SCRIPT = 18
_MAX_DEPTH = 16


@dataclass(frozen=True)
class Tag:
    type: int
    start: int  # offset of the tag header
    data: int
    size: int
    end: int  # offset after the PreviousTagSize that follows the tag


def header_end(buf: Buffer) -> int:
    if len(buf) < 13 or bytes(buf[:3]) != b"FLV":
        raise CorruptFile("not an FLV file")
    off = int(struct.unpack_from(">I", buf, 5)[0])
    if off < 9 or off + 4 > len(buf):
        raise CorruptFile("bad FLV header size")
    return off + 4  # the first PreviousTagSize (0)


def tags(buf: Buffer, limits: Limits, stop_after_script: bool = False) -> tuple[list[Tag], bool]:
    out: list[Tag] = []
    pos, n = header_end(buf), len(buf)
    while pos + 11 <= n:
        if len(out) >= limits.max_segments:
            return out, False
        ttype = buf[pos] & 0x1F
        size = int.from_bytes(bytes(buf[pos + 1 : pos + 4]), "big")
        end = pos + 11 + size + 4
        if end > n:
            return out, False
        out.append(Tag(ttype, pos, pos + 11, size, end))
        pos = end
        if stop_after_script and ttype != SCRIPT and len(out) > 8:
            break
    return out, pos == n or stop_after_script


# -- AMF0 --------------------------------------------------------------------------------------
class _Amf:
    def __init__(self, buf: Buffer, end: int, limits: Limits) -> None:
        self.buf, self.end, self.limits = buf, end, limits

    def need(self, pos: int, k: int) -> None:
        if pos + k > self.end:
            raise CorruptFile("AMF0 data runs past its tag")

    def string(self, pos: int, long: bool = False) -> tuple[str, int]:
        w = 4 if long else 2
        self.need(pos, w)
        k = int.from_bytes(bytes(self.buf[pos : pos + w]), "big")
        if k > self.limits.max_text_chunk:
            raise LimitExceeded(f"AMF0 string of {k} bytes")
        self.need(pos + w, k)
        return bytes(self.buf[pos + w : pos + w + k]).decode("utf-8", "replace"), pos + w + k

    def value(self, pos: int, depth: int = 0) -> tuple[Any, int]:
        """(the value, the position after it); objects and arrays as lists of (key, value, raw)."""
        if depth > _MAX_DEPTH:
            raise CorruptFile("AMF0 nested too deeply")
        self.need(pos, 1)
        t = self.buf[pos]
        pos += 1
        if t == 0:
            self.need(pos, 8)
            return struct.unpack_from(">d", self.buf, pos)[0], pos + 8
        if t == 1:
            self.need(pos, 1)
            return bool(self.buf[pos]), pos + 1
        if t in (2, 12):
            return self.string(pos, long=t == 12)
        if t in (3, 8):
            if t == 8:
                self.need(pos, 4)
                pos += 4
            return self.properties(pos, depth)
        if t in (5, 6):
            return None, pos
        if t == 10:
            self.need(pos, 4)
            count = int(struct.unpack_from(">I", self.buf, pos)[0])
            if count > self.limits.max_segments:
                raise LimitExceeded(f"AMF0 array of {count} items")
            pos += 4
            items = []
            for _ in range(count):
                v, pos = self.value(pos, depth + 1)
                items.append(v)
            return items, pos
        if t == 11:
            self.need(pos, 10)
            return None, pos + 10
        raise CorruptFile(f"unknown AMF0 type {t}")

    def properties(self, pos: int, depth: int) -> tuple[list[tuple[str, Any, bytes]], int]:
        out = []
        while True:
            self.need(pos, 3)
            if bytes(self.buf[pos : pos + 3]) == b"\x00\x00\x09":
                return out, pos + 3
            key, vpos = self.string(pos)
            value, end = self.value(vpos, depth + 1)
            out.append((key, value, bytes(self.buf[vpos:end])))
            pos = end
            if len(out) > self.limits.max_segments:
                raise LimitExceeded("too many AMF0 properties")


def _amf_string(s: str) -> bytes:
    b = s.encode("utf-8")
    return (b"\x02" + struct.pack(">H", len(b)) + b) if len(b) < 0x10000 else (b"\x0c" + struct.pack(">I", len(b)) + b)


def _key(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack(">H", len(b)) + b


def _number(v: float) -> bytes:
    return b"\x00" + struct.pack(">d", v)


def _metadata(buf: Buffer, tag: Tag, limits: Limits) -> list[tuple[str, Any, bytes]] | None:
    """The onMetaData properties of a script tag (None for another script tag)."""
    amf = _Amf(buf, tag.data + tag.size, limits)
    name, pos = amf.value(tag.data)
    if name != "onMetaData":
        return None
    amf.need(pos, 1)
    if buf[pos] not in (3, 8):
        raise CorruptFile("onMetaData is not an object")
    props, _ = amf.value(pos)
    return props  # type: ignore[no-any-return]


def sniff(head: bytes) -> int:
    return 100 if head[:3] == b"FLV" and len(head) >= 9 and head[3] == 1 else 0


def media_of(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> str:
    """``video`` when the header's video flag is set, else ``audio``."""
    return "video" if len(buf) > 4 and buf[4] & 0x01 else "audio"


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    res = ReadResult(format="flv")
    try:
        found, complete = tags(buf, limits)
    except CorruptFile as exc:
        return ReadResult(findings=[error(exc.code, exc.message, "flv")], complete=False, format="flv")
    if not complete:
        res.complete = False
        res.findings.append(error("corrupt_container", "FLV structure: a tag runs past the end of the file", "flv"))
    for i, tag in enumerate(t for t in found if t.type == SCRIPT):
        try:
            props = _metadata(buf, tag, limits)
        except (CorruptFile, LimitExceeded) as exc:
            res.findings.append(error(exc.code, exc.message, f"flv:script[{i}]"))
            continue
        for key, value, _ in props or []:
            if LABEL_KEY in key.upper() and isinstance(value, str):
                res.labels.append(RawLabel(f"flv:onMetaData:{key}", value))
    return res


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    found, complete = tags(buf, limits)
    if not complete:
        raise CorruptFile("cannot label a broken FLV: a tag runs past the end of the file")
    meta_tag, props = None, None
    for t in found:
        if t.type == SCRIPT:
            props = _metadata(buf, t, limits)
            if props is not None:
                meta_tag = t
                break
    kept = [(k, v, raw) for k, v, raw in (props or []) if LABEL_KEY not in k.upper()]
    at = meta_tag.start if meta_tag is not None else header_end(buf)
    old_len = meta_tag.end - meta_tag.start if meta_tag is not None else 0

    def serialise(shift: int) -> bytes:
        body = bytearray()
        for k, v, raw in kept:
            body += _key(k)
            if k == "keyframes" and isinstance(v, list):
                body += _keyframes(v, raw, at, shift)
            elif k == "filesize" and isinstance(v, float):
                body += _number(v + shift)
            else:
                body += raw
        body += _key(LABEL_KEY) + _amf_string(label.to_inner_json())
        data = _amf_string("onMetaData") + b"\x08" + struct.pack(">I", len(kept) + 1) + bytes(body) + b"\x00\x00\x09"
        if len(data) >= 1 << 24:
            raise LimitExceeded("onMetaData over 16 MiB")
        ts = bytes(buf[meta_tag.start + 4 : meta_tag.start + 11]) if meta_tag is not None else b"\x00" * 7
        return bytes([SCRIPT]) + len(data).to_bytes(3, "big") + ts + data + struct.pack(">I", 11 + len(data))

    new = serialise(0)
    new = serialise(len(new) - old_len)  # the positions after it move by the change in its size
    edits: list[Edit] = [(at, at + old_len, new)]
    for t in found:  # AIGC in other script tags is removed too (rare)
        if t.type == SCRIPT and t is not meta_tag:
            other = _metadata(buf, t, limits)
            if other and any(LABEL_KEY in k.upper() for k, _, _ in other):
                raise CorruptFile("an FLV with a second onMetaData tag holding a label is not supported")
    return splice(buf, edits)


def _keyframes(props: list[tuple[str, Any, bytes]], raw: bytes, at: int, shift: int) -> bytes:
    """The keyframes object with every file position after ``at`` moved by ``shift``."""
    out = bytearray(b"\x03")
    for k, v, vraw in props:
        out += _key(k)
        if k == "filepositions" and isinstance(v, list):
            out += b"\x0a" + struct.pack(">I", len(v))
            for p in v:
                out += _number(p + shift if isinstance(p, float) and p >= at else (p if isinstance(p, float) else 0.0))
        else:
            out += vraw
    out += b"\x00\x00\x09"
    return bytes(out)


FLV = register(
    Carrier(
        name="flv",
        mime="video/x-flv",
        extensions=(".flv",),
        sniff=sniff,
        read=read,
        write=write,
        media="video",
        media_of=media_of,
    )
)

__all__ = ["FLV", "read", "tags", "write"]
