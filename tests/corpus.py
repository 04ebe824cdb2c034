"""Ordinary text from installed packages, for watermark false-positive and excerpt tests.

Sources (all on a fresh machine of this kind): Debian base-files' license texts in
/usr/share/common-licenses (the licenses themselves; verbatim copying permitted), CPython's
pydoc topic texts (``pydoc_data.topics``, PSF license), and, when the interpreter ships its
test data, CPython's CJK encoding samples (Lib/test/cjkencodings, PSF license). The Chinese
fallback paragraph below was written for these tests.
"""

from __future__ import annotations

import pydoc_data.topics
import sysconfig
from pathlib import Path

CHINESE_FALLBACK = (
    "人工智能生成合成内容标识办法于二零二五年九月一日起施行。服务提供者应当在生成合成内容的适当位置添加显式标识，"
    "并在文件元数据中添加隐式标识。传播平台应当核验元数据中的隐式标识，对于声明或者检测为生成合成的内容，"
    "在发布内容周边添加显著的提示标识，提醒公众该内容可能由人工智能生成。任何组织和个人不得恶意删除、篡改、伪造、"
    "隐匿本办法规定的生成合成内容标识，不得为他人实施上述行为提供工具或者服务。"
)


def documents() -> list[tuple[str, str]]:
    """(name, text) of every corpus document."""
    out: list[tuple[str, str]] = []
    for p in sorted(Path("/usr/share/common-licenses").glob("*")):
        if p.is_file():
            out.append((p.name, p.read_text("utf-8", "replace")))
    out += [(f"pydoc:{k}", v) for k, v in sorted(pydoc_data.topics.topics.items())]
    out += [(p.name, p.read_text("utf-8")) for p in chinese_files()]
    return out


def chinese_files() -> list[Path]:
    d = Path(sysconfig.get_paths()["stdlib"]) / "test" / "cjkencodings"
    return [d / n for n in ("gb18030-utf8.txt", "gb2312-utf8.txt", "gbk-utf8.txt", "big5-utf8.txt") if (d / n).is_file()]


def chinese_text() -> str:
    files = chinese_files()
    text = "\n".join(p.read_text("utf-8") for p in files) if files else ""
    return text if len(text) > 600 else CHINESE_FALLBACK * 3


def english_text() -> str:
    return Path("/usr/share/common-licenses/Apache-2.0").read_text("utf-8")
