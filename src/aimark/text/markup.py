"""Just enough Markdown and HTML structure for labels and watermarks to stay out of the way.

Neither module parses a full document tree. They find the spans where an inserted character
would change what the document *means* (code, tags, link targets, front matter, tables) and
the visible text a reader sees, with bounded, linear scans.
"""

from __future__ import annotations

import bisect
import html
import re
from typing import Literal

TextFormat = Literal["plain", "markdown", "html"]
Span = tuple[int, int]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.MULTILINE)
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_LINK_TARGET = re.compile(r"\]\([^)\n]*\)|\]\[[^\]\n]*\]|^ {0,3}\[[^\]\n]+\]:.*$|<[^<>\n]*>|https?://\S+", re.MULTILINE)
_HTML_RAW = re.compile(r"<(script|style|pre|code|textarea|head)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_HTML_TAG = re.compile(r"<!--.*?-->|<![^>]*>|<\?.*?\?>|</?[A-Za-z][^>]*>", re.DOTALL)
_HTML_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def front_matter_span(text: str) -> Span | None:
    """The span of a YAML front matter block (``---`` ... ``---``) at the very start."""
    m = _FRONT_MATTER.match(text)
    return (0, m.end()) if m else None


def fenced_blocks(text: str) -> list[Span]:
    """Fenced code blocks; an unclosed fence runs to the end of the text (as CommonMark says)."""
    spans: list[Span] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if not m:
            return spans
        fence = m.group(1)
        closer = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.MULTILINE)
        line_end = text.find("\n", m.end())
        if line_end < 0:
            spans.append((m.start(), len(text)))
            return spans
        c = closer.search(text, line_end + 1)
        if not c:
            spans.append((m.start(), len(text)))
            return spans
        end = text.find("\n", c.end())
        end = len(text) if end < 0 else end
        spans.append((m.start(), end))
        pos = end


def _line_spans(text: str, pred: re.Pattern[str]) -> list[Span]:
    return [(m.start(), m.end()) for m in pred.finditer(text)]


_TABLE_LINE = re.compile(r"^[^\n]*\|[^\n]*$", re.MULTILINE)
_INDENTED = re.compile(r"^(?: {4}|\t)[^\n]*$", re.MULTILINE)
_HTML_BLOCK_LINE = re.compile(r"^ {0,3}<[^\n]*$", re.MULTILINE)


def protected_spans(text: str, fmt: TextFormat) -> list[Span]:
    """Spans where nothing may be inserted, sorted by start (they may overlap)."""
    spans: list[Span] = []
    if fmt == "markdown":
        fm = front_matter_span(text)
        if fm:
            spans.append(fm)
        spans += fenced_blocks(text)
        spans += _line_spans(text, _INDENTED)
        spans += _line_spans(text, _TABLE_LINE)
        spans += _line_spans(text, _HTML_BLOCK_LINE)
        spans += _line_spans(text, _INLINE_CODE)
        spans += _line_spans(text, _LINK_TARGET)
    elif fmt == "html":
        body = re.search(r"<body\b[^>]*>", text, re.IGNORECASE)
        if body:
            spans.append((0, body.end()))
        spans += _line_spans(text, _HTML_RAW)
        spans += _line_spans(text, _HTML_TAG)
        spans += _line_spans(text, _HTML_ENTITY)
    spans.sort()
    return spans


def merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a, b in sorted(spans):
        if out and a < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def inside(spans: list[Span], pos: int) -> bool:
    """Whether ``pos`` (an insertion point) falls strictly inside one of the merged ``spans``."""
    i = bisect.bisect_right(spans, (pos, float("inf"))) - 1  # type: ignore[arg-type]
    return i >= 0 and spans[i][0] < pos < spans[i][1]


def visible_text(text: str, fmt: TextFormat) -> str:
    """The text a reader sees: HTML without tags, scripts, styles and head; Markdown without
    front matter. Entities are decoded. Used to look for an explicit label."""
    if fmt == "html":
        body = re.search(r"<body\b[^>]*>(.*)", text, re.IGNORECASE | re.DOTALL)
        t = body.group(1) if body else text
        t = re.sub(r"<(script|style|head|template)\b.*?</\1\s*>", " ", t, flags=re.DOTALL | re.IGNORECASE)
        t = re.sub(r"<!--.*?-->", " ", t, flags=re.DOTALL)
        t = re.sub(r"<(br|p|div|h[1-6]|li|tr|section|article|header|footer)\b[^>]*>", "\n", t, flags=re.IGNORECASE)
        t = re.sub(r"<[^>]*>", "", t)
        return html.unescape(t)
    if fmt == "markdown":
        fm = front_matter_span(text)
        return text[fm[1] :] if fm else text
    return text


__all__ = ["Span", "TextFormat", "fenced_blocks", "front_matter_span", "inside", "merge", "protected_spans", "visible_text"]
