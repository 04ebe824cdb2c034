"""A bounded ZIP walker and a rewriter that copies every untouched entry byte for byte.

Used by the OOXML carrier (DOCX/XLSX/PPTX). The central directory is the index; every entry
that is not replaced is copied verbatim (local header, data, data descriptor), and its central
directory record is copied with only the local-header offset patched. ZIP64 and multi-disk
archives are refused; encrypted entries are never read.
"""

from __future__ import annotations

import struct
import time
import zlib
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from .base import Buffer, Limits, Piece, need

EOCD_SIG = b"PK\x05\x06"
CDH_SIG = b"PK\x01\x02"
LFH_SIG = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF


@dataclass(frozen=True)
class Entry:
    name: str
    flags: int
    method: int
    crc: int
    csize: int
    usize: int
    local: int  # offset of the local file header
    cd_start: int  # this entry's record in the central directory
    cd_end: int

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 1)


@dataclass(frozen=True)
class Archive:
    entries: list[Entry]
    cd_offset: int
    eocd: int  # offset of the end-of-central-directory record
    comment: bytes

    def find(self, name: str) -> Entry | None:
        for e in self.entries:
            if e.name == name:
                return e
        return None


def parse(buf: Buffer, limits: Limits) -> Archive:
    n = len(buf)
    start = max(0, n - 22 - _MAX_COMMENT)
    eocd = bytes(buf[start:n]).rfind(EOCD_SIG)
    if eocd < 0:
        raise CorruptFile("no ZIP end-of-central-directory record")
    eocd += start
    need(buf, eocd, 22, "ZIP end record")
    disk, cd_disk, on_disk, total, cd_size, cd_offset, clen = struct.unpack_from("<HHHHIIH", buf, eocd + 4)
    if 0xFFFF in (on_disk, total) or 0xFFFFFFFF in (cd_size, cd_offset):
        raise UnsupportedFormat("ZIP64 archives are not supported")
    if disk or cd_disk or on_disk != total:
        raise UnsupportedFormat("multi-disk ZIP archives are not supported")
    if total > limits.max_zip_entries:
        raise LimitExceeded(f"ZIP declares {total} entries (limit {limits.max_zip_entries})")
    if cd_offset + cd_size > eocd:
        raise CorruptFile("ZIP central directory runs past its end record")
    entries: list[Entry] = []
    pos = cd_offset
    for _ in range(total):
        need(buf, pos, 46, "ZIP central directory record")
        if bytes(buf[pos : pos + 4]) != CDH_SIG:
            raise CorruptFile(f"bad ZIP central directory record at {pos}")
        flags, method, _t, _d, crc, csize, usize, nlen, xlen, clen2 = struct.unpack_from("<HHHHIIIHHH", buf, pos + 8)
        local = struct.unpack_from("<I", buf, pos + 42)[0]
        need(buf, pos + 46, nlen + xlen + clen2, "ZIP entry name")
        raw = bytes(buf[pos + 46 : pos + 46 + nlen])
        name = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        end = pos + 46 + nlen + xlen + clen2
        if local >= cd_offset:
            raise CorruptFile(f"ZIP entry {name!r} points past the data area")
        entries.append(Entry(name, flags, method, crc, csize, usize, local, pos, end))
        pos = end
    return Archive(entries, cd_offset, eocd, bytes(buf[eocd + 22 : eocd + 22 + clen]))


def _data_offset(buf: Buffer, e: Entry) -> int:
    need(buf, e.local, 30, f"ZIP local header of {e.name!r}")
    if bytes(buf[e.local : e.local + 4]) != LFH_SIG:
        raise CorruptFile(f"bad ZIP local header for {e.name!r}")
    nlen, xlen = struct.unpack_from("<HH", buf, e.local + 26)
    return e.local + 30 + nlen + xlen


