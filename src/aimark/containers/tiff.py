"""TIFF structures: the IFD walker shared by TIFF files and JPEG/WebP EXIF, and the TIFF carrier.

Sites read: XMP in IFD0 tag 700, EXIF ``UserComment`` (0x9286) in IFD0 or the Exif
sub-IFD (the mobile guide's alternative site, wrapped JSON after an 8-byte charset prefix),
and an IFD0 ``ImageDescription`` (0x010E) that holds nothing but a label (a product form,
read with a ``label_nonstandard_site`` warning).

Writing a TIFF: the XMP packet is rewritten in place when the new one fits in the old bytes,
else appended at the end of the file with the tag 700 entry's count and offset patched; when
IFD0 has no tag 700, a copy of IFD0 with the entry added is appended and the header points to
it (every other entry and every offset stay as they were). Old XMP bytes that are no longer
referenced are zeroed so no stale label remains in the file. A label found in ``UserComment``
or ``ImageDescription`` is blanked in place (same length, charset prefix kept) because the
label moves to XMP.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel, is_label_payload, looks_like_label
from ..report import Finding, error
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, decode_text, need, register, splice

TAG_XMP = 700
TAG_EXIF_IFD = 0x8769
TAG_USER_COMMENT = 0x9286
TAG_IMAGE_DESCRIPTION = 0x010E
STANDARD_SITE = "XMP (tag 700)"
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
TYPE_BYTE, TYPE_UNDEFINED, TYPE_LONG = 1, 7, 4


@dataclass(frozen=True)
class Entry:
    tag: int
    type: int
    count: int
    entry_at: int  # absolute offset of the 12-byte entry
    value_at: int  # absolute offset of the value bytes
    size: int  # value size in bytes

    @property
    def inline(self) -> bool:
        return self.size <= 4


@dataclass(frozen=True)
class Ifd:
    at: int  # absolute offset of the IFD
    entries: tuple[Entry, ...]
    next_at: int  # absolute offset of the 4-byte next-IFD pointer


class TiffView:
    """Bounded reads of a TIFF structure that starts at ``base`` in ``buf``."""

    def __init__(self, buf: Buffer, base: int = 0, end: int | None = None, limits: Limits = DEFAULT_LIMITS):
        self.buf, self.base, self.limits = buf, base, limits
        self.end = len(buf) if end is None else end
        need(buf, base, 8, "TIFF header")
        order = bytes(buf[base : base + 2])
        if order == b"II":
            self.e = "<"
        elif order == b"MM":
            self.e = ">"
        else:
            raise CorruptFile("TIFF header has no byte-order mark")
        magic = self.u16(base + 2)
        if magic == 43:
            raise UnsupportedFormat("BigTIFF is not supported")
        if magic != 42:
            raise CorruptFile(f"TIFF magic is {magic}, not 42")
        self.ifd0 = self.u32(base + 4)

    def _need(self, off: int, size: int, what: str) -> None:
        if off < self.base or off + size > self.end:
            raise CorruptFile(f"truncated: {what} at offset {off - self.base} lies outside the TIFF data")

    def u16(self, off: int) -> int:
        self._need(off, 2, "a 16-bit value")
        return int(struct.unpack_from(self.e + "H", self.buf, off)[0])

    def u32(self, off: int) -> int:
        self._need(off, 4, "a 32-bit value")
        return int(struct.unpack_from(self.e + "I", self.buf, off)[0])

    def pack16(self, v: int) -> bytes:
        return struct.pack(self.e + "H", v)

    def pack32(self, v: int) -> bytes:
        return struct.pack(self.e + "I", v)

    def ifd(self, rel: int) -> Ifd:
        at = self.base + rel
        n = self.u16(at)
        if n > self.limits.max_ifd_entries:
            raise LimitExceeded(f"IFD declares {n} entries (limit {self.limits.max_ifd_entries})")
        self._need(at, 2 + 12 * n + 4, "an IFD")
        entries = []
        for i in range(n):
            p = at + 2 + 12 * i
            tag, typ = self.u16(p), self.u16(p + 2)
            count = self.u32(p + 4)
            size = TYPE_SIZES.get(typ, 0) * count
            value_at = p + 8 if size <= 4 else self.base + self.u32(p + 8)
            entries.append(Entry(tag, typ, count, p, value_at, size))
        return Ifd(at, tuple(entries), at + 2 + 12 * n)

    def value(self, entry: Entry, limit: int) -> bytes:
        if entry.size > limit:
            raise LimitExceeded(f"tag {entry.tag} holds {entry.size} bytes (limit {limit})")
        self._need(entry.value_at, entry.size, f"the value of tag {entry.tag}")
        return bytes(self.buf[entry.value_at : entry.value_at + entry.size])

    def find(self, ifd: Ifd, tag: int) -> Entry | None:
        for entry in ifd.entries:
            if entry.tag == tag:
                return entry
        return None

    def exif_ifd(self, ifd0: Ifd) -> Ifd | None:
        ptr = self.find(ifd0, TAG_EXIF_IFD)
        if ptr is None or ptr.type not in (TYPE_LONG, 13) or ptr.count < 1:
            return None
        return self.ifd(self.u32(ptr.value_at))


# -- EXIF UserComment ---------------------------------------------------------------------------
_CHARSETS = {
    b"ASCII\x00\x00\x00": "ascii",
    b"UNICODE\x00": "unicode",
    b"JIS\x00\x00\x00\x00\x00": "jis",
    b"\x00" * 8: "undefined",
}


def decode_user_comment(raw: bytes, byte_order: str) -> str:
    """Text of an EXIF UserComment value, whatever charset prefix it has."""
    prefix, body = raw[:8], raw[8:]
    kind = _CHARSETS.get(prefix)
    if kind is None:
        text = decode_text(raw)
    elif kind == "unicode":
        first = "utf-16-le" if byte_order == "<" else "utf-16-be"
        second = "utf-16-be" if first == "utf-16-le" else "utf-16-le"
        text = ""
        for codec in (first, second):
            try:
                cand = body[: len(body) // 2 * 2].decode(codec)
            except UnicodeDecodeError:
                continue
            if cand.isprintable() or "{" in cand:
                text = cand
                break
    elif kind == "jis":
        text = body.decode("shift_jis", "replace")
    else:
        text = decode_text(body)
    return text.rstrip("\x00 ").strip()


@dataclass(frozen=True)
class CommentLabel:
    site: str
    text: str
    value_at: int  # absolute offset of the value bytes (to blank them)
    size: int
    nonstandard: bool = False  # ImageDescription: a product form, not a guide's site


def user_comment_labels(view: TiffView, site: str) -> tuple[list[CommentLabel], list[Finding], bool]:
    """Labels in UserComment of IFD0 and of the Exif sub-IFD."""
    out: list[CommentLabel] = []
    findings: list[Finding] = []
    try:
        ifd0 = view.ifd(view.ifd0)
        places = [("IFD0", ifd0)]
        exif = view.exif_ifd(ifd0)
        if exif is not None:
            places.append(("ExifIFD", exif))
    except (CorruptFile, LimitExceeded) as exc:
        return out, [error("exif_corrupt", f"EXIF structure: {exc.message}", site)], False
    wanted = [(name, ifd, TAG_USER_COMMENT, "UserComment") for name, ifd in places]
    wanted.insert(1, ("IFD0", places[0][1], TAG_IMAGE_DESCRIPTION, "ImageDescription"))
    for name, ifd, tag, what in wanted:
        entry = view.find(ifd, tag)
        if entry is None:
            continue
        try:
            raw = view.value(entry, view.limits.max_text_chunk)
        except (CorruptFile, LimitExceeded) as exc:
            findings.append(error("exif_corrupt", f"{what}: {exc.message}", site))
            continue
        if tag == TAG_USER_COMMENT:
            text = decode_user_comment(raw, view.e)
            if looks_like_label(text):
                out.append(CommentLabel(f"{site}:{name}:{what}", text, entry.value_at, entry.size))
        elif is_label_payload(text := decode_text(raw.rstrip(b"\x00"))):
            out.append(CommentLabel(f"{site}:{name}:{what}", text, entry.value_at, entry.size, nonstandard=True))
    return out, findings, True


def add_comments(
    res: ReadResult, comments: list[CommentLabel], findings: list[Finding], standard: str, complete: bool = True
) -> None:
    """Add the labels found by :func:`user_comment_labels` to ``res``."""
    for c in comments:
        if c.nonstandard:
            res.nonstandard(c.site, c.text, standard)
        else:
            res.labels.append(RawLabel(c.site, c.text))
    res.add([], findings, complete)


def blank_comment(c: CommentLabel, buf: Buffer) -> bytes:
    """Replacement bytes for a UserComment that held a label: prefix kept, text zeroed."""
    prefix = bytes(buf[c.value_at : c.value_at + 8])
    if c.size >= 8 and prefix in _CHARSETS:
        return prefix + b"\x00" * (c.size - 8)
    return b"\x00" * c.size


def read_exif(buf: Buffer, base: int, end: int, site: str, res: ReadResult, limits: Limits, standard: str = "XMP") -> None:
    """Add the labels of an EXIF block embedded in another container to ``res`` (``standard``:
    the container's own label site, named in the finding for a non-standard one)."""
    try:
        view = TiffView(buf, base, end, limits)
    except (CorruptFile, LimitExceeded, UnsupportedFormat) as exc:
        res.findings.append(error("exif_corrupt", f"EXIF header: {exc.message}", site))
        return
    comments, findings, _ = user_comment_labels(view, site)
    add_comments(res, comments, findings, standard)


def blank_edits(view: TiffView) -> list[Edit]:
    """Edits blanking every UserComment that holds a label (the label moves to XMP)."""
    return [(c.value_at, c.value_at + c.size, blank_comment(c, view.buf)) for c in user_comment_labels(view, "")[0]]


def blank_exif(buf: Buffer, base: int, end: int, limits: Limits) -> list[Edit]:
    """:func:`blank_edits` for an embedded EXIF block; an unreadable block cannot hold a label
    aimark could read, so it is left as it is."""
    try:
        return blank_edits(TiffView(buf, base, end, limits))
    except (CorruptFile, LimitExceeded, UnsupportedFormat):
        return []


# -- the TIFF carrier ---------------------------------------------------------------------------
def sniff(head: bytes) -> int:
    return 90 if head[:4] in (b"II*\x00", b"MM\x00*") else 0


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    res = ReadResult()
    view = TiffView(buf, 0, None, limits)
    try:
        ifd0 = view.ifd(view.ifd0)
    except (CorruptFile, LimitExceeded) as exc:
        res.findings.append(error("corrupt_container", f"IFD0: {exc.message}", "tiff"))
        res.complete = False
        return res
    entry = view.find(ifd0, TAG_XMP)
    if entry is not None:
        try:
            packet = view.value(entry, limits.max_xmp_packet)
            res.add(*xmp.read_aigc(packet, "tiff:IFD0:XMP", limits))
        except (CorruptFile, LimitExceeded) as exc:
            res.findings.append(error(exc.code, f"XMP tag: {exc.message}", "tiff:IFD0:XMP"))
            res.complete = False
    comments, findings, complete = user_comment_labels(view, "tiff")
    add_comments(res, comments, findings, STANDARD_SITE, complete)
    return res


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    view = TiffView(buf, 0, None, limits)
    ifd0 = view.ifd(view.ifd0)
    entry = view.find(ifd0, TAG_XMP)
    old = view.value(entry, limits.max_xmp_packet) if entry is not None else None
    packet = xmp.set_aigc(old, label.to_inner_json(), limits)
    edits = blank_edits(view)

    end = len(buf)
    tail = b""
    pad = b"\x00" if end % 2 else b""
    if entry is not None and old is not None and entry.size >= 4 and len(packet) <= entry.size:
        # fits: rewrite in place, count patched, the rest of the old bytes zeroed
        edits.append((entry.value_at, entry.value_at + entry.size, packet + b"\x00" * (entry.size - len(packet))))
        edits.append((entry.entry_at + 4, entry.entry_at + 8, view.pack32(len(packet))))
    elif entry is not None:
        data_at = end + len(pad)
        tail = pad + packet
        if not entry.inline:
            edits.append((entry.value_at, entry.value_at + entry.size, b"\x00" * entry.size))
        edits.append(
            (entry.entry_at + 2, entry.entry_at + 12, view.pack16(TYPE_BYTE) + view.pack32(len(packet)) + view.pack32(data_at))
        )
    else:
        n = len(ifd0.entries) + 1
        ifd_at = end + len(pad)
        data_at = ifd_at + 2 + 12 * n + 4
        raw_entries = [bytes(buf[e.entry_at : e.entry_at + 12]) for e in ifd0.entries]
        new_entry = view.pack16(TAG_XMP) + view.pack16(TYPE_BYTE) + view.pack32(len(packet)) + view.pack32(data_at)
        tags = [e.tag for e in ifd0.entries]
        pos = next((i for i, t in enumerate(tags) if t > TAG_XMP), len(tags))
        raw_entries.insert(pos, new_entry)
        next_ptr = bytes(buf[ifd0.next_at : ifd0.next_at + 4])
        tail = pad + view.pack16(n) + b"".join(raw_entries) + next_ptr + packet
        edits.append((4, 8, view.pack32(ifd_at)))
    if end + len(tail) >= 1 << 32:
        raise LimitExceeded("the labeled TIFF would exceed 4 GiB (classic TIFF offsets are 32-bit)")
    pieces = splice(buf, edits)
    if tail:
        pieces.append(tail)
    return pieces


CARRIER = register(
    Carrier(
        name="tiff",
        mime="image/tiff",
        extensions=(".tif", ".tiff"),
        sniff=sniff,
        read=read,
        write=write,
    )
)
