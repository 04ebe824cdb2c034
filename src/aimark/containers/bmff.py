"""ISO base media files (MP4, M4A, MOV): the label as the ``mdta`` key ``AIGC``.

Placement (SPEC section 3): ``moov/udta/meta`` -- a FullBox holding ``hdlr`` (handler
``mdta``), ``keys`` (the key names) and ``ilst`` (one item per key, numbered from 1, each with
a ``data`` box of type 1, UTF-8). This is what ffmpeg writes with ``-movflags
use_metadata_tags``. Readers also accept an ``mdta`` meta directly in ``moov`` (QuickTime's
usual place), an iTunes freeform item ``----:<mean>:AIGC`` in an ``mdir`` ilst, and an XMP
``uuid`` box (read only: a label found there as well is reported as a duplicate).

Writing rebuilds only ``moov``: an existing ``mdta`` meta in udta is edited (other keys kept
and renumbered), or a new one is appended to udta. When udta already holds an iTunes
(``mdir``) meta, the ``mdta`` meta goes after it: exiftool and ffprobe read both, iTunes-style
readers keep seeing their tags, but mutagen reads only the first meta box of udta and so does
not see the label there. Foreign ``AIGC`` items (iTunes freeform, an mdta meta in moov) are
removed so the file carries exactly one label. A ``free``/``skip``
box right after (or before) ``moov`` absorbs the size change when it is large enough, so nothing
moves. Otherwise, when ``moov`` precedes the media data, every ``stco``/``co64`` chunk offset is
shifted by the size change; in a fragmented file (``mvex``: ffmpeg's ``frag_keyframe+empty_moov``,
CMAF init + fragments in one file) the label goes in the init ``moov`` and every absolute offset
after it moves with it: ``tfhd`` base-data-offsets and ``tfra`` entries (``default_base_moof``
fragments and ``sidx`` references are relative and need nothing); a ``sidx`` before ``moov`` is
refused. Media data is never touched.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import error, warning
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register, splice, u32be

LABEL_KEY = b"AIGC"
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"mvex"}


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int
    data: int  # offset of the payload (after size/type/largesize/uuid)
    end: int

    @property
    def size(self) -> int:
        return self.end - self.data


def boxes(buf: Buffer, start: int, end: int, limits: Limits) -> list[Box]:
    """The boxes laid end to end in ``buf[start:end]``; raises CorruptFile on a bad size."""
    out: list[Box] = []
    pos = start
    while pos + 8 <= end:
        if len(out) >= limits.max_segments:
            raise LimitExceeded(f"more than {limits.max_segments} boxes")
        size = u32be(buf, pos)
        btype = bytes(buf[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                raise CorruptFile(f"box {btype!r} at offset {pos}: truncated 64-bit size")
            size = int(struct.unpack_from(">Q", buf, pos + 8)[0])
            header = 16
        elif size == 0:
            size = end - pos
        if btype == b"uuid":
            header += 16
        if size < header or pos + size > end:
            raise CorruptFile(f"box {btype!r} at offset {pos} declares {size} bytes past its parent")
        out.append(Box(btype, pos, pos + header, pos + size))
        pos += size
    if pos != end and end - pos >= 8:
        raise CorruptFile(f"{end - pos} stray bytes at offset {pos}")
    return out


def _child(buf: Buffer, parent: Box, btype: bytes, limits: Limits, off: int = 0) -> Box | None:
    return next((b for b in boxes(buf, parent.data + off, parent.end, limits) if b.type == btype), None)


def meta_skip(buf: Buffer, meta: Box) -> int:
    """4 for an ISO ``meta`` FullBox, 0 for QuickTime's plain ``meta`` (children start at once)."""
    return 0 if bytes(buf[meta.data + 4 : meta.data + 8]) == b"hdlr" else 4


def _handler(buf: Buffer, meta: Box, limits: Limits) -> bytes:
    hdlr = _child(buf, meta, b"hdlr", limits, meta_skip(buf, meta))
    if hdlr is None or hdlr.size < 12:
        return b""
    return bytes(buf[hdlr.data + 8 : hdlr.data + 12])


