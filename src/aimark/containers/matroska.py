"""Matroska and WebM: the label in ``Segment/Tags/Tag/SimpleTag`` ``TagName=AIGC``,
``TagString`` = the inner JSON, in the global Tag (no targets), as ``ffmpeg -metadata AIGC=``
writes it.

Writing rebuilds only the first ``Tags`` element before the first ``Cluster`` (or adds one
there, after ``Tracks``): AIGC SimpleTags anywhere else are overwritten in place by ``Void``
elements of the same length, so nothing else moves for them. When the new Tags element is
larger or smaller than what it replaces, the difference is taken from (or given to) a ``Void``
right after it when there is one; otherwise everything after it moves, and every position that
points past it is fixed: ``SeekHead`` positions, ``Cues`` ``CueClusterPosition`` values and the
Segment size (an unknown-size Segment stays unknown). A new Tags element gets a SeekHead entry
when the Void after the SeekHead has room for it. ``CRC-32`` elements of rewritten parents are
recomputed. Cluster data is copied byte for byte.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import error
from .base import DEFAULT_LIMITS, Buffer, Carrier, Edit, Limits, Piece, RawLabel, ReadResult, register, splice

EBML, SEGMENT, SEEKHEAD, SEEK, SEEK_ID, SEEK_POS = 0x1A45DFA3, 0x18538067, 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
INFO, TRACKS, CLUSTER, CUES, TAGS, TAG, TARGETS, SIMPLETAG = (
    0x1549A966,
    0x1654AE6B,
    0x1F43B675,
    0x1C53BB6B,
    0x1254C367,
    0x7373,
    0x63C0,
    0x67C8,
)
TAGNAME, TAGSTRING, VOID, CRC32, DOCTYPE = 0x45A3, 0x4487, 0xEC, 0xBF, 0x4282
CUEPOINT, CUETRACKPOS, CUECLUSTERPOS = 0xBB, 0xB7, 0xF1
TRACKENTRY, TRACKTYPE = 0xAE, 0x83
LABEL_KEY = "AIGC"
_UNKNOWN = -1


@dataclass(frozen=True)
class Element:
    id: int
    start: int  # offset of the ID
    data: int  # offset of the payload
    size: int  # payload size (-1: unknown)
    end: int  # offset after the payload (the parent's end for an unknown size)

    @property
    def header(self) -> int:
        return self.data - self.start


def _vint(buf: Buffer, pos: int, end: int, *, marker: bool) -> tuple[int, int]:
    if pos >= end:
        raise CorruptFile(f"EBML data ends at offset {pos}")
    first = buf[pos]
    if not first:
        raise CorruptFile(f"invalid EBML variable-size integer at offset {pos}")
    n = 8 - first.bit_length() + 1
    if pos + n > end:
        raise CorruptFile(f"EBML variable-size integer at offset {pos} runs past its parent")
    v = int.from_bytes(bytes(buf[pos : pos + n]), "big")
    if marker:
        return v, n
    v &= (1 << (7 * n)) - 1
    return (_UNKNOWN if v == (1 << (7 * n)) - 1 else v), n


def elements(buf: Buffer, start: int, end: int, limits: Limits, count: list[int]) -> Iterator[Element]:
    """The EBML elements laid end to end in ``buf[start:end]`` (an unknown size runs to ``end``)."""
    pos = start
    while pos < end:
        count[0] += 1
        if count[0] > limits.max_segments:
            raise LimitExceeded(f"more than {limits.max_segments} EBML elements")
        eid, n1 = _vint(buf, pos, end, marker=True)
        size, n2 = _vint(buf, pos + n1, end, marker=False)
        data = pos + n1 + n2
        stop = end if size == _UNKNOWN else data + size
        if stop > end:
            raise CorruptFile(f"EBML element 0x{eid:X} at offset {pos} declares {size} bytes past its parent")
        yield Element(eid, pos, data, size, stop)
        pos = stop


def _children(buf: Buffer, el: Element, limits: Limits, count: list[int]) -> list[Element]:
    return list(elements(buf, el.data, el.end, limits, count))


def _uint(buf: Buffer, el: Element) -> int:
    if el.size > 8:
        raise CorruptFile("an EBML unsigned integer longer than 8 bytes")
    return int.from_bytes(bytes(buf[el.data : el.end]), "big")


def _text(buf: Buffer, el: Element, limits: Limits) -> str:
    if el.size > limits.max_text_chunk:
        raise LimitExceeded(f"EBML string of {el.size} bytes")
    return bytes(buf[el.data : el.end]).rstrip(b"\x00").decode("utf-8", "replace")


# -- encoding ----------------------------------------------------------------------------------
def encode_id(eid: int) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big")


def encode_size(n: int, width: int = 0) -> bytes:
    w = max(width, 1)
    while n >= (1 << (7 * w)) - 1:  # all ones is "unknown"
        w += 1
    if w > 8:
        raise LimitExceeded("an EBML size over 2**56")
    return ((1 << (7 * w)) | n).to_bytes(w, "big")


def make(eid: int, payload: bytes) -> bytes:
    return encode_id(eid) + encode_size(len(payload)) + payload


def make_uint(eid: int, v: int, width: int = 1) -> bytes:
    n = max(width, (v.bit_length() + 7) // 8, 1)
    return make(eid, v.to_bytes(n, "big"))


def void(total: int) -> bytes:
    """A Void element of exactly ``total`` bytes (>= 2)."""
    if total < 2:
        raise ValueError("a Void element needs 2 bytes")
    for width in range(1, 9):
        n = total - 1 - width
        if 0 <= n < (1 << (7 * width)) - 1:
            return b"\xec" + encode_size(n, width) + b"\x00" * n
    raise ValueError("Void too large")


def _with_crc(eid: int, children: bytes, had_crc: bool) -> bytes:
    if not had_crc:
        return make(eid, children)
    return make(eid, make(CRC32, struct.pack("<I", zlib.crc32(children))) + children)


# -- the structure -----------------------------------------------------------------------------
@dataclass
class Layout:
    doctype: str
    segment: Element
    top: list[Element]  # level-1 elements (stops at an unknown-size Cluster)
    complete: bool


def layout(buf: Buffer, limits: Limits) -> Layout:
    count = [0]
    head = next(elements(buf, 0, len(buf), limits, count), None)
    if head is None or head.id != EBML:
        raise CorruptFile("not an EBML file")
    doctype = ""
    for el in _children(buf, head, limits, count):
        if el.id == DOCTYPE:
            doctype = _text(buf, el, limits)
    seg = None
    for el in elements(buf, head.end, len(buf), limits, count):
        if el.id == SEGMENT:
            seg = el
            break
    if seg is None:
        raise CorruptFile("no Matroska Segment")
    top: list[Element] = []
    complete = True
    try:
        for el in elements(buf, seg.data, seg.end, limits, count):
            top.append(el)
            if el.size == _UNKNOWN:
                complete = el.id != CLUSTER  # an unknown-size cluster cannot be skipped
                break
    except CorruptFile:
        complete = False
    return Layout(doctype, seg, top, complete)


def _simple_tags(
    buf: Buffer, tags: Element, limits: Limits, count: list[int]
) -> Iterator[tuple[Element, Element, str, str | None]]:
    """(tag, simpletag, name, string) of every SimpleTag in a Tags element."""
    for tag in _children(buf, tags, limits, count):
        if tag.id != TAG:
            continue
        for st in _children(buf, tag, limits, count):
            if st.id != SIMPLETAG:
                continue
            name, value = "", None
            for f in _children(buf, st, limits, count):
                if f.id == TAGNAME:
                    name = _text(buf, f, limits)
                elif f.id == TAGSTRING:
                    value = _text(buf, f, limits)
            yield tag, st, name, value


def _has_video(buf: Buffer, lay: Layout, limits: Limits) -> bool:
    count = [0]
    for el in lay.top:
        if el.id == TRACKS:
            for entry in _children(buf, el, limits, count):
                if entry.id == TRACKENTRY:
                    for f in _children(buf, entry, limits, count):
                        if f.id == TRACKTYPE and _uint(buf, f) == 1:
                            return True
    return False


def media_of(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> str:
    return "video" if _has_video(buf, layout(buf, limits), limits) else "audio"


def sniff(head: bytes) -> int:
    if head[:4] != b"\x1a\x45\xdf\xa3":
        return 0
    return 100 if b"\x42\x82" in head[:64] and (b"matroska" in head[:64] or b"webm" in head[:64]) else 60


def _fmt(doctype: str) -> str:
    return "webm" if doctype == "webm" else "mkv"


def read(buf: Buffer, limits: Limits = DEFAULT_LIMITS) -> ReadResult:
    try:
        lay = layout(buf, limits)
    except (CorruptFile, LimitExceeded) as exc:
        return ReadResult(findings=[error(exc.code, exc.message, "mkv")], complete=False, format="mkv")
    res = ReadResult(format=_fmt(lay.doctype), complete=lay.complete)
    if not lay.complete:
        res.findings.append(error("corrupt_container", "Matroska structure: the level-1 walk stopped early", "mkv"))
    count = [0]
    for i, el in enumerate(lay.top):
        if el.id != TAGS:
            continue
        try:
            for _, _, name, value in _simple_tags(buf, el, limits, count):
                if LABEL_KEY in name.upper() and value is not None:
                    res.labels.append(RawLabel(f"{res.format}:Tags[{i}]:SimpleTag:{name}", value))
        except (CorruptFile, LimitExceeded) as exc:
            res.findings.append(error(exc.code, exc.message, f"{res.format}:Tags[{i}]"))
            res.complete = False
    return res


# -- writing -----------------------------------------------------------------------------------
def _new_tags(buf: Buffer, old: Element | None, value: str, limits: Limits) -> bytes:
    """The Tags element: the old one's Tags without AIGC SimpleTags, the label in the global Tag."""
    count = [0]
    simple = make(SIMPLETAG, make(TAGNAME, LABEL_KEY.encode()) + make(TAGSTRING, value.encode("utf-8")))
    parts: list[bytes] = []
    placed = False
    had_crc = False
    for tag in _children(buf, old, limits, count) if old is not None else []:
        if tag.id == CRC32:
            had_crc = True
            continue
        if tag.id != TAG:
            parts.append(bytes(buf[tag.start : tag.end]))
            continue
        kids = _children(buf, tag, limits, count)
        targets = next((k for k in kids if k.id == TARGETS), None)
        is_global = targets is not None and not [c for c in _children(buf, targets, limits, count) if c.id not in (0x68CA,)]
        body: list[bytes] = []
        tag_crc = False
        for k in kids:
            if k.id == CRC32:
                tag_crc = True
                continue
            if k.id == SIMPLETAG and any(
                f.id == TAGNAME and LABEL_KEY in _text(buf, f, limits).upper() for f in _children(buf, k, limits, count)
            ):
                continue
            body.append(bytes(buf[k.start : k.end]))
        if is_global and not placed:
            body.append(simple)
            placed = True
        if any(not b.startswith(encode_id(TARGETS)) for b in body):
            parts.append(_with_crc(TAG, b"".join(body), tag_crc))
    if not placed:
        parts.insert(0, make(TAG, make(TARGETS, b"") + simple))
    return _with_crc(TAGS, b"".join(parts), had_crc)


