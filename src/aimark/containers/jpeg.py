"""JPEG: the label in the XMP APP1 segment; EXIF UserComment and ImageDescription, label-bearing
COM segments and APPn segments holding nothing but a label (products write a bare ``AIGC{...}``
into APP9 or APP11) read, the last three with a ``label_nonstandard_site`` warning.

Writing: the first standard XMP segment is updated in place (its other properties kept), or a
new one is inserted after the leading run of APP0/APP1 segments (JFIF, EXIF). A label found in
EXIF is blanked in place (EXIF offsets unchanged), COM and APPn segments holding a label and
AIGC properties in later XMP segments are removed, so the output carries exactly one label.
Entropy-coded data is copied untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded
from ..label import AIGCLabel, is_label_payload, label_start, looks_like_label
from ..report import info
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, ReadResult, decode_text, register, splice, u16be
from .tiff import blank_exif, read_exif

XMP_ID = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\x00"
EXIF_ID = b"Exif\x00\x00"
MAX_XMP_IN_APP1 = 65502  # 65535 - 2 (length) - 29 (namespace id) - 2 (rounding used by Adobe)
APP0, APP1, APP15, COM, SOS, EOI = 0xE0, 0xE1, 0xEF, 0xFE, 0xDA, 0xD9
STANDARD_SITE = "XMP in APP1"
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


@dataclass(frozen=True)
class Segment:
    marker: int
    start: int  # offset of the 0xFF
    data: int  # offset of the payload (after the length field)
    end: int  # offset after the segment

    def payload(self, buf: Buffer) -> bytes:
        return bytes(buf[self.data : self.end])

    def app_label(self, buf: Buffer) -> str | None:
        """The label an APPn segment (not XMP, not EXIF) holds as its whole payload, if any."""
        if not APP1 <= self.marker <= APP15 or not label_start(bytes(buf[self.data : self.data + 16])):
            return None
        text = decode_text(self.payload(buf))
        return text if is_label_payload(text) else None


def walk(buf: Buffer, limits: Limits) -> tuple[list[Segment], bool, str]:
    """Marker segments up to and including SOS. Returns (segments, complete, problem)."""
    if bytes(buf[:2]) != b"\xff\xd8":
        raise CorruptFile("not a JPEG: no SOI marker")
    segs: list[Segment] = []
    pos, n = 2, len(buf)
    while True:
        if len(segs) >= limits.max_segments:
            return segs, False, f"more than {limits.max_segments} segments"
        if pos >= n:
            return segs, False, "file ends before the image data (no SOS)"
        if buf[pos] != 0xFF:
            return segs, False, f"expected a marker at offset {pos}"
        start = pos
        while pos < n and buf[pos] == 0xFF:
            pos += 1
        if pos >= n:
            return segs, False, "file ends inside a marker"
        marker = buf[pos]
        pos += 1
        if marker in _STANDALONE:
            segs.append(Segment(marker, start, pos, pos))
            continue
        if marker == EOI:
            return segs, False, "EOI before any image data"
        if pos + 2 > n:
            return segs, False, "file ends inside a segment length"
        length = u16be(buf, pos)
        if length < 2 or pos + length > n:
            return segs, False, f"segment 0x{marker:02X} at offset {start} declares {length} bytes past the end"
        segs.append(Segment(marker, start, pos + 2, pos + length))
        pos += length
        if marker == SOS:
            return segs, True, ""


def sniff(head: bytes) -> int:
    return 100 if head[:3] == b"\xff\xd8\xff" else 0


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    segs, complete, problem = walk(buf, limits)
    res = ReadResult.after_walk(complete, problem, "JPEG", "jpeg")
    for i, seg in enumerate(segs):
        if seg.marker == APP1:
            head = bytes(buf[seg.data : seg.data + len(XMP_EXT_ID)])
            if head.startswith(XMP_ID):
                packet = bytes(buf[seg.data + len(XMP_ID) : seg.end])
                res.add(*xmp.read_aigc(packet, f"jpeg:APP1[{i}]:XMP", limits))
            elif head.startswith(XMP_EXT_ID):
                res.findings.append(info("xmp_extended", "extended XMP segment not read", f"jpeg:APP1[{i}]"))
            elif head.startswith(EXIF_ID):
                read_exif(buf, seg.data + len(EXIF_ID), seg.end, f"jpeg:APP1[{i}]:Exif", res, limits, STANDARD_SITE)
            elif (text := seg.app_label(buf)) is not None:
                res.nonstandard(f"jpeg:APP1[{i}]", text, STANDARD_SITE)
        elif seg.marker == COM:
            text = decode_text(seg.payload(buf))
            if looks_like_label(text):
                res.nonstandard(f"jpeg:COM[{i}]", text, STANDARD_SITE)
        elif (text := seg.app_label(buf)) is not None:
            res.nonstandard(f"jpeg:APP{seg.marker - APP0}[{i}]", text, STANDARD_SITE)
    return res


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    segs, complete, problem = walk(buf, limits)
    if not complete:
        raise CorruptFile(f"cannot label a broken JPEG: {problem}")

    def sites() -> Iterator[xmp.PacketSite | list[Edit]]:
        for seg in segs:
            if seg.marker == APP1 and bytes(buf[seg.data : seg.data + len(XMP_ID)]) == XMP_ID:
                yield xmp.PacketSite(seg.start, seg.end, bytes(buf[seg.data + len(XMP_ID) : seg.end]))
            elif seg.marker == APP1 and bytes(buf[seg.data : seg.data + len(EXIF_ID)]) == EXIF_ID:
                yield blank_exif(buf, seg.data + len(EXIF_ID), seg.end, limits)
            elif (seg.marker == COM and looks_like_label(decode_text(seg.payload(buf)))) or seg.app_label(buf) is not None:
                yield [(seg.start, seg.end, b"")]

    def after_app_run() -> int:
        insert_at = 2
        for seg in segs:
            if seg.marker not in (APP0, APP1):
                break
            insert_at = seg.end
        return insert_at

    return splice(buf, xmp.site_edits(sites(), label.to_inner_json(), limits, wrap=_xmp_segment, insert_at=after_app_run))


def _xmp_segment(packet: bytes) -> bytes:
    if len(packet) > MAX_XMP_IN_APP1:
        raise LimitExceeded(f"XMP packet of {len(packet)} bytes does not fit in one APP1 segment ({MAX_XMP_IN_APP1})")
    length = 2 + len(XMP_ID) + len(packet)
    return b"\xff\xe1" + length.to_bytes(2, "big") + XMP_ID + packet


CARRIER = register(
    Carrier(
        name="jpeg",
        mime="image/jpeg",
        extensions=(".jpg", ".jpeg", ".jpe", ".jfif"),
        sniff=sniff,
        read=read,
        write=write,
    )
)
