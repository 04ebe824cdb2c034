"""Text and documents: explicit labels, the invisible text watermark, and the two verbs of
the media interface (:mod:`aimark.media`): :func:`apply` when labeling, :func:`inspect` when
verifying. Text takes no options of its own.

What each format supports:

============  ==============  ===============  ==================================
format        explicit label  watermark        where the text comes from
============  ==============  ===============  ==================================
txt           start/end/mid   yes              the file
markdown      start/end/mid   yes              the file (not code, front matter)
html          start/end/mid   yes              the file (body text, not tags)
docx          start/end       yes              word/document.xml ``<w:t>`` runs
xlsx, pptx    not yet         not yet          read for verification only
pdf           not yet         not yet          not read (metadata label only)
============  ==============  ===============  ==================================
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass

from ..containers import Buffer, Carrier, Limits, ooxml, ziparchive
from ..containers.textdoc import check_round_trip, decode_document
from ..errors import UnsupportedFormat
from ..media import ContentStep, Probe, parse_places
from ..report import ExplicitReport, WatermarkReport
from ..watermark import Key
from . import explicit, watermark
from .markup import TextFormat

FORMATS: dict[str, TextFormat] = {"txt": "plain", "markdown": "markdown", "html": "html", "ooxml": "plain"}


@dataclass(frozen=True)
class TextStep:
    """What to do to the content of a text document when labeling it."""

    explicit_at: str | None = None  # e.g. "start", "start,end"; None: no explicit label
    wording: str = explicit.DEFAULT_TEXT
    payload: bytes | None = None  # None: no watermark
    key: Key = None
    every: int = watermark.DEFAULT_EVERY


def apply(carrier: Carrier, buf: Buffer, content: ContentStep, limits: Limits) -> bytes:
    """The document with the explicit label and/or watermark added (metadata comes after)."""
    step = TextStep(
        explicit_at=content.at if content.explicit else None,
        wording=content.wording or explicit.DEFAULT_TEXT,
        payload=content.payload,
        key=content.key,
    )
    if carrier.name in ("txt", "markdown", "html"):
        text, codec = decode_document(buf, limits)
        check_round_trip(buf, text, codec)
        fmt = FORMATS[carrier.name]
        if step.explicit_at:
            text = explicit.add_label(text, at=step.explicit_at, fmt=fmt, wording=step.wording)
        if step.payload is not None:
            text = watermark.embed(text, step.payload, step.key, fmt=fmt, every=step.every)
        return codec.encode(text)
    if carrier.name == "ooxml":
        pkg = ooxml.Package(buf, limits)
        if pkg.kind != "docx":
            raise UnsupportedFormat(f"explicit labels and watermarks are not implemented for {pkg.kind} yet (metadata only)")
        xml = pkg.part_bytes("word/document.xml").decode("utf-8")
        if step.explicit_at:
            xml = _docx_explicit(xml, step.explicit_at, step.wording)
        if step.payload is not None:
            xml = _docx_watermark(xml, step)
        pieces = ziparchive.rewrite(buf, pkg.arc, {"word/document.xml": xml.encode("utf-8")}, {})
        return b"".join(bytes(p) for p in pieces)
    raise UnsupportedFormat(f"explicit labels and watermarks are not implemented for {carrier.name} yet (metadata only)")


_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_WT = re.compile(r"(<(?:\w+:)?t(?:\s[^>]*)?>)([^<]*)(</(?:\w+:)?t>)")


def _docx_explicit(xml: str, at: str, wording: str) -> str:
    wording = explicit.check_wording(wording)
    m = re.search(r"xmlns:([\w.-]+)\s*=\s*[\"']" + re.escape(_W_NS) + "[\"']", xml)
    if not m:
        raise UnsupportedFormat("word/document.xml does not declare the WordprocessingML namespace with a prefix")
    w = m.group(1)
    para = f'<{w}:p><{w}:r><{w}:t xml:space="preserve">{_html.escape(wording, quote=False)}</{w}:t></{w}:r></{w}:p>'
    wanted = parse_places(at, ("start", "end"))
    body = re.search(rf"<{w}:body\b[^>]*>", xml)
    close = xml.rfind(f"</{w}:body>")
    if not body or close < 0:
        raise UnsupportedFormat("word/document.xml has no <w:body>")
    end = close
    sect = xml.rfind(f"<{w}:sectPr", body.end(), close)
    if sect >= 0 and xml.find(f"</{w}:p>", sect, close) < 0:  # the body's own section properties come last
        end = sect
    if "end" in wanted:
        xml = xml[:end] + para + xml[end:]
    if "start" in wanted:
        xml = xml[: body.end()] + para + xml[body.end() :]
    return xml


def _docx_watermark(xml: str, step: TextStep) -> str:
    assert step.payload is not None
    matches = list(_WT.finditer(xml))
    texts = [_html.unescape(m.group(2)) for m in matches]
    joined = "\x00".join(texts)
    marked = watermark.embed(joined, step.payload, step.key, fmt="plain", every=step.every).split("\x00")
    out, prev = [], 0
    for m, t in zip(matches, marked, strict=True):
        out += [xml[prev : m.start()], m.group(1), _html.escape(t, quote=False), m.group(3)]
        prev = m.end()
    out.append(xml[prev:])
    return "".join(out)


def inspect(carrier: Carrier, buf: Buffer, probe: Probe, limits: Limits) -> tuple[ExplicitReport | None, WatermarkReport | None]:
    """The explicit label and the watermark of a text document, as ``probe`` asks. Its text is
    the one the container reader decoded, else the carrier's; a format without readable text
    (PDF) gives ``(None, None)``."""
    if not (probe.explicit or probe.watermark):
        return None, None
    text = probe.read.text if probe.read is not None else None
    if text is None:
        if carrier.text is None:
            return None, None
        text = carrier.text(buf, limits)
    fmt = FORMATS.get(carrier.name, "plain")
    found = explicit.find_label(text, fmt) if probe.explicit else None
    wm = watermark.detect(text, probe.key, expected=probe.expected) if probe.watermark else None
    return found, wm


__all__ = ["FORMATS", "TextStep", "apply", "explicit", "inspect", "watermark"]