def _seek_entries(buf: Buffer, seekhead: Element, limits: Limits) -> tuple[list[tuple[bytes, int]], bool]:
    count = [0]
    out, had_crc = [], False
    for seek in _children(buf, seekhead, limits, count):
        if seek.id == CRC32:
            had_crc = True
        if seek.id != SEEK:
            continue
        sid, pos = b"", None
        for f in _children(buf, seek, limits, count):
            if f.id == SEEK_ID:
                sid = bytes(buf[f.data : f.end])
            elif f.id == SEEK_POS:
                pos = _uint(buf, f)
        if pos is not None:
            out.append((sid, pos))
    return out, had_crc


def _seekhead_bytes(entries: list[tuple[bytes, int]], had_crc: bool) -> bytes:
    body = b"".join(make(SEEK, make(SEEK_ID, sid) + make_uint(SEEK_POS, pos, 4 if pos >= 1 << 24 else 1)) for sid, pos in entries)
    return _with_crc(SEEKHEAD, body, had_crc)


def _cues_bytes(buf: Buffer, cues: Element, shift: int, after: int, limits: Limits) -> bytes:
    """The Cues element with every CueClusterPosition past ``after`` moved by ``shift``."""
    count = [0]

    def rebuild(el: Element) -> bytes:
        if el.id == CUECLUSTERPOS:
            v = _uint(buf, el)
            return make_uint(CUECLUSTERPOS, v + shift if v >= after else v, el.size)
        if el.id in (CUES, CUEPOINT, CUETRACKPOS):
            kids = _children(buf, el, limits, count)
            had = any(k.id == CRC32 for k in kids)
            return _with_crc(el.id, b"".join(rebuild(k) for k in kids if k.id != CRC32), had)
        return bytes(buf[el.start : el.end])

    return rebuild(cues)


