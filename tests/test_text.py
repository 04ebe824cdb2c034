"""Explicit text labels and the invisible text watermark (aimark.text)."""

from __future__ import annotations

import asyncio
import html.parser
import random
import re

import pytest

from aimark import InvalidArgument
from aimark.text import explicit, watermark
from aimark.watermark import derive_payload, normalize_payload

from .conftest import PRODUCER
from .corpus import chinese_text, documents, english_text

PAYLOAD = bytes.fromhex("0123456789abcdef")
VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")

MARKDOWN = """---
title: "A note"  # a comment that must stay
tags: [ai, test]
---
# Heading one

First paragraph of prose, with several words. It keeps going for a while so that there is room.

| col a | col b |
|-------|-------|
| 1, 2  | 3. 4  |

```python
def f(x, y):  # a comment, with punctuation. And spaces
    return x + y
```

    indented code, with words. more words here

- a list item, with words. Another sentence here
- second item

Last paragraph, written by a model. See [the link](https://example.com/a, b) and `inline, code. here` too.
"""


# -- explicit labels ---------------------------------------------------------------------------
@pytest.mark.parametrize("wording", ["AI生成", "本内容由人工智能生成", "人工智能合成", "由 AI 生成的内容"])
def test_wordings_with_both_elements_pass(wording: str) -> None:
    assert explicit.check_wording(wording) == wording
    assert explicit.find_label(explicit.add_label("正文。", wording=wording)).found


@pytest.mark.parametrize("wording", ["AI-generated", "人工智能", "由模型生成", "", "SAID 生成"])
def test_wordings_missing_an_element_are_refused(wording: str) -> None:
    with pytest.raises(InvalidArgument):
        explicit.add_label("text", wording=wording)


def test_plain_positions_are_found_where_they_were_put() -> None:
    body = english_text()[:4000]
    for at in ("start", "end", "middle"):
        out = explicit.add_label(body, at=at)
        found = explicit.find_label(out)
        assert found.found and found.positions == [at] and found.text == explicit.DEFAULT_TEXT
    assert not explicit.find_label(body).found
    both = explicit.add_label(body, at="start,end")
    assert both.startswith(explicit.DEFAULT_TEXT + "\n\n") and both.endswith(explicit.DEFAULT_TEXT + "\n")
    assert explicit.find_label(both).positions == ["start", "end"]


def _md_blocks(text: str) -> list[str]:
    """Code blocks and table rows: what must never change."""
    return re.findall(r"```.*?```|\|[^\n]*\||(?m:^    \S[^\n]*$)", text, re.DOTALL)


def test_markdown_label_after_front_matter_never_in_code_or_tables() -> None:
    out = explicit.add_label(MARKDOWN, at="start,middle,end", fmt="markdown")
    assert out.startswith(MARKDOWN[: MARKDOWN.index("# Heading")] + explicit.DEFAULT_TEXT + "\n\n# Heading")
    assert _md_blocks(out) == _md_blocks(MARKDOWN)
    for block in _md_blocks(out):
        assert explicit.DEFAULT_TEXT not in block
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line == explicit.DEFAULT_TEXT:  # its own paragraph, between blank lines
            assert (i == 0 or lines[i - 1] == "" or lines[i - 1] == "---") and (i == len(lines) - 1 or lines[i + 1] == "")
    assert explicit.find_label(out, "markdown", window=150).positions == ["start", "middle", "end"]


def test_markdown_end_label_closes_an_open_fence() -> None:
    text = "Some words.\n\n```\nprint('unterminated')\n"
    out = explicit.add_label(text, at="end", fmt="markdown")
    assert out == text + "```\n\n" + explicit.DEFAULT_TEXT + "\n"


