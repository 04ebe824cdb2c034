"""PDF: the label as the document Info entry ``/AIGC`` (a literal string of the inner JSON).

Writing is an *incremental update* (ISO 32000-1 section 7.5.6): the original bytes are kept
as they are, and a new Info object, a cross-reference section (a table, or an xref stream
when the file uses xref streams) and a trailer with ``/Prev`` are appended. Existing objects
and signatures (whose byte ranges cover the original bytes) stay intact. The Info object keeps
its number and every other entry (copied as raw bytes); ``/AIGC`` entries are replaced by one.

Reading follows the newest trailer through ``/Prev`` chains, xref tables, xref streams and
object streams, with bounded sizes and depth. Encrypted PDFs are not written (their strings
are encrypted) and are reported as such when read.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import warning
from .base import Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register

_WS = b"\x00\t\n\x0c\r "
_DELIM = b"()<>[]{}/%"
_NUM = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R(?![^\x00\t\n\x0c\r ()<>\[\]{}/%])")
_OBJ_HEAD = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj\b")


class Name(str):
    """A PDF name (without the slash)."""


@dataclass(frozen=True)
class Ref:
    num: int
    gen: int


@dataclass
class PdfDict:
    items: dict[str, Any]
    start: int  # span of "<< ... >>" in the bytes it was parsed from
    end: int
    raw_keys: list[tuple[str, int, int]] = field(default_factory=list)  # (key, start of /Key, end of value)

    def get(self, key: str, default: Any = None) -> Any:
        return self.items.get(key, default)


class _Parser:
    def __init__(self, data: Buffer, limits: Limits) -> None:
        self.d = data
        self.max_depth = limits.max_pdf_depth

    def ws(self, i: int) -> int:
        d, n = self.d, len(self.d)
        while i < n:
            c = d[i]
            if c in _WS:
                i += 1
            elif c == 0x25:  # % comment
                while i < n and d[i] not in b"\r\n":
                    i += 1
            else:
                break
        return i

    def value(self, i: int, depth: int = 0) -> tuple[Any, int]:
        if depth > self.max_depth:
            raise CorruptFile("PDF objects nested too deeply")
        d = self.d
        i = self.ws(i)
        if i >= len(d):
            raise CorruptFile("PDF object runs past the end of the file")
        c = d[i]
        if c == 0x3C and d[i + 1 : i + 2] == b"<":
            return self.dict(i, depth)
        if c == 0x3C:
            j = bytes(d[i : i + (1 << 20)]).find(b">")
            if j < 0:
                raise CorruptFile("unterminated PDF hex string")
            hexs = re.sub(rb"[^0-9A-Fa-f]", b"", bytes(d[i + 1 : i + j]))
            if len(hexs) % 2:
                hexs += b"0"
            return bytes.fromhex(hexs.decode()), i + j + 1
        if c == 0x28:
            return self.literal(i)
        if c == 0x2F:
            j = i + 1
            while j < len(d) and d[j] not in _WS and d[j] not in _DELIM:
                j += 1
            raw = bytes(d[i + 1 : j])
            return Name(re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw).decode("latin-1")), j
        if c == 0x5B:
            out = []
            j = i + 1
            while True:
                j = self.ws(j)
                if j >= len(d):
                    raise CorruptFile("unterminated PDF array")
                if d[j] == 0x5D:
                    return out, j + 1
                v, j = self.value(j, depth + 1)
                out.append(v)
        chunk = bytes(d[i : i + 40])
        m = _REF.match(chunk)
        if m:
            return Ref(int(m.group(1)), int(m.group(2))), i + m.end()
        m = _NUM.match(chunk)
        if m:
            s = m.group(0)
            return (float(s) if b"." in s else int(s)), i + m.end()
        for word, val in ((b"true", True), (b"false", False), (b"null", None)):
            if chunk.startswith(word):
                return val, i + len(word)
        raise CorruptFile(f"unexpected PDF token at offset {i}")

    def dict(self, i: int, depth: int) -> tuple[PdfDict, int]:
        d = self.d
        start = i
        j = i + 2
        items: dict[str, Any] = {}
        raw: list[tuple[str, int, int]] = []
        while True:
            j = self.ws(j)
            if j + 1 >= len(d):
                raise CorruptFile("unterminated PDF dictionary")
            if d[j] == 0x3E and d[j + 1] == 0x3E:
                return PdfDict(items, start, j + 2, raw), j + 2
            key_start = j
            key, j = self.value(j, depth + 1)
            if not isinstance(key, Name):
                raise CorruptFile("PDF dictionary key is not a name")
            v, j = self.value(j, depth + 1)
            items.setdefault(str(key), v)
            raw.append((str(key), key_start, j))

    def literal(self, i: int) -> tuple[bytes, int]:
        d = self.d
        out = bytearray()
        depth = 1
        j = i + 1
        n = len(d)
        while j < n:
            c = d[j]
            if c == 0x5C:  # backslash
                j += 1
                if j >= n:
                    break
                e = d[j]
                simple = {0x6E: 10, 0x72: 13, 0x74: 9, 0x62: 8, 0x66: 12, 0x28: 0x28, 0x29: 0x29, 0x5C: 0x5C}
                if e in simple:
                    out.append(simple[e])
                elif 0x30 <= e <= 0x37:
                    k = j
                    while k < n and k < j + 3 and 0x30 <= d[k] <= 0x37:
                        k += 1
                    out.append(int(bytes(d[j:k]), 8) & 0xFF)
                    j = k - 1
                elif e == 0x0D:
                    if j + 1 < n and d[j + 1] == 0x0A:
                        j += 1
                elif e != 0x0A:
                    out.append(e)
            elif c == 0x28:
                depth += 1
                out.append(c)
            elif c == 0x29:
                depth -= 1
                if depth == 0:
                    return bytes(out), j + 1
                out.append(c)
            else:
                out.append(c)
            j += 1
            if len(out) > 1 << 20:
                raise LimitExceeded("PDF string over 1 MiB")
        raise CorruptFile("unterminated PDF string")


def text_string(b: Any) -> str:
    """A PDF text string: UTF-16BE with a BOM, UTF-8 with a BOM, else PDFDocEncoding (~Latin-1)."""
    if not isinstance(b, bytes):
        return str(b)
    if b.startswith(b"\xfe\xff"):
        return b[2:].decode("utf-16-be", "replace")
    if b.startswith(b"\xef\xbb\xbf"):
        return b[3:].decode("utf-8", "replace")
    return b.decode("latin-1")


def literal(s: str) -> bytes:
    """``s`` (ASCII) as a PDF literal string."""
    body = s.encode("ascii").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + body + b")"


# -- the document structure --------------------------------------------------------------------
@dataclass
class XrefEntry:
    kind: int  # 1 in-file object at offset, 2 in object stream
    a: int  # offset | object-stream number
    b: int  # generation | index in the stream


@dataclass
class Document:
    buf: Buffer
    limits: Limits
    xref: dict[int, XrefEntry]
    trailer: PdfDict
    trailer_src: Buffer  # the bytes the trailer dict spans refer to
    last_xref: int
    uses_stream: bool
    _objstm: dict[int, tuple[bytes, dict[int, int]]] = field(default_factory=dict)

    def resolve(self, v: Any, depth: int = 0) -> Any:
        if isinstance(v, Ref):
            if depth > 8:
                raise CorruptFile("PDF reference chain too long")
            return self.resolve(self.object(v.num)[0], depth + 1)
        return v

    def object(self, num: int) -> tuple[Any, Buffer, int]:
        """(value, the bytes it was parsed from, offset of its value) of object ``num``."""
        e = self.xref.get(num)
        if e is None:
            raise CorruptFile(f"PDF object {num} is not in the cross-reference table")
        if e.kind == 1:
            return self._object_at(e.a, num)
        data, offsets = self._object_stream(e.a)
        if num not in offsets:
            raise CorruptFile(f"PDF object {num} is not in object stream {e.a}")
        v, _ = _Parser(data, self.limits).value(offsets[num])
        return v, data, offsets[num]

    def _object_at(self, off: int, num: int | None = None) -> tuple[Any, Buffer, int]:
        if not 0 <= off < len(self.buf):
            raise CorruptFile(f"PDF object offset {off} is outside the file")
        m = _OBJ_HEAD.match(bytes(self.buf[off : off + 64]))
        if not m or (num is not None and int(m.group(1)) != num):
            raise CorruptFile(f"no PDF object {num} at offset {off}")
        v, _ = _Parser(self.buf, self.limits).value(off + m.end())
        return v, self.buf, off + m.end()

    def stream_data(self, d: PdfDict, src: Buffer) -> bytes:
        p = _Parser(src, self.limits)
        cap = self.limits.max_pdf_stream
        i = p.ws(d.end)
        if bytes(src[i : i + 6]) != b"stream":
            raise CorruptFile("PDF stream keyword missing")
        i += 6
        if bytes(src[i : i + 2]) == b"\r\n":
            i += 2
        elif src[i : i + 1] in (b"\n", b"\r"):
            i += 1
        length = self.resolve(d.get("Length"))
        if not isinstance(length, int) or length < 0 or i + length > len(src):
            end = bytes(src[i : i + cap]).find(b"endstream")
            if end < 0:
                raise CorruptFile("PDF stream without a valid /Length or endstream")
            length = end
        if length > cap:
            raise LimitExceeded(f"PDF stream over {cap} bytes")
        raw = bytes(src[i : i + length])
        filt = d.get("Filter")
        filters = filt if isinstance(filt, list) else ([filt] if filt else [])
        for f in filters:
            if f != "FlateDecode":
                raise UnsupportedFormat(f"PDF stream filter {f} is not supported")
            dec = zlib.decompressobj()
            try:
                raw = dec.decompress(raw, cap + 1)
            except zlib.error as exc:
                raise CorruptFile(f"PDF stream does not inflate: {exc}") from None
            if len(raw) > cap:
                raise LimitExceeded(f"PDF stream inflates past {cap} bytes")
        parms = self.resolve(d.get("DecodeParms"))
        if isinstance(parms, list):
            parms = parms[0] if parms else None
        if isinstance(parms, PdfDict) and isinstance(parms.get("Predictor"), int) and parms.get("Predictor") >= 10:
            raw = _png_unpredict(raw, int(parms.get("Columns", 1)))
        return raw

    def _object_stream(self, num: int) -> tuple[bytes, dict[int, int]]:
        if num in self._objstm:
            return self._objstm[num]
        d, src, _ = self.object(num)
        if not isinstance(d, PdfDict) or d.get("Type") != "ObjStm":
            raise CorruptFile(f"PDF object {num} is not an object stream")
        data = self.stream_data(d, src)
        n, first = d.get("N"), d.get("First")
        if not isinstance(n, int) or not isinstance(first, int) or n < 0 or n > 1_000_000:
            raise CorruptFile("bad PDF object stream header")
        nums = [int(x) for x in data[:first].split()[: 2 * n]]
        offsets = {nums[k]: first + nums[k + 1] for k in range(0, len(nums) - 1, 2)}
        self._objstm[num] = (data, offsets)
        return data, offsets


def _png_unpredict(data: bytes, columns: int) -> bytes:
    row = columns + 1
    if columns <= 0 or len(data) % row:
        raise CorruptFile("PDF xref stream predictor rows do not fit")
    out = bytearray()
    prev = bytearray(columns)
    for k in range(0, len(data), row):
        ft, cur = data[k], bytearray(data[k + 1 : k + row])
        if ft == 2:
            cur = bytearray((a + b) & 0xFF for a, b in zip(cur, prev, strict=True))
        elif ft == 1:
            for x in range(1, columns):
                cur[x] = (cur[x] + cur[x - 1]) & 0xFF
        elif ft in (3, 4):
            for x in range(columns):
                left = cur[x - 1] if x else 0
                up, ul = prev[x], (prev[x - 1] if x else 0)
                if ft == 3:
                    cur[x] = (cur[x] + (left + up) // 2) & 0xFF
                else:
                    p = left + up - ul
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                    pred = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                    cur[x] = (cur[x] + pred) & 0xFF
        out += cur
        prev = cur
    return bytes(out)


def _startxref(buf: Buffer, limits: Limits) -> int:
    tail_start = max(0, len(buf) - limits.max_pdf_tail)
    tail = bytes(buf[tail_start:])
    k = tail.rfind(b"startxref")
    if k < 0:
        raise CorruptFile("no startxref in the PDF")
    m = re.match(rb"startxref\s+(\d+)", tail[k:])
    if not m:
        raise CorruptFile("bad startxref in the PDF")
    return int(m.group(1))


def _read_section(buf: Buffer, off: int, xref: dict[int, XrefEntry], limits: Limits) -> tuple[PdfDict, bool]:
    """Parse one xref section at ``off`` into ``xref`` (older entries do not override newer)."""
    if not 0 <= off < len(buf):
        raise CorruptFile(f"startxref/Prev offset {off} is outside the file")
    p = _Parser(buf, limits)
    i = p.ws(off)
    if bytes(buf[i : i + 4]) == b"xref":
        i += 4
        while True:
            i = p.ws(i)
            m = re.match(rb"(\d+)\s+(\d+)[ \t]*\r?\n?", bytes(buf[i : i + 40]))
            if not m:
                break
            start, count = int(m.group(1)), int(m.group(2))
            if count > 10_000_000:
                raise LimitExceeded("PDF xref subsection too large")
            i += m.end()
            for k in range(count):
                ent = bytes(buf[i : i + 20])
                em = re.match(rb"\s*(\d{1,10})\s+(\d{1,5})\s+([nf])", ent)
                if not em:
                    raise CorruptFile("bad PDF xref table entry")
                if em.group(3) == b"n":
                    xref.setdefault(start + k, XrefEntry(1, int(em.group(1)), int(em.group(2))))
                else:
                    xref.setdefault(start + k, XrefEntry(0, 0, 0))
                i += 20
        i = p.ws(i)
        if bytes(buf[i : i + 7]) != b"trailer":
            raise CorruptFile("PDF xref table without a trailer")
        trailer, _ = p.value(i + 7)
        if not isinstance(trailer, PdfDict):
            raise CorruptFile("PDF trailer is not a dictionary")
        return trailer, False
    m = _OBJ_HEAD.match(bytes(buf[i : i + 64]))
    if not m:
        raise CorruptFile(f"no xref table or xref stream at offset {off}")
    d, _ = p.value(i + m.end())
    if not isinstance(d, PdfDict) or d.get("Type") != "XRef":
        raise CorruptFile("PDF xref stream object is not /Type /XRef")
    doc = Document(buf, limits, {}, d, buf, off, True)
    data = doc.stream_data(d, buf)
    w = d.get("W")
    if not (isinstance(w, list) and len(w) == 3 and all(isinstance(x, int) and 0 <= x <= 8 for x in w)):
        raise CorruptFile("bad /W in PDF xref stream")
    size = d.get("Size")
    index = d.get("Index", [0, size])
    if not isinstance(index, list) or len(index) % 2 or not all(isinstance(x, int) for x in index):
        raise CorruptFile("bad /Index in PDF xref stream")
    width = sum(w)
    pos = 0
    for s in range(0, len(index), 2):
        first, count = index[s], index[s + 1]
        for k in range(count):
            if pos + width > len(data):
                raise CorruptFile("PDF xref stream shorter than its /Index")
            fields = []
            for x in w:
                fields.append(int.from_bytes(data[pos : pos + x], "big") if x else None)
                pos += x
            kind = 1 if fields[0] is None else fields[0]
            if kind == 1:
                xref.setdefault(first + k, XrefEntry(1, fields[1] or 0, fields[2] or 0))
            elif kind == 2:
                xref.setdefault(first + k, XrefEntry(2, fields[1] or 0, fields[2] or 0))
            else:
                xref.setdefault(first + k, XrefEntry(0, 0, 0))
    return d, True


def open_document(buf: Buffer, limits: Limits) -> Document:
    """Follow the xref chain from the last startxref."""
    start = _startxref(buf, limits)
    xref: dict[int, XrefEntry] = {}
    seen: set[int] = set()
    off: int | None = start
    newest: PdfDict | None = None
    uses_stream = False
    sections = 0
    while off is not None:
        if off in seen:
            raise CorruptFile("PDF /Prev chain loops")
        seen.add(off)
        sections += 1
        if sections > limits.max_pdf_sections:
            raise LimitExceeded(f"PDF has more than {limits.max_pdf_sections} update sections")
        trailer, is_stream = _read_section(buf, off, xref, limits)
        if newest is None:
            newest, uses_stream = trailer, is_stream
        hybrid = trailer.get("XRefStm")
        if isinstance(hybrid, int) and hybrid not in seen:
            seen.add(hybrid)
            _read_section(buf, hybrid, xref, limits)
        prev = trailer.get("Prev")
        off = prev if isinstance(prev, int) else None
    assert newest is not None
    return Document(buf, limits, xref, newest, buf, start, uses_stream)


# -- reading -----------------------------------------------------------------------------------
def _info(doc: Document) -> tuple[PdfDict | None, Ref | None]:
    ref = doc.trailer.get("Info")
    if isinstance(ref, Ref):
        v = doc.resolve(ref)
        return (v if isinstance(v, PdfDict) else None), ref
    return (ref if isinstance(ref, PdfDict) else None), None


def _read(buf: Buffer, limits: Limits) -> ReadResult:
    res = ReadResult()
    doc = open_document(buf, limits)
    if doc.trailer.get("Encrypt") is not None:
        res.findings.append(warning("encrypted_pdf", "the PDF is encrypted: its Info strings cannot be read without the key"))
        res.complete = False
        return res
    info, _ = _info(doc)
    if info is None:
        return res
    n = 0
    for key, _a, _b in info.raw_keys:
        if key.upper() != "AIGC":
            continue
        value = doc.resolve(info.get(key))
        site = "pdf:Info/AIGC" + (f"[{n}]" if n else "")
        if key != "AIGC":
            res.findings.append(warning("key_case", f"Info key is /{key}, not /AIGC", site))
        res.labels.append(RawLabel(site, text_string(value)))
        n += 1
    return res


# -- writing -----------------------------------------------------------------------------------
def _raw(src: Buffer, a: int, b: int) -> bytes:
    return bytes(src[a:b])


def _ser_trailer_value(v: Any) -> bytes:
    if isinstance(v, Ref):
        return f"{v.num} {v.gen} R".encode()
    if isinstance(v, list):
        return b"[" + b" ".join(_ser_trailer_value(x) for x in v) + b"]"
    if isinstance(v, bytes):
        return b"<" + v.hex().encode() + b">"
    if isinstance(v, int):
        return str(v).encode()
    raise UnsupportedFormat("cannot copy this PDF trailer value")


def _write(buf: Buffer, label: AIGCLabel, limits: Limits) -> list[Piece]:
    doc = open_document(buf, limits)
    if doc.trailer.get("Encrypt") is not None:
        raise UnsupportedFormat("encrypted PDF: aimark does not write into encrypted documents")
    entry = literal(label.to_inner_json())
    info, ref = _info(doc)
    if info is not None and ref is not None:
        _, src, _ = doc.object(ref.num)
        keep = [_raw(src, a, b) for key, a, b in info.raw_keys if key.upper() != "AIGC"]
        num, gen = ref.num, ref.gen
    elif info is not None:  # a direct Info dictionary in the trailer (not allowed, seen)
        keep = [_raw(doc.trailer_src, a, b) for key, a, b in info.raw_keys if key.upper() != "AIGC"]
        num, gen = _size(doc), 0
    else:
        keep, num, gen = [], _size(doc), 0
    body = b"<<" + b"".join(b" " + k.strip() for k in keep) + b" /AIGC " + entry + b" >>"
    size = max(_size(doc), num + 1)
    tail = b"" if bytes(buf[-1:]) in (b"\n", b"\r") else b"\n"
    base = len(buf) + len(tail)
    obj = f"{num} {gen} obj\n".encode() + body + b"\nendobj\n"
    obj_off = base
    xref_off = base + len(obj)
    common = [b"/Root " + _ser_trailer_value(doc.trailer.get("Root")), f"/Info {num} {gen} R".encode()]
    ident = doc.trailer.get("ID")
    if isinstance(ident, list):
        common.append(b"/ID " + _ser_trailer_value(ident))
    common.append(f"/Prev {doc.last_xref}".encode())
    if doc.trailer.get("Root") is None:
        raise CorruptFile("the PDF trailer has no /Root")
    if doc.uses_stream:
        xnum = size
        size += 1
        rows = b"\x01" + obj_off.to_bytes(4, "big") + gen.to_bytes(2, "big")
        rows += b"\x01" + xref_off.to_bytes(4, "big") + b"\x00\x00"
        index = f"[{num} 1 {xnum} 1]" if num < xnum else f"[{xnum} 1 {num} 1]"
        if num > xnum:
            rows = rows[7:] + rows[:7]
        head = (
            f"{xnum} 0 obj\n<< /Type /XRef /Size {size} /W [1 4 2] /Index {index} /Length {len(rows)} ".encode()
            + b" ".join(common)
            + b" >>\nstream\n"
        )
        section = head + rows + b"\nendstream\nendobj\n"
    else:
        section = f"xref\n{num} 1\n{obj_off:010d} {gen:05d} n \ntrailer\n<< /Size {size} ".encode() + b" ".join(common) + b" >>\n"
    end = f"startxref\n{xref_off}\n%%EOF\n".encode()
    return [memoryview(buf), tail + obj + section + end]


def _size(doc: Document) -> int:
    s = doc.trailer.get("Size")
    if not isinstance(s, int) or s <= 0:
        s = max(doc.xref, default=0) + 1
    return max(s, max(doc.xref, default=0) + 1)


def _sniff(head: bytes) -> int:
    k = head.find(b"%PDF-")
    if k == 0:
        return 100
    return 80 if 0 < k < 1024 else 0


PDF = register(
    Carrier(
        name="pdf",
        mime="application/pdf",
        extensions=(".pdf",),
        sniff=_sniff,
        read=_read,
        write=_write,
        media="text",
    )
)

__all__ = ["PDF", "Document", "open_document", "text_string"]