def write(buf: Buffer, label: AIGCLabel, limits: Limits = DEFAULT_LIMITS) -> list[Piece]:
    lay = layout(buf, limits)
    seg = lay.segment
    base = seg.data  # positions in SeekHead and Cues are relative to the Segment's data
    first_cluster = next((i for i, el in enumerate(lay.top) if el.id == CLUSTER), len(lay.top))
    if not lay.complete and first_cluster == len(lay.top):
        raise CorruptFile("cannot label a Matroska file whose structure is broken before its first Cluster")
    head = lay.top[:first_cluster]
    count = [0]
    edits: list[Edit] = []
    tags_i = next((i for i, el in enumerate(head) if el.id == TAGS), None)
    for i, el in enumerate(lay.top):  # AIGC SimpleTags in other Tags elements: Voids of the same size
        if el.id == TAGS and i != tags_i:
            for _, st, name, _ in _simple_tags(buf, el, limits, count):
                if LABEL_KEY in name.upper():
                    edits.append((st.start, st.end, void(st.end - st.start)))
    old = head[tags_i] if tags_i is not None else None
    new = _new_tags(buf, old, label.to_inner_json(), limits)
    if old is not None:
        at, old_end = old.start, old.end
    else:
        anchor = next((el for el in reversed(head) if el.id in (TRACKS, INFO)), head[-1] if head else None)
        at = old_end = anchor.end if anchor is not None else seg.data
    delta = len(new) - (old_end - at)
    nxt = next((el for el in lay.top if el.start == old_end), None)
    shift = 0
    if delta and nxt is not None and nxt.id == VOID and (nxt.end - nxt.start) - delta >= 2:
        edits.append((at, nxt.end, new + void((nxt.end - nxt.start) - delta)))  # the Void absorbs the change
    elif delta <= -2:
        edits.append((at, old_end, new + void(-delta)))  # a smaller Tags: the rest becomes a Void
    else:
        edits.append((at, old_end, new))
        shift = delta
    if shift:
        if not lay.complete:
            raise UnsupportedFormat("a Matroska file with unknown-size Clusters: labeling would move data aimark cannot re-index")
        for el in lay.top:
            if el.id == CUES and el.start >= old_end:
                edits.append((el.start, el.end, _cues_bytes(buf, el, shift, old_end - base, limits)))
            elif el.id == CUES:
                raise UnsupportedFormat("Cues before the clusters: labeling would move them (not supported)")
    seekhead = next((el for el in head if el.id == SEEKHEAD), None)
    if seekhead is not None:
        edits.append(_seekhead_edit(buf, lay, seekhead, at, old_end, base, shift, old is None, limits))
    if seg.size != _UNKNOWN:
        grow = sum(len(d) - (e - s) for s, e, d in edits)
        if grow:
            width = seg.data - (seg.start + len(encode_id(SEGMENT)))
            enc = encode_size(seg.size + grow, width)
            if len(enc) != width:
                raise LimitExceeded("the labeled Segment size does not fit its size field")
            edits.append((seg.start + len(encode_id(SEGMENT)), seg.data, enc))
    return splice(buf, [e for e in edits if e[0] != e[1] or e[2]])


