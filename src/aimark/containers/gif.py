"""GIF: the label in the XMP application extension (``XMP DataXMP`` + magic trailer).

Writing: the XMP extension is rewritten where it stands, or a new one is inserted right after
the header and global colour table; comment extensions holding a label are removed. A GIF87a
file is marked GIF89a, the version that defines extensions. Image data is copied untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded
from ..label import AIGCLabel, looks_like_label
from ..report import error
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, decode_text, register, splice

XMP_APP_ID = b"XMP DataXMP"
MAGIC_TRAILER = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"  # 258 bytes, ends with the terminator


@dataclass(frozen=True)
class Block:
    kind: int  # 0x21 extension, 0x2C image, 0x3B trailer
    label: int  # extension label (0xFF application, 0xFE comment, ...), 0 otherwise
    start: int
    end: int
    body: int  # offset of the first data sub-block (after the app id for app extensions)


def _skip_subblocks(buf: Buffer, pos: int) -> int:
    n = len(buf)
    while True:
        if pos >= n:
            raise CorruptFile("GIF ends inside a data sub-block chain")
        size = buf[pos]
        pos += 1
        if size == 0:
            return pos
        pos += size


def _header_end(buf: Buffer) -> int:
    if len(buf) < 13 or bytes(buf[:6]) not in (b"GIF87a", b"GIF89a"):
        raise CorruptFile("not a GIF")
    packed = buf[10]
    end = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    if end > len(buf):
        raise CorruptFile("GIF ends inside the global colour table")
    return end


def walk(buf: Buffer, limits: Limits) -> tuple[list[Block], bool, str]:
    pos = _header_end(buf)
    blocks: list[Block] = []
    n = len(buf)
    try:
        while True:
            if len(blocks) >= limits.max_segments:
                return blocks, False, f"more than {limits.max_segments} blocks"
            if pos >= n:
                return blocks, False, "file ends before the trailer"
            kind = buf[pos]
            if kind == 0x3B:
                blocks.append(Block(kind, 0, pos, pos + 1, pos + 1))
                return blocks, True, ""
            if kind == 0x21:
                if pos + 2 > n:
                    return blocks, False, "file ends inside an extension"
                label = buf[pos + 1]
                body = pos + 2
                if label == 0xFF and pos + 3 <= n and buf[pos + 2] == 11:
                    # an application extension: its data starts after the 11-byte app id (XMP
                    # data is raw bytes, but its magic trailer lands the sub-block walk on the
                    # terminator whatever the packet holds)
                    body = pos + 3 + 11
                end = _skip_subblocks(buf, body)
                blocks.append(Block(kind, label, pos, end, body))
                pos = end
            elif kind == 0x2C:
                if pos + 10 > n:
                    return blocks, False, "file ends inside an image descriptor"
                packed = buf[pos + 9]
                p = pos + 10 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
                end = _skip_subblocks(buf, p + 1)  # LZW minimum code size, then data
                blocks.append(Block(kind, 0, pos, end, p + 1))
                pos = end
            else:
                return blocks, False, f"unknown block 0x{kind:02X} at offset {pos}"
    except CorruptFile as exc:
        return blocks, False, exc.message


def _is_xmp(buf: Buffer, b: Block) -> bool:
    return b.kind == 0x21 and b.label == 0xFF and bytes(buf[b.start + 3 : b.start + 14]) == XMP_APP_ID


def _xmp_packet(buf: Buffer, b: Block, limits: Limits) -> bytes:
    data = bytes(buf[b.body : b.end])
    if len(data) > limits.max_xmp_packet + len(MAGIC_TRAILER):
        raise LimitExceeded(f"XMP extension of {len(data)} bytes")
    if data.endswith(MAGIC_TRAILER):
        return data[: -len(MAGIC_TRAILER)]
    idx = data.rfind(b"<?xpacket end=")
    if idx >= 0:
        close = data.find(b"?>", idx)
        return data[: close + 2] if close >= 0 else data[:idx]
    idx = data.rfind(b"</x:xmpmeta>")
    return data[: idx + 12] if idx >= 0 else data


def _comment(buf: Buffer, b: Block, limits: Limits) -> str:
    parts, pos = [], b.body
    while pos < b.end - 1 and sum(map(len, parts)) <= limits.max_text_chunk:
        size = buf[pos]
        parts.append(bytes(buf[pos + 1 : pos + 1 + size]))
        pos += 1 + size
    return decode_text(b"".join(parts))


def sniff(head: bytes) -> int:
    return 100 if head[:6] in (b"GIF87a", b"GIF89a") else 0


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    blocks, complete, problem = walk(buf, limits)
    res = ReadResult.after_walk(complete, problem, "GIF", "gif")
    for i, b in enumerate(blocks):
        if _is_xmp(buf, b):
            site = f"gif:XMP[{i}]"
            try:
                packet = _xmp_packet(buf, b, limits)
            except LimitExceeded as exc:
                res.findings.append(error(exc.code, exc.message, site))
                res.complete = False
                continue
            res.add(*xmp.read_aigc(packet, site, limits))
        elif b.kind == 0x21 and b.label == 0xFE:
            text = _comment(buf, b, limits)
            if looks_like_label(text):
                res.labels.append(RawLabel(f"gif:Comment[{i}]", text))
    return res


def xmp_extension(packet: bytes) -> bytes:
    return b"\x21\xff\x0b" + XMP_APP_ID + packet + MAGIC_TRAILER


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    blocks, complete, problem = walk(buf, limits)
    if not complete:
        raise CorruptFile(f"cannot label a broken GIF: {problem}")

    def sites() -> Iterator[xmp.PacketSite | list[Edit]]:
        for b in blocks:
            if _is_xmp(buf, b):
                yield xmp.PacketSite(b.start, b.end, _xmp_packet(buf, b, limits))
            elif b.kind == 0x21 and b.label == 0xFE and looks_like_label(_comment(buf, b, limits)):
                yield [(b.start, b.end, b"")]

    edits = xmp.site_edits(sites(), label.to_inner_json(), limits, wrap=xmp_extension, insert_at=lambda: _header_end(buf))
    if bytes(buf[:6]) == b"GIF87a":
        edits.append((0, 6, b"GIF89a"))
    return splice(buf, edits)


CARRIER = register(
    Carrier(
        name="gif",
        mime="image/gif",
        extensions=(".gif",),
        sniff=sniff,
        read=read,
        write=write,
    )
)
