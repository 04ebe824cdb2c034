"""Explicit (visible) text labels: add one at the start, the end or a middle position; find one.

A label text must hold an **AI element** ("人工智能" or "AI") and a **generation element**
("生成" or "合成") (SPEC section 1). The default wording is "本内容由人工智能生成".

Formats:

* ``plain``: the label is its own paragraph (blank line between it and the text).
* ``markdown``: after YAML front matter, never inside fenced or indented code, tables, lists or
  HTML blocks; a middle label goes to the paragraph break nearest the middle; an end label after
  a fence the text left open closes that fence first (what a renderer shows is unchanged).
* ``html``: a visible ``<p class="aigc-label">`` element (not a comment), right after ``<body>``
  or before ``</body>``; a middle label after the block element that ends nearest the middle.

For LLM output, :func:`label_stream` / :func:`alabel_stream` wrap a token iterator: the prefix
goes out before the first token, the suffix after the last.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from typing import Literal

from ..errors import InvalidArgument
from ..media import AI_ELEMENT, GEN_ELEMENT, check_wording, missing_elements, parse_places
from ..report import ExplicitReport
from .markup import TextFormat, fenced_blocks, front_matter_span, inside, merge, protected_spans, visible_text

Position = Literal["start", "end", "middle"]
POSITIONS: tuple[str, ...] = ("start", "end", "middle")
DEFAULT_TEXT = "本内容由人工智能生成"
HTML_CLASS = "aigc-label"

_PHRASE = re.compile(rf"{AI_ELEMENT}[^\n]{{0,24}}?{GEN_ELEMENT}|{GEN_ELEMENT}[^\n]{{0,12}}?{AI_ELEMENT}")
_INVISIBLE = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u200b-\u200d\u2060\ufeff]")


def _positions(at: str | Sequence[str]) -> list[str]:
    return parse_places(at, POSITIONS)


def render(wording: str, fmt: TextFormat) -> str:
    """The label as it is inserted in a document of format ``fmt``."""
    if fmt == "html":
        return f'<p class="{HTML_CLASS}">{html.escape(wording)}</p>'
    return wording


# -- insertion points per format ---------------------------------------------------------------
def _start(text: str, fmt: TextFormat) -> int:
    if fmt == "markdown":
        fm = front_matter_span(text)
        return fm[1] if fm else (1 if text.startswith("\ufeff") else 0)
    if fmt == "html":
        m = re.search(r"<body\b[^>]*>", text, re.IGNORECASE)
        if m:
            return m.end()
        m = re.search(r"</head\s*>", text, re.IGNORECASE)
        if m:
            return m.end()
        m = re.match(r"\s*(?:<!DOCTYPE[^>]*>\s*)?(?:<html\b[^>]*>\s*)?", text, re.IGNORECASE)
        return m.end() if m else 0
    return 1 if text.startswith("\ufeff") else 0


def _end(text: str, fmt: TextFormat) -> int:
    if fmt == "html":
        for tag in (r"</body\s*>", r"</html\s*>"):
            last = None
            for last in re.finditer(tag, text, re.IGNORECASE):  # noqa: B007 - want the last one
                pass
            if last:
                return last.start()
    return len(text)


_LIST_ITEM = re.compile(r" {0,3}(?:[-*+]|\d{1,9}[.)])[ \t]")
_INDENTED = re.compile(r"(?: {4}|\t)")


def _splits_a_block(text: str, a: int, b: int) -> bool:
    """Whether a paragraph inserted in the blank lines text[a:b] would split a Markdown block:
    an indented code block or list continuation, or a loose list (items on both sides)."""
    nxt = text[b : text.find("\n", b) if "\n" in text[b:] else len(text)]
    prev_end = a
    prev = text[text.rfind("\n", 0, prev_end) + 1 : prev_end]
    if _INDENTED.match(nxt):
        return True
    return bool(_LIST_ITEM.match(nxt) and (_LIST_ITEM.match(prev) or _INDENTED.match(prev)))


def _middle(text: str, fmt: TextFormat) -> int | None:
    mid = len(text) // 2
    spans = merge(protected_spans(text, fmt))
    best: int | None = None
    if fmt == "html":
        for m in re.finditer(r"</(?:p|div|h[1-6]|ul|ol|table|blockquote|section|article|pre)\s*>", text, re.IGNORECASE):
            if not inside(spans, m.end()) and (best is None or abs(m.end() - mid) < abs(best - mid)):
                best = m.end()
        return best
    for m in re.finditer(r"\n[ \t]*\n", text):
        pos = m.end()
        if inside(spans, pos) or (fmt == "markdown" and (inside(spans, m.start()) or _splits_a_block(text, m.start(), pos))):
            continue
        if best is None or abs(pos - mid) < abs(best - mid):
            best = pos
    return best


def _nl(text: str) -> str:
    return "\r\n" if "\r\n" in text[:4096] else "\n"


def add_label(
    text: str,
    *,
    at: str | Sequence[str] = "start",
    fmt: TextFormat = "plain",
    wording: str = DEFAULT_TEXT,
) -> str:
    """``text`` with the explicit label at each position in ``at`` ("start", "end", "middle",
    or several, e.g. ``"start,end"``). Raises :class:`~aimark.errors.InvalidArgument` for a wording without both
    elements or a middle position that does not exist (a text with no paragraph break)."""
    wording = check_wording(wording)
    label = render(wording, fmt)
    nl = _nl(text)
    edits: list[tuple[int, str]] = []
    for pos in _positions(at):
        if pos == "start":
            i = _start(text, fmt)
            edits.append((i, label + nl if fmt == "html" else label + nl + nl))
        elif pos == "end":
            i = _end(text, fmt)
            if fmt == "html":
                edits.append((i, label + nl))
                continue
            prefix = ""
            if fmt == "markdown":
                blocks = fenced_blocks(text)
                if blocks and blocks[-1][1] == len(text) and not _closed(text, blocks[-1]):
                    fence = re.match(r" {0,3}(`{3,}|~{3,})", text[blocks[-1][0] :])
                    assert fence is not None
                    prefix = ("" if text.endswith("\n") else nl) + fence.group(1) + nl
            body = text + prefix
            sep = "" if body.endswith(nl + nl) or not body else (nl if body.endswith(nl) else nl + nl)
            edits.append((i, prefix + sep + label + nl))
        else:
            i_mid = _middle(text, fmt)
            if i_mid is None:
                raise InvalidArgument("no place for a middle label (the text has no paragraph break outside code and tables)")
            edits.append((i_mid, label + nl if fmt == "html" else label + nl + nl))
    out: list[str] = []
    prev = 0
    for i, s in sorted(edits, key=lambda e: e[0]):
        out += [text[prev:i], s]
        prev = i
    out.append(text[prev:])
    return "".join(out)


def _closed(text: str, block: tuple[int, int]) -> bool:
    lines = text[block[0] : block[1]].rstrip("\r\n").splitlines()
    if len(lines) < 2:
        return False
    opener = re.match(r" {0,3}(`{3,}|~{3,})", lines[0])
    closer = re.fullmatch(r" {0,3}(`{3,}|~{3,})[ \t]*", lines[-1])
    return bool(opener and closer and closer.group(1)[0] == opener.group(1)[0] and len(closer.group(1)) >= len(opener.group(1)))


# -- streaming -------------------------------------------------------------------------------
class _FenceTracker:
    """Follows fenced code blocks in streamed Markdown, line by line."""

    def __init__(self) -> None:
        self.fence: str | None = None
        self.line = ""
        self.last = ""

    def feed(self, chunk: str) -> None:
        if chunk:
            self.last = chunk
        self.line += chunk
        *done, self.line = self.line.split("\n")
        for ln in done:
            self._line(ln)

    def _line(self, ln: str) -> None:
        m = re.match(r" {0,3}(`{3,}|~{3,})", ln)
        if not m:
            return
        if self.fence is None:
            self.fence = m.group(1)
        elif m.group(1)[0] == self.fence[0] and len(m.group(1)) >= len(self.fence) and not ln.strip()[len(m.group(1)) :].strip():
            self.fence = None

    def suffix(self, label: str) -> str:
        pending = self.line
        if pending:
            self._line(pending)
        close = ""
        nl_needed = bool(pending)
        if self.fence is not None:
            close = ("\n" if nl_needed else "") + self.fence + "\n"
            nl_needed = False
        return close + ("\n" if nl_needed else "") + "\n" + label + "\n"


def _stream_parts(at: str | Sequence[str], fmt: TextFormat, wording: str) -> tuple[str, str | None, bool]:
    wanted = _positions(at)
    if "middle" in wanted:
        raise InvalidArgument("a stream can be labeled at the start and/or the end, not the middle")
    label = render(check_wording(wording), fmt)
    prefix = label + ("\n" if fmt == "html" else "\n\n") if "start" in wanted else ""
    return prefix, label if "end" in wanted else None, fmt == "markdown"


def label_stream(
    chunks: Iterable[str], *, at: str | Sequence[str] = "start", fmt: TextFormat = "plain", wording: str = DEFAULT_TEXT
) -> Iterator[str]:
    """Yield the label before the first chunk and/or after the last (``at`` = start, end or
    both). With ``fmt="markdown"`` an end label after an unclosed code fence closes it first."""
    prefix, end_label, track = _stream_parts(at, fmt, wording)
    if prefix:
        yield prefix
    tracker = _FenceTracker()
    for chunk in chunks:
        tracker.feed(chunk)
        yield chunk
    if end_label is not None:
        yield _end_suffix(tracker, end_label, track, fmt)


async def alabel_stream(
    chunks: AsyncIterable[str], *, at: str | Sequence[str] = "start", fmt: TextFormat = "plain", wording: str = DEFAULT_TEXT
) -> AsyncIterator[str]:
    """:func:`label_stream` for an async iterator (e.g. an async LLM client)."""
    prefix, end_label, track = _stream_parts(at, fmt, wording)
    if prefix:
        yield prefix
    tracker = _FenceTracker()
    async for chunk in chunks:
        tracker.feed(chunk)
        yield chunk
    if end_label is not None:
        yield _end_suffix(tracker, end_label, track, fmt)


def _end_suffix(tracker: _FenceTracker, label: str, track: bool, fmt: TextFormat) -> str:
    if track:
        return tracker.suffix(label)
    if fmt == "html":
        return "\n" + label + "\n"
    ends_nl = tracker.last.endswith("\n")
    return ("\n" if ends_nl else "\n\n") + label + "\n"


# -- finding a label -------------------------------------------------------------------------
def find_label(text: str, fmt: TextFormat = "plain", *, window: int = 300) -> ExplicitReport:
    """Look for an explicit label (a short phrase holding both elements) in the visible text:
    within ``window`` characters of the start or the end, or anywhere else ("middle")."""
    vis = _INVISIBLE.sub("", visible_text(text, fmt))
    n = len(vis)
    positions: list[str] = []
    first: tuple[str, str] | None = None
    for m in _PHRASE.finditer(vis):
        near_start, near_end = m.start() < window, m.end() > n - window
        if near_start and (not near_end or m.start() <= n - m.end()):
            where = "start"
        elif near_end:
            where = "end"
        else:
            where = "middle"
        if where not in positions:
            positions.append(where)
        if first is None:
            first = (where, _line_around(vis, m.start(), m.end()))
    if first is None:
        return ExplicitReport(False)
    return ExplicitReport(True, first[0], first[1], positions)


def _line_around(text: str, a: int, b: int) -> str:
    s = text.rfind("\n", 0, a) + 1
    e = text.find("\n", b)
    e = len(text) if e < 0 else e
    line = text[s:e].strip()
    return line if len(line) <= 80 else text[a:b]


__all__ = [
    "DEFAULT_TEXT",
    "POSITIONS",
    "Position",
    "add_label",
    "alabel_stream",
    "check_wording",
    "find_label",
    "label_stream",
    "missing_elements",
    "render",
]
