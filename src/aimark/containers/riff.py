"""RIFF containers. WebP: the label in the ``XMP `` chunk; EXIF UserComment read. WAV: below.

Writing a WebP: the XMP chunk is rewritten where it stands or added after the image data (and
EXIF) as the container spec orders it; the VP8X XMP flag is set. A simple file (a lone
``VP8 `` or ``VP8L`` chunk) becomes an extended one: a VP8X chunk is added with the canvas size
read from the bitstream header and, for VP8L, the alpha flag from its header. The RIFF size is
fixed and odd chunks are padded. Image data is copied byte for byte.

The chunk walker is shared with the RIFF audio/video carriers (WAV, AVI) that plug in later.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import error
from . import xmp
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, decode_text, register, splice, u32le
from .tiff import blank_exif, read_exif

XMP_FLAG, EXIF_FLAG, ALPHA_FLAG = 0x04, 0x08, 0x10
_IMAGE_ORDER = (b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L", b"EXIF")


@dataclass(frozen=True)
class Chunk:
    fourcc: bytes
    start: int  # offset of the fourcc
    data: int
    size: int  # declared data size (without padding)
    end: int  # offset after data and padding


@dataclass(frozen=True)
class Riff:
    form: bytes
    size: int  # declared RIFF size
    end: int  # 8 + size, clipped to the file
    chunks: tuple[Chunk, ...]
    complete: bool
    problem: str


def chunks(buf: Buffer, start: int, end: int, limits: Limits) -> tuple[list[Chunk], int, str]:
    """The chunks laid end to end in ``buf[start:end]`` (the RIFF body or a LIST's), with the
    offset where the walk stopped and what stopped it ("" when it reached the end)."""
    out: list[Chunk] = []
    pos = start
    while pos + 8 <= end:
        if len(out) >= limits.max_segments:
            return out, pos, f"more than {limits.max_segments} chunks"
        fourcc = bytes(buf[pos : pos + 4])
        csize = u32le(buf, pos + 4)
        if pos + 8 + csize > end:
            return out, pos, f"chunk {fourcc!r} at offset {pos} declares {csize} bytes past the end"
        cend = min(pos + 8 + csize + (csize & 1), end)
        out.append(Chunk(fourcc, pos, pos + 8, csize, cend))
        pos = cend
    return out, pos, ""


def walk(buf: Buffer, limits: Limits) -> Riff:
    if len(buf) < 12 or bytes(buf[:4]) != b"RIFF":
        raise CorruptFile("not a RIFF file")
    size = u32le(buf, 4)
    form = bytes(buf[8:12])
    end = 8 + size
    complete, problem = True, ""
    if end > len(buf):
        complete, problem = False, f"RIFF declares {size} bytes, file has {len(buf) - 8}"
        end = len(buf)
    found, pos, stopped = chunks(buf, 12, end, limits)
    if stopped:
        return Riff(form, size, end, tuple(found), False, stopped)
    if complete and pos != end:
        complete, problem = False, f"{end - pos} stray bytes at the end of the RIFF data"
    return Riff(form, size, end, tuple(found), complete, problem)


def resized(buf: Buffer, riff: Riff, edits: list[Edit], what: str) -> list[Piece]:
    """``edits`` applied, and the RIFF size fixed for what they add or remove."""
    delta = sum(len(data) - (end - start) for start, end, data in edits)
    new_size = riff.end - 8 + delta
    if new_size >= 1 << 32:
        raise LimitExceeded(f"the labeled {what} would exceed 4 GiB")
    return splice(buf, [*edits, (4, 8, struct.pack("<I", new_size))])


def make_chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\x00" if len(data) & 1 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def _exif_base(buf: Buffer, chunk: Chunk) -> int:
    """Where the TIFF header of an EXIF chunk starts (some writers keep the JPEG ``Exif\\0\\0``)."""
    return chunk.data + 6 if bytes(buf[chunk.data : chunk.data + 6]) == b"Exif\x00\x00" else chunk.data


# -- WebP --------------------------------------------------------------------------------------
def sniff_webp(head: bytes) -> int:
    return 100 if head[:4] == b"RIFF" and head[8:12] == b"WEBP" else 0


def read_webp(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    riff = walk(buf, limits)
    res = ReadResult.after_walk(riff.complete, riff.problem, "WebP", "webp")
    for i, chunk in enumerate(riff.chunks):
        site = f"webp:{chunk.fourcc.decode('latin-1').strip()}[{i}]"
        if chunk.fourcc == b"XMP ":
            if chunk.size > limits.max_xmp_packet:
                res.findings.append(error("limit_exceeded", f"XMP chunk of {chunk.size} bytes", site))
                res.complete = False
                continue
            res.add(*xmp.read_aigc(bytes(buf[chunk.data : chunk.data + chunk.size]), site, limits))
        elif chunk.fourcc == b"EXIF":
            read_exif(buf, _exif_base(buf, chunk), chunk.data + chunk.size, site, res, limits)
    return res


def _canvas(buf: Buffer, chunk: Chunk) -> tuple[int, int, bool]:
    """Canvas width, height and alpha from a simple file's VP8 / VP8L bitstream header."""
    d = chunk.data
    if chunk.fourcc == b"VP8 ":
        if chunk.size < 10 or bytes(buf[d + 3 : d + 6]) != b"\x9d\x01\x2a":
            raise CorruptFile("VP8 bitstream header not found")
        w, h = struct.unpack_from("<HH", buf, d + 6)
        return w & 0x3FFF, h & 0x3FFF, False
    if chunk.size < 5 or buf[d] != 0x2F:
        raise CorruptFile("VP8L signature not found")
    bits = u32le(buf, d + 1)
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


def write_webp(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    riff = walk(buf, limits)
    if not riff.complete:
        raise CorruptFile(f"cannot label a broken WebP: {riff.problem}")
    if not riff.chunks:
        raise CorruptFile("WebP without chunks")

    def sites() -> Iterator[xmp.PacketSite | list[Edit]]:
        for chunk in riff.chunks:
            if chunk.fourcc == b"XMP ":
                if chunk.size > limits.max_xmp_packet:
                    raise LimitExceeded(f"XMP chunk of {chunk.size} bytes")
                yield xmp.PacketSite(chunk.start, chunk.end, bytes(buf[chunk.data : chunk.data + chunk.size]))
            elif chunk.fourcc == b"EXIF":
                yield blank_exif(buf, _exif_base(buf, chunk), chunk.data + chunk.size, limits)

    def after_image() -> int:
        return max((c.end for c in riff.chunks if c.fourcc in _IMAGE_ORDER), default=riff.end)

    edits = xmp.site_edits(sites(), label.to_inner_json(), limits, wrap=lambda p: make_chunk(b"XMP ", p), insert_at=after_image)
    first = riff.chunks[0]
    if first.fourcc == b"VP8X":
        if first.size < 10:
            raise CorruptFile("VP8X chunk too short")
        flags = buf[first.data] | XMP_FLAG
        edits.append((first.data, first.data + 1, bytes([flags])))
    elif first.fourcc in (b"VP8 ", b"VP8L"):
        w, h, alpha = _canvas(buf, first)
        flags = XMP_FLAG | (ALPHA_FLAG if alpha else 0)
        vp8x = bytes([flags, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        edits.append((first.start, first.start, make_chunk(b"VP8X", vp8x)))
    else:
        raise CorruptFile(f"WebP starts with an unexpected chunk {first.fourcc!r}")
    return resized(buf, riff, edits, "WebP")


WEBP = register(
    Carrier(
        name="webp",
        mime="image/webp",
        extensions=(".webp",),
        sniff=sniff_webp,
        read=read_webp,
        write=write_webp,
    )
)


# -- WAV ---------------------------------------------------------------------------------------
# The audio guide's site is a bare RIFF chunk ``AIGC`` holding the inner JSON. Readers also
# accept a ``LIST``/``INFO`` child named ``AIGC`` and a ``TXXX:AIGC`` frame in an ``id3 ``
# chunk (both written by other tools). The INFO child is a known mirror (gtkit/aigc writes the
# chunk and an identical INFO copy): beside an identical chunk it is the same label.
# Writing removes every label site and puts one ``AIGC`` chunk just before the ``data`` chunk,
# where readers that scan a file's head or stream it find it. With ``mirror_info`` the same JSON
# is also written as a LIST/INFO child (ffprobe and exiftool read only that site) -- an opt-in
# mirror, which aimark's own verify then reports as ``label_mirrored``.
WAV_LABEL = b"AIGC"
_ID3_CHUNKS = (b"id3 ", b"ID3 ")


def sniff_wav(head: bytes) -> int:
    return 100 if head[:4] == b"RIFF" and head[8:12] == b"WAVE" else 0


def _info_children(buf: Buffer, chunk: Chunk, limits: Limits) -> list[Chunk]:
    """The sub-chunks of a ``LIST`` chunk of type ``INFO`` (empty for other lists)."""
    if chunk.size < 4 or bytes(buf[chunk.data : chunk.data + 4]) != b"INFO":
        return []
    found, _, stopped = chunks(buf, chunk.data + 4, chunk.data + chunk.size, limits)
    if stopped:
        raise CorruptFile(f"LIST/INFO at offset {chunk.start}: {stopped}")
    return found


def _chunk_text(buf: Buffer, chunk: Chunk, limits: Limits, site: str, res: ReadResult, *, mirror: bool = False) -> None:
    if chunk.size > limits.max_text_chunk:
        res.findings.append(error("limit_exceeded", f"label chunk of {chunk.size} bytes", site))
        res.complete = False
        return
    text = bytes(buf[chunk.data : chunk.data + chunk.size]).rstrip(b"\x00")
    res.labels.append(RawLabel(site, decode_text(text), mirror))


def read_wav(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    from . import id3

    riff = walk(buf, limits)
    res = ReadResult.after_walk(riff.complete, riff.problem, "WAV", "wav", fmt="wav")
    for i, chunk in enumerate(riff.chunks):
        name = chunk.fourcc.decode("latin-1").strip()
        site = f"wav:{name}[{i}]"
        if WAV_LABEL in chunk.fourcc.upper():
            _chunk_text(buf, chunk, limits, site, res)
        elif chunk.fourcc == b"LIST":
            try:
                children = _info_children(buf, chunk, limits)
            except CorruptFile as exc:
                res.findings.append(error(exc.code, exc.message, site))
                res.complete = False
                continue
            for child in children:
                if WAV_LABEL in child.fourcc.upper():
                    _chunk_text(buf, child, limits, f"{site}:INFO:{child.fourcc.decode('latin-1')}", res, mirror=True)
        elif chunk.fourcc in _ID3_CHUNKS:
            id3.read_tag(buf, chunk.data, chunk.data + chunk.size, site, res, limits)
    return res


def write_wav(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS, *, mirror_info: bool = False) -> list[Piece]:
    from . import id3

    riff = walk(buf, limits)
    if not riff.complete:
        raise CorruptFile(f"cannot label a broken WAV: {riff.problem}")
    data = next((c for c in riff.chunks if c.fourcc == b"data"), None)
    if data is None:
        raise CorruptFile("WAV without a data chunk")
    text = label.to_inner_json().encode("ascii")
    mirror = make_chunk(WAV_LABEL, text + b"\x00")  # INFO strings are NUL-terminated
    edits: list[Edit] = []
    mirrored = False
    for chunk in riff.chunks:
        if WAV_LABEL in chunk.fourcc.upper():
            edits.append((chunk.start, chunk.end, b""))
        elif chunk.fourcc == b"LIST" and _list_type(buf, chunk) == b"INFO":
            children = _info_children(buf, chunk, limits)
            kept = [bytes(buf[c.start : c.end]) for c in children if WAV_LABEL not in c.fourcc.upper()]
            if mirror_info and not mirrored:
                kept.append(mirror)
                mirrored = True
            elif len(kept) == len(children):
                continue
            edits.append((chunk.start, chunk.end, make_chunk(b"LIST", b"INFO" + b"".join(kept)) if kept else b""))
        elif chunk.fourcc in _ID3_CHUNKS and chunk.size:
            old = bytes(buf[chunk.data : chunk.data + chunk.size])
            if any(id3.is_label(f) for f in id3.load(old[: id3.tag_size(old)]).values()):
                edits.append((chunk.start, chunk.end, make_chunk(chunk.fourcc, id3.labeled_tag(old[: id3.tag_size(old)], None))))
    head = make_chunk(WAV_LABEL, text)
    if mirror_info and not mirrored:
        head += make_chunk(b"LIST", b"INFO" + mirror)
    edits.append((data.start, data.start, head))
    return resized(buf, riff, edits, "WAV (RF64 is not supported)")


WAV = register(
    Carrier(
        name="wav",
        mime="audio/wav",
        extensions=(".wav",),
        sniff=sniff_wav,
        read=read_wav,
        write=write_wav,
        media="audio",
    )
)


# -- AVI ---------------------------------------------------------------------------------------
# The video guide's site: a ``LIST``/``INFO`` child chunk ``AIGC`` (ffprobe shows it as the
# format tag AIGC). Writing edits the INFO list before ``movi`` (or adds one after ``hdrl``) and
# takes the size change from the ``JUNK`` padding chunk that follows it when there is room (ffmpeg
# leaves about a kilobyte there), so no offset moves. Otherwise ``movi`` moves: ``idx1`` offsets
# are fixed when they are absolute (relative ones need nothing), and files with OpenDML indexes
# (``indx`` super indexes, ``AVIX`` extensions: absolute 64-bit offsets) are refused rather than
# risked. Only the first RIFF chunk changes; AVIX chunks after it are copied.
_JUNK = (b"JUNK", b"junk", b"PAD ")


def sniff_avi(head: bytes) -> int:
    return 100 if head[:4] == b"RIFF" and head[8:12] == b"AVI " else 0


def _list_type(buf: Buffer, chunk: Chunk) -> bytes:
    return bytes(buf[chunk.data : chunk.data + 4]) if chunk.fourcc == b"LIST" and chunk.size >= 4 else b""


def read_avi(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    riff = walk(buf, limits)
    res = ReadResult.after_walk(riff.complete, riff.problem, "AVI", "avi", fmt="avi")
    for i, chunk in enumerate(riff.chunks):
        if _list_type(buf, chunk) == b"INFO":
            try:
                children = _info_children(buf, chunk, limits)
            except CorruptFile as exc:
                res.findings.append(error(exc.code, exc.message, f"avi:LIST[{i}]"))
                res.complete = False
                continue
            for child in children:
                if WAV_LABEL in child.fourcc.upper():
                    _chunk_text(buf, child, limits, f"avi:LIST[{i}]:INFO:{child.fourcc.decode('latin-1')}", res)
        elif WAV_LABEL in chunk.fourcc.upper():
            _chunk_text(buf, chunk, limits, f"avi:{chunk.fourcc.decode('latin-1')}[{i}]", res)
    return res


def _has_opendml_index(buf: Buffer, riff: Riff, limits: Limits) -> bool:
    """Whether the file carries OpenDML super indexes with entries, or AVIX extensions."""
    if riff.end < len(buf) and bytes(buf[riff.end : riff.end + 4]) == b"RIFF":
        return True
    for chunk in riff.chunks:
        if _list_type(buf, chunk) != b"hdrl":
            continue
        stack = [chunk]
        while stack:
            lst = stack.pop()
            found, _, _ = chunks(buf, lst.data + 4, lst.data + lst.size, limits)
            for c in found:
                if c.fourcc == b"LIST":
                    stack.append(c)
                elif c.fourcc == b"indx" and c.size >= 8 and u32le(buf, c.data + 4) > 0:  # nEntriesInUse
                    return True
    return False


def write_avi(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    riff = walk(buf, limits)
    if not riff.complete:
        raise CorruptFile(f"cannot label a broken AVI: {riff.problem}")
    movi_i = next((i for i, c in enumerate(riff.chunks) if _list_type(buf, c) == b"movi"), None)
    if movi_i is None:
        raise CorruptFile("AVI without a movi list")
    head = riff.chunks[:movi_i]
    text = label.to_inner_json().encode("ascii") + b"\x00"
    edits: list[Edit] = []
    info_i = next((i for i, c in enumerate(head) if _list_type(buf, c) == b"INFO"), None)
    for i, c in enumerate(riff.chunks):  # labels in other INFO lists or bare chunks go
        if i == info_i:
            continue
        if _list_type(buf, c) == b"INFO":
            kids = _info_children(buf, c, limits)
            drop = [k for k in kids if WAV_LABEL in k.fourcc.upper()]
            if drop:
                kept = b"".join(bytes(buf[k.start : k.end]) for k in kids if k not in drop)
                edits.append((c.start, c.end, make_chunk(b"LIST", b"INFO" + kept)))
        elif WAV_LABEL in c.fourcc.upper():
            edits.append((c.start, c.end, make_chunk(b"JUNK", b"\x00" * c.size)))  # same size: nothing moves
    if info_i is not None:
        info = head[info_i]
        kept = b"".join(
            bytes(buf[k.start : k.end]) for k in _info_children(buf, info, limits) if WAV_LABEL not in k.fourcc.upper()
        )
        at, old_end = info.start, info.end
    else:
        hdrl = next((c for c in head if _list_type(buf, c) == b"hdrl"), None)
        kept = b""
        at = old_end = hdrl.end if hdrl is not None else riff.chunks[movi_i].start
    new = make_chunk(b"LIST", b"INFO" + kept + make_chunk(WAV_LABEL, text))
    delta = len(new) - (old_end - at)
    nxt = next((c for c in riff.chunks if c.start == old_end), None)
    if delta and nxt is not None and nxt.fourcc in _JUNK and nxt.end - nxt.start - delta >= 8:
        junk = nxt.end - nxt.start - delta - 8
        edits.append((at, nxt.end, new + make_chunk(nxt.fourcc, b"\x00" * junk)))  # the padding absorbs it
    elif delta <= -8:
        edits.append((at, old_end, new + make_chunk(b"JUNK", b"\x00" * (-delta - 8))))
    else:
        edits.append((at, old_end, new))
        if delta:
            if _has_opendml_index(buf, riff, limits):
                raise UnsupportedFormat("an OpenDML AVI without padding before movi: labeling would move its 64-bit indexes")
            edits += _shift_idx1(buf, riff, riff.chunks[movi_i], delta)
    return resized(buf, riff, edits, "AVI")


def _shift_idx1(buf: Buffer, riff: Riff, movi: Chunk, delta: int) -> list[Edit]:
    """idx1 with absolute offsets moved by ``delta`` (relative ones, from 'movi', need nothing)."""
    idx = next((c for c in riff.chunks if c.fourcc == b"idx1" and c.start > movi.start), None)
    if idx is None or idx.size < 16:
        return []
    first = u32le(buf, idx.data + 8)
    if first < movi.data:  # offsets relative to the 'movi' fourcc
        return []
    n = idx.size // 16
    table = bytearray(buf[idx.data : idx.data + n * 16])
    for k in range(n):
        off = struct.unpack_from("<I", table, k * 16 + 8)[0] + delta
        if not 0 <= off < 1 << 32:
            raise LimitExceeded("an idx1 offset no longer fits 32 bits")
        struct.pack_into("<I", table, k * 16 + 8, off)
    return [(idx.data, idx.data + n * 16, bytes(table))]


AVI = register(
    Carrier(
        name="avi",
        mime="video/x-msvideo",
        extensions=(".avi",),
        sniff=sniff_avi,
        read=read_avi,
        write=write_avi,
        media="video",
    )
)
