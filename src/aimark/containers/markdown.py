"""Markdown: the label as a YAML front matter ``AIGC:`` block (SPEC section 3).

Written as a block mapping with the seven keys in Annex E order, every value double-quoted so
YAML reads strings (``Label: "1"``, never the integer 1)::

    ---
    title: kept as it was
    AIGC:
      Label: "1"
      ContentProducer: "001191110102MACQD9K64010000"
      ...
    ---

The front matter is edited as text: other keys, their order, comments and line endings are
kept; an existing ``AIGC`` entry is replaced where it stands, extra ones are removed, a new one
goes last. A file without front matter gets one. TOML front matter (``+++``) is refused.

Reading accepts what YAML writers produce for that entry: a block mapping, a flow mapping (JSON
included), or a string holding the JSON (plain, quoted or a block scalar). Only this subset of
YAML is parsed, with bounded input; unquoted integers are reported as numbers, as a YAML reader
would see them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import LimitExceeded, UnsupportedFormat
from ..label import AIGCLabel
from .base import Buffer, Carrier, Limits, Piece, RawLabel, ReadResult, register
from .textdoc import check_round_trip, decode_document, document_text, head_text, looks_like_text

_FM = re.compile(r"\A(\ufeff?)---[ \t]*(\r?\n)(.*?)^(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL | re.MULTILINE)
_FM_EMPTY = re.compile(r"\A(\ufeff?)---[ \t]*(\r?\n)()(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)")
_KEY_LINE = re.compile(r"""^(?:AIGC|"AIGC"|'AIGC')[ \t]*:(?=[ \t]|$)(.*)$""")
_INT = re.compile(r"[-+]?[0-9]+")


def front_matter(text: str, limits: Limits) -> tuple[int, int, int, str] | None:
    """(body start, body end, block end, newline) of YAML front matter, or None."""
    m = _FM_EMPTY.match(text) or _FM.match(text)
    if not m:
        if text.lstrip("\ufeff").startswith("+++"):
            raise UnsupportedFormat("TOML front matter (+++) is not supported; use YAML front matter (---)")
        return None
    if m.end(3) - m.start(3) > limits.max_front_matter:
        raise LimitExceeded(f"front matter of {m.end(3) - m.start(3)} characters is over the {limits.max_front_matter} limit")
    return m.start(3), m.end(3), m.end(), m.group(2)


def _entries(lines: list[str]) -> list[tuple[int, int]]:
    """Line ranges [a, b) of each top-level AIGC entry (its key line and continuation)."""
    out = []
    i = 0
    while i < len(lines):
        m = _KEY_LINE.match(lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        depth = _flow_depth(m.group(1))
        while j < len(lines):
            ln = lines[j]
            if depth > 0 or (ln[:1] in (" ", "\t")) or (not ln.strip() and _more_indented_follows(lines, j)):
                depth += _flow_depth(ln)
                j += 1
                continue
            break
        out.append((i, j))
        i = j
    return out


def _more_indented_follows(lines: list[str], j: int) -> bool:
    for ln in lines[j + 1 :]:
        if ln.strip():
            return ln[:1] in (" ", "\t")
    return False


def _flow_depth(s: str) -> int:
    d = 0
    quote = ""
    for ch in s:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "{[":
            d += 1
        elif ch in "}]":
            d -= 1
        elif ch == "#":
            break
    return d


# -- a YAML subset: scalars and flow mappings ---------------------------------------------------
def _scalar(s: str) -> Any:
    s = s.strip()
    if s.startswith('"'):
        end = _close_quote(s, '"')
        try:
            return json.loads(s[: end + 1])
        except ValueError:
            return s[1:end]
    if s.startswith("'"):
        end = _close_quote(s, "'")
        return s[1:end].replace("''", "'")
    s = re.split(r"\s#", s, maxsplit=1)[0].strip()
    if s in ("", "~", "null", "Null", "NULL"):
        return ""
    return int(s) if _INT.fullmatch(s) else s


def _close_quote(s: str, q: str) -> int:
    i = 1
    while i < len(s):
        if q == '"' and s[i] == "\\":
            i += 2
            continue
        if s[i] == q:
            if q == "'" and s[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    return len(s)


def _split_flow(body: str) -> list[str]:
    items, cur, quote, depth = [], [], "", 0
    i = 0
    while i < len(body):
        ch = body[i]
        if quote:
            cur.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(body):
                cur.append(body[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in "{[":
            depth += 1
            cur.append(ch)
        elif ch in "}]":
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        items.append("".join(cur))
    return items


def _pair(item: str) -> tuple[str, Any] | None:
    item = item.strip()
    if not item:
        return None
    if item[0] in "\"'":
        end = _close_quote(item, item[0])
        key = _scalar(item[: end + 1])
        rest = item[end + 1 :].lstrip()
        if not rest.startswith(":"):
            return None
        return str(key), _scalar(rest[1:])
    key, sep, value = item.partition(":")
    return (key.strip(), _scalar(value)) if sep else None


def _json_of_pairs(pairs: list[tuple[str, Any]]) -> str:
    """JSON text of the pairs, duplicates kept, so the label parser reports them."""
    return "{" + ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in pairs) + "}"


def entry_text(lines: list[str]) -> str:
    """The label text of one AIGC entry (its key line and continuation lines)."""
    m = _KEY_LINE.match(lines[0])
    assert m is not None
    rest = m.group(1).strip()
    cont = lines[1:]
    if rest.startswith("{"):
        flow = " ".join([rest, *(ln.strip() for ln in cont)])
        end = flow.rfind("}")
        pairs = [p for p in (_pair(it) for it in _split_flow(flow[1:end])) if p]
        return _json_of_pairs(pairs)
    if rest[:1] in ("|", ">"):
        body = [ln.strip() for ln in cont]
        return ("\n" if rest[0] == "|" else " ").join(body).strip()
    if rest and not rest.startswith("#"):
        value = _scalar(" ".join([rest, *(ln.strip() for ln in cont)]))
        return value if isinstance(value, str) else json.dumps(value)
    pairs = []
    for ln in cont:
        s = ln.strip()
        if not s or s.startswith("#"):
            continue
        p = _pair(s)
        if p:
            pairs.append(p)
    return _json_of_pairs(pairs)


def render_entry(label: AIGCLabel, nl: str = "\n") -> str:
    lines = ["AIGC:"] + [f"  {k}: {json.dumps(v)}" for k, v in label.fields().items()]
    return nl.join(lines) + nl


def _sniff(head: bytes) -> int:
    if not looks_like_text(head):
        return 0
    return 50 if re.match(r"\A---[ \t]*\r?\n", head_text(head)) else 12


def _read(buf: Buffer, limits: Limits) -> ReadResult:
    text, _ = decode_document(buf, limits)
    res = ReadResult(text=text)
    fm = front_matter(text, limits)
    if not fm:
        return res
    body = text[fm[0] : fm[1]]
    lines = body.splitlines()
    texts = [entry_text(lines[a:b]) for a, b in _entries(lines)]
    if not texts and body.lstrip().startswith("{"):  # the whole front matter is one flow mapping
        flow = " ".join(ln.strip() for ln in lines).strip()
        for item in _split_flow(flow[1 : flow.rfind("}")]):
            key, sep, value = item.strip().partition(":")
            if sep and key.strip().strip("\"'") == "AIGC":
                texts.append(entry_text(["AIGC: " + value.strip()]))
    for n, t in enumerate(texts):
        res.labels.append(RawLabel("markdown:front-matter:AIGC" + (f"[{n}]" if n else ""), t))
    return res


def write_markdown_text(text: str, label: AIGCLabel, limits: Limits) -> str:
    fm = front_matter(text, limits)
    if not fm:
        nl = "\r\n" if "\r\n" in text[:4096] else "\n"
        bom = "\ufeff" if text.startswith("\ufeff") else ""
        return bom + "---" + nl + render_entry(label, nl) + "---" + nl + text[len(bom) :]
    start, end, _, nl = fm
    body = text[start:end]
    lines = body.splitlines(keepends=True)
    entries = _entries([ln.rstrip("\r\n") for ln in lines])
    block = render_entry(label, nl)
    if entries:
        out: list[str] = []
        prev = 0
        for n, (a, b) in enumerate(entries):
            out += lines[prev:a]
            if n == 0:
                out.append(block)
            prev = b
        out += lines[prev:]
        new_body = "".join(out)
    else:
        new_body = body + ("" if not body or body.endswith(("\n", "\r")) else nl) + block
    return text[:start] + new_body + text[end:]


def _write(buf: Buffer, label: AIGCLabel, limits: Limits) -> list[Piece]:
    text, codec = decode_document(buf, limits)
    check_round_trip(buf, text, codec)
    return [codec.encode(write_markdown_text(text, label, limits))]


MARKDOWN = register(
    Carrier(
        name="markdown",
        mime="text/markdown",
        extensions=(".md", ".markdown", ".mdown", ".mkd"),
        sniff=_sniff,
        read=_read,
        write=_write,
        media="text",
        text=document_text,
        ext_hint=True,
    )
)

__all__ = ["MARKDOWN", "entry_text", "front_matter", "render_entry", "write_markdown_text"]
