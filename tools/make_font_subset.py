"""Make the bundled label font: a subset of Noto Sans CJK SC Bold (SIL OFL 1.1).

Source: Debian bookworm package ``fonts-noto-cjk`` 1:20220127+repack1-1,
``/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc`` (face 2, "Noto Sans CJK SC Bold").
Run: ``apt-get install fonts-noto-cjk && python tools/make_font_subset.py``.
The subset keeps printable ASCII, CJK punctuation and the characters of the usual label wordings.
"""

from pathlib import Path

from fontTools.subset import Options, Subsetter
from fontTools.ttLib import TTCollection

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FACE = 2  # Noto Sans CJK SC Bold
TEXT = "".join(chr(c) for c in range(0x20, 0x7F)) + "人工智能生成合成本内容由标识图片视频音频深度·：（）【】「」，。、！？—"
OUT = Path(__file__).resolve().parent.parent / "src/aimark/data/fonts/AimarkLabelSC-Bold.otf"


def main() -> None:
    font = TTCollection(SOURCE).fonts[FACE]
    options = Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    sub = Subsetter(options)
    sub.populate(text=TEXT)
    sub.subset(font)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    font.save(OUT)
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
