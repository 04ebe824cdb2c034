"""DOCX / XLSX / PPTX: the label as the custom document property ``AIGC`` (SPEC section 3).

``docProps/custom.xml`` holds::

    <property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="N" name="AIGC">
      <vt:lpwstr>{inner JSON}</vt:lpwstr></property>

Writing edits only what it must: custom.xml (the AIGC property replaced where it stands, other
properties kept as text), and, when custom.xml is new, one Override in ``[Content_Types].xml``
and one Relationship in ``_rels/.rels``. Every other part is copied byte for byte
(:mod:`.ziparchive`). Reading parses the XML with defusedxml after refusing DTDs and entities.
"""

from __future__ import annotations

import html
import posixpath
import re
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from ..errors import CorruptFile, UnsafeContent, UnsupportedFormat
from ..label import AIGCLabel
from ..report import warning
from . import ziparchive
from .base import Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register

CUSTOM_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
CUSTOM_CT = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
DEFAULT_PART = "docProps/custom.xml"

_SUBTYPES = {
    "wordprocessingml": "docx",
    "spreadsheetml": "xlsx",
    "presentationml": "pptx",
}
_TEXT_PARTS = {
    "docx": re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml"),
    "xlsx": re.compile(r"xl/sharedStrings\.xml"),
    "pptx": re.compile(r"ppt/slides/slide\d+\.xml"),
}