def _keys(buf: Buffer, meta: Box, limits: Limits) -> list[bytes]:
    keys = _child(buf, meta, b"keys", limits, meta_skip(buf, meta))
    if keys is None:
        return []
    if keys.size < 8:
        raise CorruptFile("keys box too short")
    n = u32be(buf, keys.data + 4)
    out: list[bytes] = []
    pos = keys.data + 8
    for _ in range(min(n, limits.max_segments)):
        if pos + 8 > keys.end:
            raise CorruptFile("keys box ends inside its entries")
        size = u32be(buf, pos)
        if size < 8 or pos + size > keys.end:
            raise CorruptFile("bad key entry size")
        out.append(bytes(buf[pos + 8 : pos + size]))  # namespace (mdta) skipped
        pos += size
    return out


def _data_values(buf: Buffer, item: Box, limits: Limits) -> list[bytes]:
    vals = []
    for d in boxes(buf, item.data, item.end, limits):
        if d.type == b"data" and d.size >= 8:
            if d.size - 8 > limits.max_text_chunk:
                raise LimitExceeded(f"metadata value of {d.size} bytes")
            vals.append(bytes(buf[d.data + 8 : d.end]))
    return vals


def _freeform_name(buf: Buffer, item: Box, limits: Limits) -> bytes:
    name = next((b for b in boxes(buf, item.data, item.end, limits) if b.type == b"name"), None)
    return bytes(buf[name.data + 4 : name.end]) if name is not None and name.size >= 4 else b""


def _read_meta(buf: Buffer, meta: Box, site: str, res: ReadResult, limits: Limits) -> None:
    handler = _handler(buf, meta, limits)
    ilst = _child(buf, meta, b"ilst", limits, meta_skip(buf, meta))
    if ilst is None:
        return
    keys = _keys(buf, meta, limits) if handler == b"mdta" else []
    for item in boxes(buf, ilst.data, ilst.end, limits):
        if handler == b"mdta":
            idx = u32be(buf, item.start + 4)
            name = keys[idx - 1] if 1 <= idx <= len(keys) else b""
        elif item.type == b"----":
            name = _freeform_name(buf, item, limits)
        else:
            continue
        if LABEL_KEY in name.upper():
            for value in _data_values(buf, item, limits):
                res.labels.append(RawLabel(f"{site}:{name.decode('latin-1')}", value.decode("utf-8", "replace")))


def _read_moov(buf: Buffer, moov: Box, res: ReadResult, limits: Limits) -> None:
    for child in boxes(buf, moov.data, moov.end, limits):
        if child.type == b"meta":
            _read_meta(buf, child, "mp4:moov/meta", res, limits)
        elif child.type == b"udta":
            for sub in boxes(buf, child.data, child.end, limits):
                if sub.type == b"meta":
                    _read_meta(buf, sub, "mp4:moov/udta/meta", res, limits)
    if _has_video(buf, moov, limits):
        res.format = "mp4"


def _has_video(buf: Buffer, moov: Box, limits: Limits) -> bool:
    """Whether a track of ``moov`` has the ``vide`` handler."""
    return any(c.type == b"trak" and b"vide" in _track_handlers(buf, c, limits) for c in boxes(buf, moov.data, moov.end, limits))


