"""Text documents: decoding, sniffing, and the plain-text and HTML carriers.

Text files are decoded whole (bounded by ``Limits.max_text_document``) as UTF-8 (with or
without a BOM), UTF-16 with a BOM, or GB18030, and written back in the same encoding. A file
whose bytes do not survive decode + encode unchanged is refused for writing rather than
silently altered.

* **Plain text** has no metadata site: it carries the explicit label (and optionally the text
  watermark) only. ``Carrier.metadata`` is False.
* **HTML** carries ``<meta name="AIGC" content="{inner JSON}">`` in the head (SPEC section 3:
  the practice seen, not a standard). One meta element per file: others are removed on write.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from ..errors import CorruptFile, LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from ..report import warning
from .base import Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register

_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass(frozen=True)
class TextCodec:
    """How a text document was encoded, so it can be written back the same way."""

    encoding: str
    bom: bytes = b""

    def encode(self, text: str) -> bytes:
        try:
            return self.bom + text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise UnsupportedFormat(f"the text cannot be written back in {self.encoding}: {exc.reason}") from None


def decode_document(buf: Buffer, limits: Limits) -> tuple[str, TextCodec]:
    """The text of a document and its codec. Raises for oversize, binary or undecodable data."""
    if len(buf) > limits.max_text_document:
        raise LimitExceeded(f"text document of {len(buf)} bytes is over the {limits.max_text_document}-byte limit")
    data = bytes(buf)
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(enc), TextCodec(enc, bom)
            except UnicodeDecodeError as exc:
                raise CorruptFile(f"text starts with a {enc} byte-order mark but is not {enc}: {exc.reason}") from None
    if b"\x00" in data:
        raise CorruptFile("binary data (NUL bytes) in a text document")
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc), TextCodec(enc)
        except UnicodeDecodeError:
            continue
    raise CorruptFile("text is neither UTF-8, UTF-16 (with a BOM) nor GB18030")


def check_round_trip(buf: Buffer, text: str, codec: TextCodec) -> None:
    if codec.encode(text) != bytes(buf):
        raise UnsupportedFormat(f"this {codec.encoding} text does not survive decode + encode unchanged; not rewriting it")


_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes of a file look like a text document."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    if not body or _CONTROL.search(body):
        return False
    for enc in ("utf-8", "gb18030"):
        try:
            body.decode(enc)
            return True
        except UnicodeDecodeError as exc:
            if exc.start >= len(body) - 3:  # cut inside the last character of the sniffed head
                return True
    return False


def head_text(head: bytes) -> str:
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(enc, "ignore")
    return head.decode("utf-8", "ignore")


# -- plain text --------------------------------------------------------------------------------
def _sniff_txt(head: bytes) -> int:
    return 15 if looks_like_text(head) else 0


def _read_txt(buf: Buffer, limits: Limits) -> ReadResult:
    return ReadResult(text=decode_document(buf, limits)[0])  # refuses binary / undecodable data


def _write_txt(buf: Buffer, label: AIGCLabel, limits: Limits) -> list[Piece]:
    raise UnsupportedFormat("plain text has no metadata site: label it with an explicit label and/or the text watermark")


def document_text(buf: Buffer, limits: Limits) -> str:
    return decode_document(buf, limits)[0]


TXT = register(
    Carrier(
        name="txt",
        mime="text/plain",
        extensions=(".txt", ".text", ".log"),
        sniff=_sniff_txt,
        read=_read_txt,
        write=_write_txt,
        media="text",
        text=document_text,
        metadata=False,
        ext_hint=True,
    )
)


# -- HTML --------------------------------------------------------------------------------------
_HTML_START = re.compile(
    r"\A\s*(?:<!--.*?-->\s*)*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|meta|title)\b", re.I | re.S
)
_META = re.compile(r"<meta\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")
_BODY = re.compile(r"<body\b", re.IGNORECASE)


def _sniff_html(head: bytes) -> int:
    if not looks_like_text(head):
        return 0
    if _HTML_START.match(head_text(head)):
        return 60
    return 10


def _attrs(tag: str) -> dict[str, str]:
    inner = tag[5:-1].rstrip("/")
    out: dict[str, str] = {}
    for m in _ATTR.finditer(inner):
        value = m.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        out.setdefault(m.group(1).lower(), html.unescape(value))
    return out


def _aigc_metas(text: str) -> list[tuple[re.Match[str], str, str]]:
    """Every ``<meta name=AIGC>`` before ``<body>``: (match, name as written, content)."""
    body = _BODY.search(text)
    end = body.start() if body else len(text)
    out = []
    for m in _META.finditer(text, 0, end):
        attrs = _attrs(m.group(0))
        name = attrs.get("name", "")
        if name.upper() == "AIGC":
            out.append((m, name, attrs.get("content", "")))
    return out


def _read_html(buf: Buffer, limits: Limits) -> ReadResult:
    text, _ = decode_document(buf, limits)
    res = ReadResult(text=text)
    for i, (_m, name, content) in enumerate(_aigc_metas(text)):
        site = "html:meta[name=AIGC]" + (f"[{i}]" if i else "")
        if name != "AIGC":
            res.findings.append(warning("key_case", f"meta name is {name!r}, not 'AIGC'", site))
        res.labels.append(RawLabel(site, content))
    return res


def meta_tag(label: AIGCLabel, xhtml: bool = False) -> str:
    content = html.escape(label.to_inner_json(), quote=True)
    return f'<meta name="AIGC" content="{content}"' + (" />" if xhtml else ">")


def write_html_text(text: str, label: AIGCLabel) -> str:
    """``text`` with exactly one AIGC meta element (in place of the first one found)."""
    xhtml = text.lstrip().startswith("<?xml") or "http://www.w3.org/1999/xhtml" in text[:2048]
    tag = meta_tag(label, xhtml)
    metas = _aigc_metas(text)
    edits: list[tuple[int, int, str]] = []
    if metas:
        for i, (m, _n, _c) in enumerate(metas):
            # drop the whole line when the tag sits alone on it
            a, b = m.start(), m.end()
            if i:
                ls = text.rfind("\n", 0, a) + 1
                le = text.find("\n", b)
                if not text[ls:a].strip() and (le < 0 or not text[b:le].strip()):
                    a, b = ls, (le + 1 if le >= 0 else len(text))
            edits.append((a, b, tag if i == 0 else ""))
    else:
        edits.append((*_meta_slot(text), tag))
    out, prev = [], 0
    for a, b, s in edits:
        out += [text[prev:a], s]
        prev = b
    out.append(text[prev:])
    return "".join(out)


def _meta_slot(text: str) -> tuple[int, int]:
    body = _BODY.search(text)
    limit = body.start() if body else len(text)
    charset = None
    for m in _META.finditer(text, 0, limit):
        if "charset" in _attrs(m.group(0)) or _attrs(m.group(0)).get("http-equiv", "").lower() == "content-type":
            charset = m
            break
    if charset:
        return charset.end(), charset.end()
    for pat in (r"<head\b[^>]*>", r"<html\b[^>]*>", r"<!doctype[^>]*>"):
        m = re.compile(pat, re.IGNORECASE).search(text, 0, limit)
        if m:
            return m.end(), m.end()
    return 0, 0


def _write_html(buf: Buffer, label: AIGCLabel, limits: Limits) -> list[Piece]:
    text, codec = decode_document(buf, limits)
    check_round_trip(buf, text, codec)
    return [codec.encode(write_html_text(text, label))]


HTML = register(
    Carrier(
        name="html",
        mime="text/html",
        extensions=(".html", ".htm", ".xhtml"),
        sniff=_sniff_html,
        read=_read_html,
        write=_write_html,
        media="text",
        text=document_text,
        ext_hint=True,
    )
)

__all__ = [
    "HTML",
    "TXT",
    "TextCodec",
    "check_round_trip",
    "decode_document",
    "document_text",
    "looks_like_text",
    "write_html_text",
]
