"""An invisible Unicode watermark for text.

**Encoding.** Each byte becomes one Unicode *variation selector* (VS1-VS16 for 0-15,
VS17-VS256 = U+E0100-U+E01EF for 16-255). Variation selectors are default-ignorable: text
renderers draw nothing for them and ordinary editors, browsers, Word and LibreOffice show the
text unchanged. A *run* is 13 of them::

    magic 0xA1 | payload (8 bytes, XOR a keyed mask) | tag (4 bytes, keyed HMAC of the payload)

so only a holder of the key can check the tag, and text that was not marked passes a check
with probability 2**-32 per candidate run (:func:`detect` reports the union bound as
``p_value``).

**Placement.** Runs are repeated every ``every`` characters (default 120), each one just after
a space between two words or after a CJK punctuation mark: never inside a word, at a line start,
in code (fenced, indented, inline), tables, link targets, front matter, HTML tags, scripts,
styles or ``<pre>``. So any excerpt of >= 200 characters of marked prose holds a whole run, and
word counts and searches for single words are unaffected.

**What removes it.** Anything that drops default-ignorable code points: retyping, OCR or a
screenshot, "paste as plain text" paths and sanitizers that delete format/mark characters,
saving in a legacy encoding that cannot hold them (GBK, Latin-1), LLM rewriting or
translation, and :func:`strip`. A search for a phrase that spans a run may fail in editors
that match code points literally.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from ..errors import InvalidArgument
from ..report import WatermarkReport
from ..watermark import Key, keyed_bytes, normalize_payload, union_bound
from .markup import TextFormat, inside, merge, protected_spans

METHOD = "text-vs1"
MAGIC = 0xA1
RUN_BYTES = 1 + 8 + 4
TAG_BITS = 32
DEFAULT_EVERY = 120

_VS_CLASS = "\ufe00-\ufe0f\U000e0100-\U000e01ef"
_RUNS = re.compile(f"[{_VS_CLASS}]{{{RUN_BYTES},}}")
_CJK_PUNCT = set("，。！？；：、")
_ASCII_PUNCT = set(".,;:!?")


def _sym(b: int) -> str:
    return chr(0xFE00 + b) if b < 16 else chr(0xE0100 + b - 16)


def _byte(ch: str) -> int:
    o = ord(ch)
    return o - 0xFE00 if o < 0xFE10 else o - 0xE0100 + 16


def make_run(payload: bytes | int | str, key: Key = None) -> str:
    """The 13 invisible characters that carry ``payload`` under ``key``."""
    p = normalize_payload(payload)
    mask = keyed_bytes(key, "aimark/text/mask", n=8)
    tag = keyed_bytes(key, "aimark/text/tag", p, 4)
    frame = bytes([MAGIC]) + bytes(a ^ b for a, b in zip(p, mask, strict=True)) + tag
    return "".join(_sym(b) for b in frame)


def _read_run(run: str, key: Key) -> bytes | None:
    frame = bytes(_byte(c) for c in run)
    if frame[0] != MAGIC:
        return None
    mask = keyed_bytes(key, "aimark/text/mask", n=8)
    p = bytes(a ^ b for a, b in zip(frame[1:9], mask, strict=True))
    return p if keyed_bytes(key, "aimark/text/tag", p, 4) == frame[9:13] else None


def candidates(text: str, fmt: TextFormat = "plain") -> list[int]:
    """Insertion points where a run changes neither words nor markup (see module docs)."""
    spans = merge(protected_spans(text, fmt))
    out: list[int] = []
    n = len(text)
    for i in range(2, n):
        prev, nxt = text[i - 1], text[i]
        if prev in _CJK_PUNCT:
            ok = nxt not in "\r\n" and not nxt.isspace()
        elif prev == " ":
            before = text[i - 2]
            ok = nxt.isalnum() and (before.isalnum() or (before in _ASCII_PUNCT and i >= 3 and text[i - 3].isalpha()))
        else:
            continue
        if ok and not (spans and inside(spans, i)):
            out.append(i)
    return out


def embed(
    text: str, payload: bytes | int | str, key: Key = None, *, fmt: TextFormat = "plain", every: int = DEFAULT_EVERY
) -> str:
    """``text`` with the payload's run inserted about every ``every`` characters.

    Existing runs (any key) are removed first, so a text carries one payload. A text with no
    place for a run (no spaces or punctuation outside code) is returned with none: check with
    :func:`detect` when that matters.
    """
    if every < 20:
        raise InvalidArgument("every must be >= 20 characters")
    run = make_run(payload, key)
    text = strip(text)
    cands = candidates(text, fmt)
    if not cands:
        return text
    chosen: list[int] = []
    target = min(every // 2, len(text))
    while True:
        j = bisect.bisect_left(cands, target)
        # the nearest candidate at or before the target, else the next one after it
        pick = cands[j - 1] if j > 0 and (not chosen or cands[j - 1] > chosen[-1]) else (cands[j] if j < len(cands) else None)
        if pick is None or (chosen and pick <= chosen[-1]):
            break
        chosen.append(pick)
        target = pick + every
        if target >= len(text) + every // 2:
            break
    parts: list[str] = []
    prev = 0
    for pos in chosen:
        parts += [text[prev:pos], run]
        prev = pos
    parts.append(text[prev:])
    return "".join(parts)


@dataclass(frozen=True)
class _Scan:
    valid: Counter[bytes]
    windows: int
    runs: int


def _scan(text: str, key: Key) -> _Scan:
    valid: Counter[bytes] = Counter()
    windows = runs = 0
    for m in _RUNS.finditer(text):
        runs += 1
        s = m.group(0)
        for k in range(len(s) - RUN_BYTES + 1):
            if _byte(s[k]) != MAGIC:
                continue
            windows += 1
            p = _read_run(s[k : k + RUN_BYTES], key)
            if p is not None:
                valid[p] += 1
    return _Scan(valid, windows, runs)


def detect(text: str, key: Key = None, *, expected: bytes | None = None) -> WatermarkReport:
    """Look for runs valid under ``key``. ``found`` needs one run whose 32-bit tag checks;
    ``p_value`` bounds the chance of that in unmarked text (union over the runs tried)."""
    scan = _scan(text, key)
    if not scan.valid:
        detail = {"runs": 0, "candidates": scan.windows}
        return WatermarkReport(METHOD, False, None, 1.0, None, detail)
    payload, votes = scan.valid.most_common(1)[0]
    p_value = union_bound(scan.windows, TAG_BITS)  # one valid run suffices
    matches = None if expected is None else payload == expected
    detail = {"runs": votes, "candidates": scan.windows, "payloads": len(scan.valid)}
    return WatermarkReport(METHOD, True, payload.hex(), p_value, matches, detail)


def strip(text: str, key: Key = None) -> str:
    """Remove aimark runs: every run made with ``key``, or, with ``key=None``, every run of
    this format whatever its key. For re-marking (a platform replacing a payload) and for the
    Art. 9 case of handing out unlabeled content under a user agreement. Other variation
    selectors (emoji, ideographic variation sequences) are kept."""

    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        out: list[str] = []
        k = 0
        while k < len(s):
            win = s[k : k + RUN_BYTES]
            if len(win) == RUN_BYTES and _byte(win[0]) == MAGIC and (key is None or _read_run(win, key) is not None):
                k += RUN_BYTES
                continue
            out.append(s[k])
            k += 1
        return "".join(out)

    return _RUNS.sub(repl, text)


__all__ = ["DEFAULT_EVERY", "METHOD", "candidates", "detect", "embed", "make_run", "strip"]
