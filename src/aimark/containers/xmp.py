"""The TC260 AIGC property inside an XMP packet, shared by every container.

Reading parses the packet with defusedxml after refusing DTDs and entities outright (XMP
never needs them) and accepts the element form ``<TC260:AIGC>{...}</TC260:AIGC>``, the
attribute form ``TC260:AIGC="{...}"`` and, flagged, an ``AIGC`` property in another namespace.

Writing edits the packet text: the TC260 property is updated where it stands (other
properties, comments, whitespace and the xpacket wrapper are kept byte for byte), any other
AIGC property is removed so one label remains, and if there was none a new
``rdf:Description`` carrying only the TC260 property is added before ``</rdf:RDF>``.
Every edit is re-parsed and checked before it is returned.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..errors import AimarkError, CorruptFile, LimitExceeded, UnsafeContent
from ..report import Finding, error, warning
from .base import DEFAULT_LIMITS, Edit, Limits, RawLabel

TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
TC260_PREFIX = "TC260"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PROPERTY = "AIGC"

_UNSAFE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_NAME = r"[A-Za-z_][\w.-]*"
_ELEMENT = re.compile(rf"<(?P<p>{_NAME}):AIGC(?P<attrs>\s[^<>]*?)?(?:/>|>(?P<body>.*?)</(?P=p):AIGC\s*>)", re.DOTALL)
_ATTRIBUTE = re.compile(rf"(?P<sp>\s+)(?!xmlns:)(?P<p>{_NAME}):AIGC\s*=\s*(?P<q>[\"'])(?P<v>.*?)(?P=q)", re.DOTALL)


def check_safe(packet: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    """Raise unless the packet is small enough and free of DTDs and entities."""
    if len(packet) > limits.max_xmp_packet:
        raise LimitExceeded(f"XMP packet of {len(packet)} bytes exceeds the {limits.max_xmp_packet}-byte limit")
    if _UNSAFE.search(packet):
        raise UnsafeContent("XMP packet contains a DOCTYPE or ENTITY declaration; refused")


def _clean(packet: bytes) -> bytes:
    return packet.rstrip(b"\x00 \t\r\n")


def _prefixes(text: str, namespace: str) -> set[str]:
    pat = re.compile(rf"xmlns:({_NAME})\s*=\s*[\"']{re.escape(namespace)}[\"']")
    return set(pat.findall(text))


def read_aigc(packet: bytes, site: str, limits: Limits = DEFAULT_LIMITS) -> tuple[list[RawLabel], list[Finding], bool]:
    """Every AIGC property in ``packet``. Returns (labels, findings, complete)."""
    findings: list[Finding] = []
    try:
        check_safe(packet, limits)
    except AimarkError as exc:
        return [], [error(exc.code, exc.message, site)], False
    packet = _clean(packet)
    try:
        root = SafeET.fromstring(packet, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        findings.append(error("xmp_malformed", f"XMP packet is not well-formed XML ({exc}); scanned as text", site))
        return _scan_text(packet, site), findings, True
    labels: list[RawLabel] = []
    for elem in root.iter():
        tag = elem.tag if isinstance(elem.tag, str) else ""
        ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
        if local.upper() == PROPERTY:
            text = "".join(elem.itertext())
            labels.append(RawLabel(f"{site}:{_site_name(ns)}", text))
            if ns != TC260_NS:
                findings.append(warning("xmp_namespace", f"AIGC property in namespace {ns or '(none)'}, not {TC260_NS}", site))
        for key, value in elem.attrib.items():
            ans, _, alocal = key[1:].partition("}") if key.startswith("{") else ("", "", key)
            if alocal.upper() == PROPERTY and ans:
                labels.append(RawLabel(f"{site}:{_site_name(ans)}@attr", value))
                if ans != TC260_NS:
                    findings.append(warning("xmp_namespace", f"AIGC attribute in namespace {ans}, not {TC260_NS}", site))
    return labels, findings, True


def _site_name(ns: str) -> str:
    return "TC260:AIGC" if ns == TC260_NS else f"{{{ns}}}AIGC"


def _scan_text(packet: bytes, site: str) -> list[RawLabel]:
    text = packet.decode("utf-8", "replace")
    out: list[RawLabel] = []
    for m in _ELEMENT.finditer(text):
        out.append(RawLabel(f"{site}:{m.group('p')}:AIGC", html.unescape(m.group("body") or "")))
    for m in _ATTRIBUTE.finditer(text):
        out.append(RawLabel(f"{site}:{m.group('p')}:AIGC@attr", html.unescape(m.group("v"))))
    return out


def new_packet(value: str) -> bytes:
    """A minimal XMP packet carrying only the TC260 AIGC property."""
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="aimark">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        f'  <rdf:Description rdf:about="" xmlns:{TC260_PREFIX}="{TC260_NS}">\n'
        f"   <{TC260_PREFIX}:AIGC>{_escape_text(value)}</{TC260_PREFIX}:AIGC>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return body.encode("utf-8")


def _escape_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attr(value: str) -> str:
    return _escape_text(value).replace('"', "&quot;")


def set_aigc(packet: bytes | None, value: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Return ``packet`` with exactly one AIGC property, the TC260 one, set to ``value``."""
    out = new_packet(value) if packet is None else _edit(packet, value, limits)
    _verify(out, value, limits)
    return out