def read_entry(buf: Buffer, e: Entry, limits: Limits) -> bytes:
    """The decompressed bytes of one entry, bounded by ``Limits.max_part_size`` and the ratio."""
    if e.encrypted:
        raise UnsupportedFormat(f"ZIP entry {e.name!r} is encrypted")
    off = _data_offset(buf, e)
    need(buf, off, e.csize, f"ZIP data of {e.name!r}")
    data = buf[off : off + e.csize]
    if e.usize > limits.max_part_size:
        raise LimitExceeded(f"{e.name!r} declares {e.usize} bytes uncompressed (limit {limits.max_part_size})")
    if e.method == 0:
        return bytes(data)
    if e.method != 8:
        raise UnsupportedFormat(f"ZIP entry {e.name!r} uses compression method {e.method}")
    d = zlib.decompressobj(-15)
    try:
        out = d.decompress(bytes(data), limits.max_part_size + 1)
    except zlib.error as exc:
        raise CorruptFile(f"ZIP entry {e.name!r} does not inflate: {exc}") from None
    if len(out) > limits.max_part_size or d.unconsumed_tail:
        raise LimitExceeded(f"{e.name!r} inflates past {limits.max_part_size} bytes (a ZIP bomb?)")
    if e.csize and len(out) > 1 << 20 and len(out) // e.csize > limits.max_zip_ratio:
        raise LimitExceeded(f"{e.name!r} inflates {len(out) // e.csize}x (limit {limits.max_zip_ratio}x): a ZIP bomb?")
    if zlib.crc32(out) != e.crc:
        raise CorruptFile(f"ZIP entry {e.name!r} fails its CRC")
    return out


def _dos_time() -> tuple[int, int]:
    t = time.localtime()
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((max(t.tm_year, 1980) - 1980) << 9) | (
        t.tm_mon << 5
    ) | t.tm_mday


def _new_entry(name: str, data: bytes, offset: int) -> tuple[bytes, bytes]:
    """(local header + data, central directory record) for a new deflated entry."""
    raw = name.encode("utf-8")
    flags = 0x800 if not raw.isascii() else 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    cdata = comp.compress(data) + comp.flush()
    crc = zlib.crc32(data)
    tm, dt = _dos_time()
    local = struct.pack("<4sHHHHHIIIHH", LFH_SIG, 20, flags, 8, tm, dt, crc, len(cdata), len(data), len(raw), 0) + raw
    cd = struct.pack(
        "<4sHHHHHHIIIHHHHHII", CDH_SIG, 20, 20, flags, 8, tm, dt, crc, len(cdata), len(data), len(raw), 0, 0, 0, 0, 0, offset
    )
    return local + cdata, cd + raw


def rewrite(buf: Buffer, arc: Archive, replace: dict[str, bytes], add: dict[str, bytes]) -> list[Piece]:
    """Pieces of a new archive: entries named in ``replace`` get new data, ``add`` entries are
    appended, everything else is copied byte for byte (entry order and preamble kept)."""
    view = memoryview(buf)
    order = sorted(arc.entries, key=lambda e: e.local)
    bounds = [e.local for e in order[1:]] + [arc.cd_offset]
    first = order[0].local if order else arc.cd_offset
    pieces: list[Piece] = [view[:first]] if first else []
    pos = first
    cd: list[bytes] = []
    for e, end in zip(order, bounds, strict=True):
        if e.name in replace:
            local, rec = _new_entry(e.name, replace[e.name], pos)
            pieces.append(local)
            cd.append(rec)
            pos += len(local)
            continue
        if end < e.local:
            raise CorruptFile("overlapping ZIP entries")
        pieces.append(view[e.local : end])
        rec = bytearray(buf[e.cd_start : e.cd_end])
        struct.pack_into("<I", rec, 42, pos)
        cd.append(bytes(rec))
        pos += end - e.local
    for name, data in add.items():
        local, rec = _new_entry(name, data, pos)
        pieces.append(local)
        cd.append(rec)
        pos += len(local)
    cd_bytes = b"".join(cd)
    count = len(cd)
    if count > 0xFFFF or pos > 0xFFFFFFFF:
        raise UnsupportedFormat("the rewritten archive would need ZIP64")
    pieces.append(cd_bytes)
    pieces.append(struct.pack("<4sHHHHIIH", EOCD_SIG, 0, 0, count, count, len(cd_bytes), pos, len(arc.comment)) + arc.comment)
    return pieces


__all__ = ["Archive", "Entry", "parse", "read_entry", "rewrite"]