def _seekhead_edit(
    buf: Buffer, lay: Layout, seekhead: Element, at: int, old_end: int, base: int, shift: int, new_tags: bool, limits: Limits
) -> Edit:
    """The SeekHead with positions past the label moved and, room permitting, an entry for a new
    Tags element; it may use the Void that follows it."""
    entries, crc = _seek_entries(buf, seekhead, limits)
    moved = [(sid, pos + shift if pos >= old_end - base else pos) for sid, pos in entries]
    room_end = seekhead.end
    after = next((el for el in lay.top if el.start == seekhead.end), None)
    if after is not None and after.id == VOID and after.end <= at:
        room_end = after.end
    room = room_end - seekhead.start
    candidates = [[*moved, (encode_id(TAGS), at - base)], moved] if new_tags else [moved]
    for cand in candidates:
        if cand == entries and room_end == seekhead.end:
            return (seekhead.start, seekhead.start, b"")  # unchanged
        sh = _seekhead_bytes(cand, crc)
        if len(sh) == room or len(sh) <= room - 2:
            return (seekhead.start, room_end, sh + (void(room - len(sh)) if room > len(sh) else b""))
    if moved == entries:
        return (seekhead.start, seekhead.start, b"")
    raise UnsupportedFormat("the SeekHead has no room for the moved positions (no Void after it)")


MATROSKA = register(
    Carrier(
        name="matroska",
        mime="video/x-matroska",
        extensions=(".mkv", ".webm", ".mka", ".mk3d"),
        sniff=sniff,
        read=read,
        write=write,
        media="video",
        media_of=media_of,
    )
)

__all__ = ["MATROSKA", "Element", "elements", "layout", "make", "media_of", "void"]