class PacketEditor:
    """The one-label rule for a file that may hold several XMP packets.

    Call :meth:`edit` on each packet in file order: the first one gets the label (its other
    properties kept), later ones lose any AIGC property (``None``: leave the packet as it is).
    :meth:`missing` gives the packet to insert when the file had none.
    """

    def __init__(self, value: str, limits: Limits = DEFAULT_LIMITS) -> None:
        self.value, self.limits, self.done = value, limits, False

    def edit(self, packet: bytes) -> bytes | None:
        if not self.done:
            self.done = True
            return set_aigc(packet, self.value, self.limits)
        if read_aigc(packet, "xmp", self.limits)[0]:
            return remove_aigc(packet, self.limits)
        return None

    def missing(self) -> bytes | None:
        return None if self.done else set_aigc(None, self.value, self.limits)


@dataclass(frozen=True)
class PacketSite:
    """An XMP packet held in ``buf[start:end]`` (a segment, chunk or extension), for
    :func:`site_edits`."""

    start: int
    end: int
    packet: bytes


def site_edits(
    sites: Iterable[PacketSite | Sequence[Edit]],
    value: str,
    limits: Limits,
    *,
    wrap: Callable[[bytes], bytes],
    insert_at: Callable[[], int],
) -> list[Edit]:
    """The edits that leave exactly one label, in XMP, in a file whose label sites are
    ``sites`` (in file order): each :class:`PacketSite` is edited by the one-label rule of
    :class:`PacketEditor` and re-wrapped with ``wrap`` (the container's segment, chunk or
    extension); a sequence of edits (a foreign label removed or blanked) is kept as it is.
    When no packet was found, a new one goes at ``insert_at()``. Used by JPEG, PNG, GIF and WebP.
    """
    editor = PacketEditor(value, limits)
    edits: list[Edit] = []
    for site in sites:
        if isinstance(site, PacketSite):
            new = editor.edit(site.packet)
            if new is not None:
                edits.append((site.start, site.end, wrap(new)))
        else:
            edits.extend(site)
    new = editor.missing()
    if new is not None:
        at = insert_at()
        edits.append((at, at, wrap(new)))
    return edits


def remove_aigc(packet: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Return ``packet`` without any AIGC property (everything else kept)."""
    out = _edit(packet, None, limits)
    labels, _, _ = read_aigc(out, "xmp", limits)
    if labels:
        raise AimarkError("internal: XMP edit left an AIGC property behind")
    return out


def _edit(packet: bytes, value: str | None, limits: Limits) -> bytes:
    check_safe(packet, limits)
    try:
        text = packet.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptFile("XMP packet is not UTF-8; refusing to edit it") from None
    tc260 = _prefixes(text, TC260_NS)
    kept = False
    pieces: list[str] = []
    pos = 0
    matches = sorted(
        [(m.start(), m.end(), "elem", m) for m in _ELEMENT.finditer(text)]
        + [(m.start(), m.end(), "attr", m) for m in _ATTRIBUTE.finditer(text)],
        key=lambda t: t[0],
    )
    last_end = -1
    for start, end, kind, m in matches:
        if start < last_end:  # an attribute match inside an element body: not a property
            continue
        pieces.append(text[pos:start])
        if value is not None and not kept and m.group("p") in tc260:
            if kind == "elem":
                attrs = m.group("attrs") or ""
                pieces.append(f"<{m.group('p')}:AIGC{attrs}>{_escape_text(value)}</{m.group('p')}:AIGC>")
            else:
                q = m.group("q")
                esc = _escape_attr(value) if q == '"' else _escape_text(value).replace("'", "&apos;")
                pieces.append(f"{m.group('sp')}{m.group('p')}:AIGC={q}{esc}{q}")
            kept = True
        pos = last_end = end
    pieces.append(text[pos:])
    out = "".join(pieces)
    if value is not None and not kept:
        rdf = _prefixes(out, RDF_NS)
        close = None
        for p in sorted(rdf):
            idx = out.rfind(f"</{p}:RDF>")
            if idx >= 0:
                close = (idx, p)
                break
        if close is None:
            raise CorruptFile("XMP packet has no rdf:RDF element; refusing to rewrite it")
        idx, p = close
        desc = (
            f'<{p}:Description {p}:about="" xmlns:{TC260_PREFIX}="{TC260_NS}">'
            f"<{TC260_PREFIX}:AIGC>{_escape_text(value)}</{TC260_PREFIX}:AIGC></{p}:Description>\n"
        )
        out = out[:idx] + desc + out[idx:]
    return out.encode("utf-8")


def _verify(packet: bytes, value: str, limits: Limits) -> None:
    labels, findings, _ = read_aigc(packet, "xmp", limits)
    if any(f.code == "xmp_malformed" for f in findings):
        raise CorruptFile("the existing XMP packet is not well-formed; refusing to edit it")
    if len(labels) != 1 or labels[0].text != value or "TC260:AIGC" not in labels[0].site:
        raise AimarkError("internal: XMP edit did not produce exactly one TC260 AIGC property")
