"""PNG: the label in the iTXt ``XML:com.adobe.xmp`` chunk; tEXt/zTXt/iTXt keyword ``AIGC`` read,
and, with a ``label_nonstandard_site`` warning, a text chunk of another keyword whose whole text
is a label (products write ``{"AIGC":{...}}`` under ``Description``) and an ``eXIf`` chunk's
EXIF sites (as in JPEG).

Writing: the first XMP chunk is rewritten (uncompressed, other properties kept) where it
stands, or a new one is inserted before the first IDAT. Text chunks that hold a label are
removed and EXIF label values blanked (the label moves to XMP), so the output carries exactly
one label. Every other chunk is copied byte for byte; only new chunks' CRCs are computed.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded
from ..label import AIGCLabel, is_label_payload, label_start
from ..report import error, info, warning
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, register, splice, u32be
from .tiff import blank_exif, read_exif

SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
STANDARD_SITE = "iTXt XML:com.adobe.xmp"
MAX_CHUNK = (1 << 31) - 1


@dataclass(frozen=True)
class Chunk:
    type: bytes
    start: int  # offset of the length field
    data: int  # offset of the chunk data
    end: int  # offset after the CRC

    @property
    def size(self) -> int:
        return self.end - self.data - 4


def walk(buf: Buffer, limits: Limits) -> tuple[list[Chunk], bool, str]:
    if bytes(buf[:8]) != SIGNATURE:
        raise CorruptFile("not a PNG: bad signature")
    chunks: list[Chunk] = []
    pos, n = 8, len(buf)
    while True:
        if len(chunks) >= limits.max_segments:
            return chunks, False, f"more than {limits.max_segments} chunks"
        if pos + 8 > n:
            return chunks, False, "file ends before IEND"
        length = u32be(buf, pos)
        ctype = bytes(buf[pos + 4 : pos + 8])
        if length > MAX_CHUNK or pos + 12 + length > n:
            return chunks, False, f"chunk {ctype!r} at offset {pos} declares {length} bytes past the end"
        if not ctype.isalpha():
            return chunks, False, f"invalid chunk type {ctype!r} at offset {pos}"
        chunks.append(Chunk(ctype, pos, pos + 8, pos + 12 + length))
        pos += 12 + length
        if ctype == b"IEND":
            return chunks, True, ""


def _inflate(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as exc:
        raise CorruptFile(f"bad zlib stream: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise LimitExceeded(f"compressed text inflates past the {limit}-byte limit")
    return out


@dataclass(frozen=True)
class TextChunk:
    keyword: bytes
    text: bytes  # decoded, decompressed


def parse_text(chunk: Chunk, buf: Buffer, limits: Limits) -> TextChunk | None:
    """Keyword and text of a tEXt, zTXt or iTXt chunk (None for other chunks)."""
    if chunk.type not in (b"tEXt", b"zTXt", b"iTXt"):
        return None
    if chunk.size > max(limits.max_text_chunk, limits.max_xmp_packet) * 4:
        raise LimitExceeded(f"{chunk.type.decode()} chunk of {chunk.size} bytes")
    data = bytes(buf[chunk.data : chunk.data + chunk.size])
    keyword, sep, rest = data.partition(b"\x00")
    if not sep:
        raise CorruptFile(f"{chunk.type.decode()} chunk without a keyword terminator")
    if chunk.type == b"tEXt":
        return TextChunk(keyword, rest)
    if chunk.type == b"zTXt":
        return TextChunk(keyword, _inflate(rest[1:], limits.max_text_chunk))
    if len(rest) < 2:
        raise CorruptFile("iTXt chunk too short")
    compressed = rest[0] == 1
    _lang, _, rest = rest[2:].partition(b"\x00")
    _translated, _, text = rest.partition(b"\x00")
    if compressed:
        text = _inflate(text, limits.max_xmp_packet)
    return TextChunk(keyword, text)


def _crc_ok(chunk: Chunk, buf: Buffer) -> bool:
    crc = zlib.crc32(memoryview(buf)[chunk.start + 4 : chunk.end - 4])
    return crc == u32be(buf, chunk.end - 4)


def sniff(head: bytes) -> int:
    return 100 if head[:8] == SIGNATURE else 0


def _is_label_keyword(keyword: bytes) -> bool:
    return b"AIGC" in keyword.upper()


def _decode(chunk: Chunk, tc: TextChunk) -> str:
    return tc.text.decode("latin-1" if chunk.type != b"iTXt" else "utf-8", "replace")


def _foreign_label(chunk: Chunk, tc: TextChunk) -> str | None:
    """The label a text chunk of another keyword holds as its whole text, if any."""
    if tc.keyword == XMP_KEYWORD or _is_label_keyword(tc.keyword) or not label_start(tc.text[:16]):
        return None
    text = _decode(chunk, tc)
    return text if is_label_payload(text) else None


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    chunks, complete, problem = walk(buf, limits)
    res = ReadResult.after_walk(complete, problem, "PNG", "png")
    if chunks and chunks[0].type == b"IHDR" and chunks[0].size >= 8:
        w, h = struct.unpack_from(">II", buf, chunks[0].data)
        if w * h > 1 << 28:
            res.findings.append(info("huge_dimensions", f"header declares {w}x{h} pixels (not decoded)", "png:IHDR"))
    for i, chunk in enumerate(chunks):
        site = f"png:{chunk.type.decode('latin-1')}[{i}]"
        if chunk.type == b"eXIf":
            read_exif(buf, chunk.data, chunk.data + chunk.size, site, res, limits, STANDARD_SITE)
            continue
        try:
            tc = parse_text(chunk, buf, limits)
        except (CorruptFile, LimitExceeded) as exc:
            res.findings.append(error(exc.code, exc.message, site))
            continue
        if tc is None:
            continue
        is_xmp = tc.keyword == XMP_KEYWORD
        if not (is_xmp or _is_label_keyword(tc.keyword)):
            if (text := _foreign_label(chunk, tc)) is not None:
                res.nonstandard(f"{site}:{tc.keyword.decode('latin-1')}", text, STANDARD_SITE)
            continue
        if not _crc_ok(chunk, buf):
            res.findings.append(warning("crc_mismatch", "chunk CRC does not match its data", site))
        if is_xmp:
            res.add(*xmp.read_aigc(tc.text, f"{site}:XMP", limits))
            if chunk.type != b"iTXt":
                res.findings.append(info("xmp_in_text_chunk", "XMP stored in a tEXt/zTXt chunk", site))
        else:
            res.labels.append(RawLabel(f"{site}:{tc.keyword.decode('latin-1')}", _decode(chunk, tc)))
    return res


def make_chunk(ctype: bytes, data: bytes) -> bytes:
    body = ctype + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def xmp_chunk(packet: bytes) -> bytes:
    return make_chunk(b"iTXt", XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet)


def _exif_edits(buf: Buffer, chunk: Chunk, limits: Limits) -> list[Edit]:
    """The eXIf chunk with its label values blanked, its CRC recomputed (none: no label)."""
    edits = blank_exif(buf, chunk.data, chunk.data + chunk.size, limits)
    if not edits:
        return []
    body = bytearray(buf[chunk.start + 4 : chunk.end - 4])
    for start, end, data in edits:
        body[start - chunk.start - 4 : end - chunk.start - 4] = data
    return [(chunk.start, chunk.end, make_chunk(bytes(body[:4]), bytes(body[4:])))]


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    chunks, complete, problem = walk(buf, limits)
    if not complete:
        raise CorruptFile(f"cannot label a broken PNG: {problem}")
    if chunks[0].type != b"IHDR":
        raise CorruptFile("PNG does not start with IHDR")

    def sites() -> Iterator[xmp.PacketSite | list[Edit]]:
        for chunk in chunks:
            tc = parse_text(chunk, buf, limits)
            if chunk.type == b"eXIf":
                yield _exif_edits(buf, chunk, limits)
            elif tc is not None and tc.keyword == XMP_KEYWORD:
                yield xmp.PacketSite(chunk.start, chunk.end, tc.text)
            elif tc is not None and (_is_label_keyword(tc.keyword) or _foreign_label(chunk, tc) is not None):
                yield [(chunk.start, chunk.end, b"")]

    def first_idat() -> int:
        return next((c.start for c in chunks if c.type == b"IDAT"), chunks[-1].start)

    return splice(buf, xmp.site_edits(sites(), label.to_inner_json(), limits, wrap=xmp_chunk, insert_at=first_idat))


CARRIER = register(
    Carrier(
        name="png",
        mime="image/png",
        extensions=(".png",),
        sniff=sniff,
        read=read,
        write=write,
    )
)