def _xml(data: bytes, what: str) -> Element:
    head = data[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data:
        raise UnsafeContent(f"{what} contains a DTD or entity declaration")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except SafeET.ParseError as exc:
        raise CorruptFile(f"{what} is not well-formed XML: {exc}") from None
    except Exception as exc:  # defusedxml's refusals
        raise UnsafeContent(f"{what}: {exc}") from None


class Package:
    """An OOXML package opened for reading: the zip index plus the parts aimark needs."""

    def __init__(self, buf: Buffer, limits: Limits) -> None:
        if bytes(buf[:4]) != ziparchive.LFH_SIG:
            raise UnsupportedFormat("not a ZIP archive")
        self.buf, self.limits = buf, limits
        self.arc = ziparchive.parse(buf, limits)
        ct = self.arc.find("[Content_Types].xml")
        if ct is None:
            raise UnsupportedFormat("a ZIP archive without [Content_Types].xml is not an Office Open XML document")
        self.content_types_raw = self.part_bytes(ct.name)
        self.content_types = _xml(self.content_types_raw, "[Content_Types].xml")
        self.kind = self._kind()

    def part_bytes(self, name: str) -> bytes:
        e = self.arc.find(name)
        if e is None:
            raise CorruptFile(f"missing part {name}")
        return ziparchive.read_entry(self.buf, e, self.limits)

    def _kind(self) -> str:
        for el in self.content_types:
            ctype = el.get("ContentType", "")
            if el.tag == f"{{{CT_NS}}}Override" and ctype.endswith(".main+xml"):
                for key, kind in _SUBTYPES.items():
                    if key in ctype:
                        return kind
        names = {e.name.split("/", 1)[0] for e in self.arc.entries}
        for prefix, kind in (("word", "docx"), ("xl", "xlsx"), ("ppt", "pptx")):
            if prefix in names:
                return kind
        raise UnsupportedFormat("an OPC package that is not a Word, Excel or PowerPoint document")

    def root_rels(self) -> tuple[bytes | None, Element | None]:
        if self.arc.find("_rels/.rels") is None:
            return None, None
        raw = self.part_bytes("_rels/.rels")
        return raw, _xml(raw, "_rels/.rels")

    def custom_part(self) -> str | None:
        _, rels = self.root_rels()
        if rels is not None:
            for rel in rels:
                if rel.get("Type") == CUSTOM_REL and rel.get("TargetMode") != "External":
                    target = posixpath.normpath(rel.get("Target", "").lstrip("/"))
                    if self.arc.find(target) is not None:
                        return target
        return DEFAULT_PART if self.arc.find(DEFAULT_PART) is not None else None

    def text(self) -> str:
        """The document's visible text (paragraphs, cells, slides), for explicit labels and
        watermarks. Tags are dropped, paragraphs end with a newline."""
        pat = _TEXT_PARTS[self.kind]
        parts = sorted((e.name for e in self.arc.entries if pat.fullmatch(e.name)), key=_natural)
        out: list[str] = []
        for name in parts:
            raw = self.part_bytes(name).decode("utf-8", "replace")
            if "<!DOCTYPE" in raw[:4096] or "<!ENTITY" in raw:
                raise UnsafeContent(f"{name} contains a DTD or entity declaration")
            out.append(_part_text(raw))
        return "\n".join(out)


def _natural(name: str) -> tuple[str, int]:
    m = re.search(r"(\d+)\.xml$", name)
    return (name[: m.start()] if m else name, int(m.group(1)) if m else 0)


_T = re.compile(
    r"<(?:\w+:)?t(?:\s[^>]*)?>([^<]*)</(?:\w+:)?t>|<(?:\w+:)?(?:tab)\b[^>]*/>|</(?:\w+:)?(p|si)>|<(?:\w+:)?br\b[^>]*/>"
)


def _part_text(xml: str) -> str:
    out: list[str] = []
    for m in _T.finditer(xml):
        if m.group(1) is not None:
            out.append(html.unescape(m.group(1)))
        elif m.group(2):
            out.append("\n")
        elif m.group(0).lstrip("<").split(":")[-1].startswith("tab"):
            out.append("\t")
        else:
            out.append("\n")
    return "".join(out)


# -- reading -----------------------------------------------------------------------------------
def _properties(root: Element) -> list[tuple[str, str, Element]]:
    """(name, value, element) of each custom property."""
    out = []
    for prop in root:
        if prop.tag != f"{{{CUSTOM_NS}}}property":
            continue
        value = ""
        for child in prop:
            value = child.text or ""
            break
        out.append((prop.get("name", ""), value, prop))
    return out


def _read(buf: Buffer, limits: Limits) -> ReadResult:
    pkg = Package(buf, limits)
    res = ReadResult(format=pkg.kind)
    part = pkg.custom_part()
    if part is None:
        return res
    root = _xml(pkg.part_bytes(part), part)
    n = 0
    for name, value, _ in _properties(root):
        if name.upper() != "AIGC":
            continue
        site = f"ooxml:{part}:AIGC" + (f"[{n}]" if n else "")
        if name != "AIGC":
            res.findings.append(warning("key_case", f"custom property is named {name!r}, not 'AIGC'", site))
        res.labels.append(RawLabel(site, value))
        n += 1
    return res


# -- writing -----------------------------------------------------------------------------------
_PROP = re.compile(r"<((?:[\w.-]+:)?)property\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)(/>|>.*?</\1property\s*>)", re.DOTALL)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(["'])(.*?)\1""", re.DOTALL)
_PID_ATTR = re.compile(r"""\bpid\s*=\s*(["'])(\d+)\1""")


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vt_prefix(xml: str) -> str | None:
    """The prefix bound to the vt namespace on the root element (in scope everywhere), if any."""
    root = re.search(r"<(?:[\w.-]+:)?Properties\b(?:[^>\"']|\"[^\"]*\"|'[^']*')*>", xml)
    if not root:
        return None
    xml = root.group(0)
    m = re.search(r"xmlns:([\w.-]+)\s*=\s*[\"']" + re.escape(VT_NS) + "[\"']", xml)
    return m.group(1) if m else None


def _property(prefix: str, vt: str | None, pid: int, value: str) -> str:
    if vt is None:
        return (
            f'<{prefix}property fmtid="{FMTID}" pid="{pid}" name="AIGC">'
            f'<vt:lpwstr xmlns:vt="{VT_NS}">{_esc(value)}</vt:lpwstr></{prefix}property>'
        )
    return (
        f'<{prefix}property fmtid="{FMTID}" pid="{pid}" name="AIGC"><{vt}:lpwstr>{_esc(value)}</{vt}:lpwstr></{prefix}property>'
    )


def edit_custom_xml(raw: bytes, value: str) -> bytes:
    """custom.xml with exactly one AIGC property holding ``value``; the rest kept as text."""
    root = _xml(raw, "custom.xml")
    if root.tag != f"{{{CUSTOM_NS}}}Properties":
        raise CorruptFile("docProps/custom.xml is not a custom-properties part")
    try:
        xml = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsupportedFormat("docProps/custom.xml is not UTF-8; not rewriting it") from None
    vt = _vt_prefix(xml)
    props = [m for m in _PROP.finditer(xml) if (n := _NAME_ATTR.search(m.group(2))) and n.group(2).upper() == "AIGC"]
    pids = [int(p.group(2)) for p in _PID_ATTR.finditer(xml)]
    if props:
        first = props[0]
        pid_m = _PID_ATTR.search(first.group(2))
        pid = int(pid_m.group(2)) if pid_m else max([1, *pids]) + 1
        out, prev = [], 0
        for i, m in enumerate(props):
            out += [xml[prev : m.start()], _property(m.group(1), vt, pid, value) if i == 0 else ""]
            prev = m.end()
        out.append(xml[prev:])
        new = "".join(out)
    else:
        close = re.search(r"</((?:[\w.-]+:)?)Properties\s*>\s*\Z", xml)
        pid = max([1, *pids]) + 1
        if close:
            new = xml[: close.start()] + _property(close.group(1), vt, pid, value) + xml[close.start() :]
        else:  # an empty <Properties .../>
            m = re.search(r"<((?:[\w.-]+:)?)Properties\b((?:[^>\"']|\"[^\"]*\"|'[^']*')*)/>", xml)
            if not m:
                raise CorruptFile("cannot find the end of <Properties> in custom.xml")
            p = m.group(1)
            new = (
                xml[: m.start()]
                + f"<{p}Properties{m.group(2)}>"
                + _property(p, vt, pid, value)
                + f"</{p}Properties>"
                + xml[m.end() :]
            )
    data = new.encode("utf-8")
    check = [v for n, v, _ in _properties(_xml(data, "custom.xml (rewritten)")) if n.upper() == "AIGC"]
    if check != [value]:
        raise CorruptFile("custom.xml did not read back with exactly one AIGC property")
    return data


def new_custom_xml(value: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Properties xmlns="{CUSTOM_NS}" xmlns:vt="{VT_NS}">'
        f'<property fmtid="{FMTID}" pid="2" name="AIGC"><vt:lpwstr>{_esc(value)}</vt:lpwstr></property></Properties>'
    ).encode()


def _insert_before_close(raw: bytes, tag: str, element: str, what: str) -> bytes:
    xml = raw.decode("utf-8")
    close = re.search(r"</((?:[\w.-]+:)?)" + tag + r"\s*>\s*\Z", xml)
    if not close:
        raise CorruptFile(f"cannot find the end of <{tag}> in {what}")
    return (xml[: close.start()] + element + xml[close.start() :]).encode("utf-8")


def write_pieces(pkg: Package, label: AIGCLabel) -> list[Piece]:
    """Pieces of the package with the AIGC property set."""
    value = label.to_inner_json()
    replace: dict[str, bytes] = {}
    add: dict[str, bytes] = {}
    part = pkg.custom_part()
    if part is not None:
        replace[part] = edit_custom_xml(pkg.part_bytes(part), value)
    else:
        part = DEFAULT_PART
        add[part] = new_custom_xml(value)
        overrides = {el.get("PartName", "").lstrip("/") for el in pkg.content_types if el.tag == f"{{{CT_NS}}}Override"}
        if part not in overrides:
            replace["[Content_Types].xml"] = _insert_before_close(
                pkg.content_types_raw,
                "Types",
                f'<Override PartName="/{part}" ContentType="{CUSTOM_CT}"/>',
                "[Content_Types].xml",
            )
        raw, rels = pkg.root_rels()
        if raw is None or rels is None:
            raise CorruptFile("the package has no _rels/.rels")
        ids = {r.get("Id", "") for r in rels}
        n = 1
        while f"rId{n}" in ids:
            n += 1
        if not any(r.get("Type") == CUSTOM_REL for r in rels):
            rel = f'<Relationship Id="rId{n}" Type="{CUSTOM_REL}" Target="{part}"/>'
            replace["_rels/.rels"] = _insert_before_close(raw, "Relationships", rel, "_rels/.rels")
    return ziparchive.rewrite(pkg.buf, pkg.arc, replace, add)


def _write(buf: Buffer, label: AIGCLabel, limits: Limits) -> list[Piece]:
    return write_pieces(Package(buf, limits), label)


def _sniff(head: bytes) -> int:
    if not head.startswith(ziparchive.LFH_SIG):
        return 0
    if b"mimetypeapplication/" in head[:120]:  # ODF, EPUB: zips of another family
        return 0
    return 40


def _text(buf: Buffer, limits: Limits) -> str:
    return Package(buf, limits).text()


OOXML = register(
    Carrier(
        name="ooxml",
        mime="application/vnd.openxmlformats-officedocument",
        extensions=(".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".pptm", ".dotx", ".xltx", ".potx"),
        sniff=_sniff,
        read=_read,
        write=_write,
        media="text",
        text=_text,
    )
)

__all__ = ["OOXML", "Package", "edit_custom_xml", "new_custom_xml", "write_pieces"]