def media_of(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> str:
    """``video`` when a track has the ``vide`` handler, else ``audio`` (the moov is walked,
    nothing is decoded)."""
    for box in top_level(buf, limits):
        if box.type == b"moov":
            if box.end - box.start > limits.max_comment_block:
                raise LimitExceeded(f"moov box of {box.end - box.start} bytes")
            if _has_video(buf, box, limits):
                return "video"
    return "audio"


def _track_handlers(buf: Buffer, trak: Box, limits: Limits) -> set[bytes]:
    mdia = _child(buf, trak, b"mdia", limits)
    if mdia is None:
        return set()
    hdlr = _child(buf, mdia, b"hdlr", limits)
    return {bytes(buf[hdlr.data + 8 : hdlr.data + 12])} if hdlr is not None and hdlr.size >= 12 else set()


def top_level(buf: Buffer, limits: Limits) -> list[Box]:
    top = boxes(buf, 0, len(buf), limits)
    if not top or top[0].type not in (b"ftyp", b"free", b"skip", b"wide", b"moov", b"mdat"):
        raise CorruptFile("not an ISO base media file")
    return top


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    res = ReadResult(format="m4a")
    try:
        top = top_level(buf, limits)
    except (CorruptFile, LimitExceeded) as exc:
        res.findings.append(error(exc.code, exc.message, "mp4"))
        res.complete = False
        return res
    for box in top:
        try:
            if box.type == b"moov":
                if box.end - box.start > limits.max_comment_block:
                    raise LimitExceeded(f"moov box of {box.end - box.start} bytes")
                _read_moov(buf, box, res, limits)
            elif box.type == b"uuid" and bytes(buf[box.start + 8 : box.start + 24]) == XMP_UUID:
                if box.size > limits.max_xmp_packet:
                    raise LimitExceeded(f"XMP box of {box.size} bytes")
                res.add(*xmp.read_aigc(bytes(buf[box.data : box.end]), "mp4:uuid/XMP", limits))
        except (CorruptFile, LimitExceeded) as exc:
            res.findings.append(error(exc.code, exc.message, f"mp4:{box.type.decode('latin-1')}"))
            res.complete = False
    if not any(b.type == b"moov" for b in top):
        res.findings.append(error("corrupt_container", "no moov box", "mp4"))
        res.complete = False
    return res


# -- writing -----------------------------------------------------------------------------------
def make_box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def _full(btype: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return make_box(btype, struct.pack(">I", (version << 24) | flags) + payload)


def mdta_meta(items: list[tuple[bytes, bytes]]) -> bytes:
    """A ``meta`` box (hdlr mdta, keys, ilst) holding ``items``: (key, raw ``data`` box payload)."""
    hdlr = _full(b"hdlr", b"\x00\x00\x00\x00mdta" + b"\x00" * 12 + b"\x00")
    keys = _full(b"keys", struct.pack(">I", len(items)) + b"".join(make_box(b"mdta", k) for k, _ in items))
    ilst = make_box(b"ilst", b"".join(make_box(struct.pack(">I", i + 1), v) for i, (_, v) in enumerate(items)))
    return _full(b"meta", hdlr + keys + ilst)


def _utf8_item(text: str) -> bytes:
    return make_box(b"data", struct.pack(">II", 1, 0) + text.encode("utf-8"))


def _mdta_items(buf: Buffer, meta: Box, limits: Limits) -> list[tuple[bytes, bytes]]:
    """The (key, item payload) pairs of an existing mdta meta, in order."""
    keys = _keys(buf, meta, limits)
    ilst = _child(buf, meta, b"ilst", limits, meta_skip(buf, meta))
    items: list[tuple[bytes, bytes]] = []
    for item in boxes(buf, ilst.data, ilst.end, limits) if ilst is not None else []:
        idx = u32be(buf, item.start + 4)
        if 1 <= idx <= len(keys):
            items.append((keys[idx - 1], bytes(buf[item.data : item.end])))
    return items


def _without_freeform_label(buf: Buffer, meta: Box, limits: Limits) -> bytes | None:
    """An iTunes meta box without its ``----:...:AIGC`` items (None when it has none)."""
    ilst = _child(buf, meta, b"ilst", limits, meta_skip(buf, meta))
    if ilst is None:
        return None
    items = boxes(buf, ilst.data, ilst.end, limits)
    drop = [i for i in items if i.type == b"----" and LABEL_KEY in _freeform_name(buf, i, limits).upper()]
    if not drop:
        return None
    new_ilst = make_box(b"ilst", b"".join(bytes(buf[i.start : i.end]) for i in items if i not in drop))
    return _rebuild(buf, meta, {ilst: new_ilst}, meta_skip(buf, meta))


def _rebuild(buf: Buffer, parent: Box, replace: dict[Box, bytes], skip: int = 0, append: bytes = b"") -> bytes:
    """``parent`` with some children replaced (b"" deletes) and ``append`` added at its end."""
    body = bytearray(buf[parent.data : parent.data + skip])
    pos = parent.data + skip
    for child, new in sorted(replace.items(), key=lambda kv: kv[0].start):
        body += buf[pos : child.start]
        body += new
        pos = child.end
    body += buf[pos : parent.end]
    body += append
    return make_box(parent.type, bytes(body))


def _new_moov(buf: Buffer, moov: Box, label: AIGCLabel, limits: Limits) -> bytes:
    value = _utf8_item(label.to_inner_json())
    children = boxes(buf, moov.data, moov.end, limits)
    replace: dict[Box, bytes] = {}
    placed = False
    udta = next((c for c in children if c.type == b"udta"), None)
    if udta is not None:
        udta_new: dict[Box, bytes] = {}
        for sub in boxes(buf, udta.data, udta.end, limits):
            if sub.type != b"meta":
                continue
            if _handler(buf, sub, limits) == b"mdta" and not placed:
                items = [(k, v) for k, v in _mdta_items(buf, sub, limits) if LABEL_KEY not in k.upper()]
                udta_new[sub] = mdta_meta([*items, (LABEL_KEY, value)])
                placed = True
            else:
                stripped = _without_freeform_label(buf, sub, limits)
                if stripped is not None:
                    udta_new[sub] = stripped
        append = b"" if placed else mdta_meta([(LABEL_KEY, value)])
        replace[udta] = _rebuild(buf, udta, udta_new, append=append)
        placed = True
    for meta in (c for c in children if c.type == b"meta" and _handler(buf, c, limits) == b"mdta"):
        items = _mdta_items(buf, meta, limits)
        kept = [(k, v) for k, v in items if LABEL_KEY not in k.upper()]
        if len(kept) != len(items):
            replace[meta] = mdta_meta(kept) if kept else b""
    append = b"" if placed else make_box(b"udta", mdta_meta([(LABEL_KEY, value)]))
    return _rebuild(buf, moov, replace, append=append)


def _shift_offsets(moov: bytearray, moov_start: int, delta: int, limits: Limits) -> None:
    """Add ``delta`` to every stco/co64 entry that points past ``moov_start``, in place."""

    def visit(start: int, end: int) -> None:
        for box in boxes(moov, start, end, limits):
            if box.type in _CONTAINERS - {b"udta"}:
                visit(box.data, box.end)
            elif box.type in (b"stco", b"co64"):
                n = u32be(moov, box.data + 4)
                wide = box.type == b"co64"
                step = 8 if wide else 4
                if box.data + 8 + n * step > box.end:
                    raise CorruptFile(f"{box.type.decode()} declares {n} entries past its box")
                fmt = ">Q" if wide else ">I"
                for i in range(n):
                    off = box.data + 8 + i * step
                    v = struct.unpack_from(fmt, moov, off)[0]
                    if v > moov_start:
                        v += delta
                        if not wide and v >= 1 << 32:
                            raise LimitExceeded("a chunk offset no longer fits stco (32-bit)")
                        struct.pack_into(fmt, moov, off, v)

    hdr = 16 if u32be(moov, 0) == 1 else 8
    visit(hdr, len(moov))


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    top = top_level(buf, limits)
    moovs = [b for b in top if b.type == b"moov"]
    if len(moovs) != 1:
        raise CorruptFile(f"{len(moovs)} moov boxes (exactly one expected)")
    moov = moovs[0]
    if moov.end - moov.start > limits.max_comment_block:
        raise LimitExceeded(f"moov box of {moov.end - moov.start} bytes")
    new = bytearray(_new_moov(buf, moov, label, limits))
    delta = len(new) - (moov.end - moov.start)
    i = top.index(moov)
    after = top[i + 1] if i + 1 < len(top) else None
    before = top[i - 1] if i > 0 else None
    for pad, first in ((after, False), (before, True)):  # a free/skip box beside moov absorbs the change
        if delta and pad is not None and pad.type in (b"free", b"skip") and _fits(pad, delta):
            rest = _padding(pad.type, (pad.end - pad.start) - delta)
            span = (pad.start, moov.end) if first else (moov.start, pad.end)
            return splice(buf, [(span[0], span[1], rest + bytes(new) if first else bytes(new) + rest)])
    edits: list[tuple[int, int, bytes]] = []
    data_after = any(b.type in (b"mdat", b"moof") for b in top if b.start > moov.start)
    if delta and data_after:
        _shift_offsets(new, moov.start, delta, limits)
        if any(b.type == b"mvex" for b in boxes(buf, moov.data, moov.end, limits)):
            edits += _shift_fragments(buf, top, moov, delta, limits)
    edits.append((moov.start, moov.end, bytes(new)))
    return splice(buf, edits)


def _fits(pad: Box, delta: int) -> bool:
    left = (pad.end - pad.start) - delta
    return left == 0 or left >= 8


def _padding(btype: bytes, size: int) -> bytes:
    return make_box(btype, b"\x00" * (size - 8)) if size else b""


def _shift_fragments(buf: Buffer, top: list[Box], moov: Box, delta: int, limits: Limits) -> list[tuple[int, int, bytes]]:
    """Edits that keep a fragmented file's absolute offsets valid when everything after moov
    moves by ``delta``: ``tfhd`` base-data-offsets and ``tfra`` moof offsets. ``sidx`` offsets
    are relative to the sidx box itself (fine when it comes after moov, refused before it)."""
    edits: list[tuple[int, int, bytes]] = []
    for box in top:
        if box.type == b"sidx" and box.start < moov.start:
            raise UnsupportedFormat("a segment index (sidx) before moov: labeling would break its offsets")
        if box.type == b"moof" and box.start > moov.start:
            for traf in boxes(buf, box.data, box.end, limits):
                if traf.type != b"traf":
                    continue
                for tfhd in boxes(buf, traf.data, traf.end, limits):
                    if tfhd.type == b"tfhd" and tfhd.size >= 16 and u32be(buf, tfhd.data) & 0x000001:
                        off = int(struct.unpack_from(">Q", buf, tfhd.data + 8)[0])
                        if off > moov.start:
                            edits.append((tfhd.data + 8, tfhd.data + 16, struct.pack(">Q", off + delta)))
        elif box.type == b"mfra":
            for tfra in boxes(buf, box.data, box.end, limits):
                if tfra.type == b"tfra":
                    edits += _shift_tfra(buf, tfra, moov.start, delta)
    return edits


def _shift_tfra(buf: Buffer, tfra: Box, after: int, delta: int) -> list[tuple[int, int, bytes]]:
    if tfra.size < 16:
        raise CorruptFile("tfra box too short")
    version = buf[tfra.data]
    sizes = u32be(buf, tfra.data + 8)
    extra = (((sizes >> 4) & 3) + 1) + (((sizes >> 2) & 3) + 1) + ((sizes & 3) + 1)
    n = u32be(buf, tfra.data + 12)
    wide = 8 if version == 1 else 4
    entry = 2 * wide + extra
    pos = tfra.data + 16
    if pos + n * entry > tfra.end:
        raise CorruptFile("tfra entries run past the box")
    table = bytearray(buf[pos : pos + n * entry])
    fmt = ">Q" if version == 1 else ">I"
    for k in range(n):
        at = k * entry + wide  # time, then moof_offset
        off = struct.unpack_from(fmt, table, at)[0]
        if off > after:
            off += delta
            if version == 0 and off >= 1 << 32:
                raise LimitExceeded("a tfra moof offset no longer fits 32 bits")
            struct.pack_into(fmt, table, at, off)
    return [(pos, pos + n * entry, bytes(table))]


def sniff(head: bytes) -> int:
    if len(head) >= 12 and head[4:8] == b"ftyp":
        if image_brand(head) is not None:
            return 0
        brand = head[8:12]
        return 100 if brand in (b"M4A ", b"M4B ", b"M4P ") else 80
    if len(head) >= 8 and head[4:8] in (b"moov", b"wide", b"mdat") and u32be(head, 0) >= 8:
        return 40
    return 0


MP4 = register(
    Carrier(
        name="mp4",
        mime="audio/mp4",
        extensions=(".m4a", ".mp4", ".mov", ".m4v", ".m4b"),
        sniff=sniff,
        read=read,
        write=write,
        media="audio",
        media_of=media_of,
    )
)


# -- HEIF / AVIF images ------------------------------------------------------------------------
# Still images in ISO-BMFF (an item in ``meta``, no ``moov``): recognised by their brands so
# they are never taken for MP4. Their label site (an XMP item) is not read or written yet.
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}


def image_brand(head: bytes) -> str | None:
    """``avif`` or ``heif`` when the ``ftyp`` box names an image brand (major or compatible
    brand: an AVIF often has major brand ``mif1``), else None."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    size = min(u32be(head, 0), len(head))
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "avif"
    if head[8:12] in _HEIF_BRANDS or (brands & _HEIF_BRANDS and head[8:12] not in (b"isom", b"mp41", b"mp42", b"qt  ")):
        return "heif"
    return None


def _read_image(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    name = image_brand(bytes(buf[:64])) or "heif"
    msg = f"aimark does not read {name.upper()} metadata yet: a label in this file would not be seen"
    return ReadResult(findings=[warning("format_not_read", msg, name)], complete=False, format=name)


def _write_image(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    name = image_brand(bytes(buf[:64])) or "heif"
    raise UnsupportedFormat(f"writing the label into {name.upper()} images is not supported yet")


def _image_sniffer(kind: str) -> Callable[[bytes], int]:
    return lambda head: 100 if image_brand(head) == kind else 0


HEIF = register(
    Carrier(
        name="heif",
        mime="image/heif",
        extensions=(".heic", ".heif", ".hif"),
        sniff=_image_sniffer("heif"),
        read=_read_image,
        write=_write_image,
    )
)
AVIF = register(
    Carrier(
        name="avif",
        mime="image/avif",
        extensions=(".avif",),
        sniff=_image_sniffer("avif"),
        read=_read_image,
        write=_write_image,
    )
)