class _Visible(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.comments: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("script", "style", "head")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("script", "style", "head")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def test_html_label_is_a_visible_element() -> None:
    paras = "".join(f"<p>Paragraph {i}: {english_text()[i * 200 : i * 200 + 180]}</p>\n" for i in range(8))
    page = f"<!DOCTYPE html><html><head><title>t</title><style>p{{}}</style></head><body>\n{paras}</body></html>"
    out = explicit.add_label(page, at="start,middle,end", fmt="html")
    p = _Visible()
    p.feed(out)
    visible = "".join(p.text)
    assert visible.count(explicit.DEFAULT_TEXT) == 3 and not any(explicit.DEFAULT_TEXT in c for c in p.comments)
    assert out.index('<p class="aigc-label">') > out.index("<body>") and out.rindex("aigc-label") < out.index("</body>")
    assert explicit.find_label(out, "html").positions == ["start", "middle", "end"]
    assert not explicit.find_label(
        f"<html><head><title>{explicit.DEFAULT_TEXT}</title></head><body>x</body></html>", "html"
    ).found


def test_stream_prefix_before_first_token_and_suffix_after_last() -> None:
    tokens = ["Hello", " world", ".\n```py\n", "x = 1"]
    out = list(explicit.label_stream(iter(tokens), at="start,end", fmt="markdown"))
    assert out[0] == explicit.DEFAULT_TEXT + "\n\n" and out[1:5] == tokens
    assert "".join(out).endswith("x = 1\n```\n\n" + explicit.DEFAULT_TEXT + "\n")
    assert list(explicit.label_stream([], at="end")) == ["\n\n" + explicit.DEFAULT_TEXT + "\n"]

    async def agen():  # type: ignore[no-untyped-def]
        for t in tokens:
            yield t

    async def collect() -> list[str]:
        return [t async for t in explicit.alabel_stream(agen(), at="start", fmt="plain", wording="AI生成")]

    got = asyncio.run(collect())
    assert got == ["AI生成\n\n", *tokens]
    with pytest.raises(InvalidArgument):
        list(explicit.label_stream(tokens, at="middle"))


# -- watermark ---------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["english", "chinese"])
def test_watermark_found_in_every_200_char_excerpt(source: str) -> None:
    text = english_text() if source == "english" else chinese_text()
    marked = watermark.embed(text, PAYLOAD)
    assert watermark.strip(marked) == text
    full = watermark.detect(marked)
    assert full.found and full.payload == PAYLOAD.hex() and full.p_value < 1e-6
    rng = random.Random(7)
    for _ in range(300):
        a = rng.randrange(0, len(marked) - 200)
        got = watermark.detect(marked[a : a + 200])
        assert got.found and got.payload == PAYLOAD.hex(), marked[a : a + 200]
    visible = VS.sub("", marked)  # an excerpt of 200 *visible* characters, marks included
    assert visible == text


def test_watermark_does_not_change_words_code_or_markup() -> None:
    text = english_text()[:6000]
    marked = watermark.embed(text, PAYLOAD)
    assert len(marked.split()) == len(text.split())  # word counts unchanged
    for word in set(re.findall(r"[A-Za-z]{3,}", text)):  # single-word search still works
        assert word in marked
    md = watermark.embed(MARKDOWN, PAYLOAD, fmt="markdown", every=40)
    assert _md_blocks(md) == _md_blocks(MARKDOWN) and len(VS.findall(md)) >= 5 * watermark.RUN_BYTES
    assert md.split("---\n")[1] == MARKDOWN.split("---\n")[1]  # front matter untouched
    assert "](https://example.com/a, b)" in md and "`inline, code. here`" in md
    for line in md.splitlines():  # block markers stay at the line start
        if line.startswith(("- ", "#", "|")):
            assert not VS.match(line)
    page = "<html><head><title>a, b</title></head><body><p class='x, y'>" + text[:2000] + "</p><pre>a, b. c</pre></body></html>"
    out = watermark.embed(page, PAYLOAD, fmt="html")
    assert re.findall(r"<[^>]*>", out) == re.findall(r"<[^>]*>", page) and "<pre>a, b. c</pre>" in out
    assert watermark.detect(out).found


def test_watermark_keys_and_stripping() -> None:
    text = chinese_text()
    marked = watermark.embed(text, PAYLOAD, key="service-secret")
    assert not watermark.detect(marked).found  # the public key cannot check a private tag
    assert watermark.detect(marked, key="service-secret").payload == PAYLOAD.hex()
    assert watermark.strip(marked, key="other") == marked
    assert watermark.strip(marked, key="service-secret") == text
    again = watermark.embed(marked, bytes(8))  # re-marking replaces the old payload
    assert watermark.detect(again).payload == "00" * 8 and not watermark.detect(again, key="service-secret").found
    emoji = "I love it ❤️ and 葛󠄀 stays"  # emoji presentation and ideographic variation selectors are kept
    assert watermark.strip(emoji) == emoji


def test_payload_derived_from_label() -> None:
    from aimark import AIGCLabel

    a = AIGCLabel(PRODUCER, "id-1")
    assert derive_payload(a) == derive_payload(a.with_propagation(PRODUCER, "p-9"))
    assert derive_payload(a) != derive_payload(AIGCLabel(PRODUCER, "id-2")) != derive_payload(a, key="k")
    assert normalize_payload(0x0123456789ABCDEF) == PAYLOAD == normalize_payload("0123456789abcdef")
    with pytest.raises(InvalidArgument):
        normalize_payload(b"short")


def test_no_false_positives_on_ordinary_text() -> None:
    docs = documents()
    assert len(docs) >= 90 and sum(len(t) for _, t in docs) > 500_000
    rng = random.Random(11)
    excerpts = 0
    for key in (None, "another-key"):
        for name, text in docs:
            assert not watermark.detect(text, key).found, name
            for _ in range(6):
                if len(text) > 200:
                    a = rng.randrange(0, len(text) - 200)
                    assert not watermark.detect(text[a : a + 200], key).found
                    excerpts += 1
    assert excerpts > 1000
