"""The visible label of an image (SPEC section 1): a text with both elements on an edge or corner,
its rendered glyph box at least 5% of the image's shortest side.

**Size** is measured on what is drawn, not taken from the font size: the text is rendered into
a mask, the height of its ink (the rows that hold any glyph pixel) is measured, and the font size
is raised until that height is at least ``height`` x the shortest side of the image *as
displayed* (after its EXIF orientation).

**Legibility.** ``style="plate"`` (default) puts the text in white on a dark, 60% opaque plate,
legible on any background; ``style="outline"`` draws no plate: the text takes black or white,
whichever contrasts with the pixels under it, with a stroke of the other.

**Orientation.** The label is laid out in the displayed orientation and turned back into the
stored one, so it appears upright in viewers while the EXIF orientation tag stays valid.

**Font.** The bundled font is a subset of Noto Sans CJK SC Bold (SIL OFL 1.1, see
``aimark/data/fonts/OFL.txt``) with ASCII and the characters of the usual wordings
(人工智能生成合成...). For other texts pass ``font=`` (a path to a TrueType/OpenType file).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from ..errors import InputError, InvalidArgument
from ..media import check_wording

DEFAULT_TEXT = "AI生成"
DEFAULT_HEIGHT = 0.05
POSITIONS = ("top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right", "center")
STYLES = ("plate", "outline")
FONT_FILE = "AimarkLabelSC-Bold.otf"
_MAX_FONT_PX = 4000

# EXIF orientation -> Pillow transpose that turns the stored pixels into the displayed ones
_DISPLAY = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE"}
_DISPLAY |= {6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}
# ... and the transpose that turns displayed pixels back into stored ones
_STORED = _DISPLAY | {6: "ROTATE_90", 8: "ROTATE_270"}


@dataclass(frozen=True)
class LabelPlan:
    """Where and how big the label is, in displayed-image pixels."""

    text: str
    font_size: int
    glyph_height: int  # measured height of the drawn ink
    box: tuple[int, int, int, int]  # plate (or text) box: left, top, right, bottom
    display_size: tuple[int, int]  # width, height as displayed
    style: str = "plate"
    stroke: int = 0  # outline width (style "outline")
    origin: tuple[int, int] = (0, 0)  # where Pillow draws the text so that its ink fills the box

    @property
    def glyph_fraction(self) -> float:
        return self.glyph_height / min(self.display_size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "font_size": self.font_size,
            "glyph_height": self.glyph_height,
            "glyph_fraction": round(self.glyph_fraction, 4),
            "box": list(self.box),
        }


def default_font_path() -> str:
    return str(resources.files("aimark") / "data" / "fonts" / FONT_FILE)


def _font(path: str | None, size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.truetype(path or default_font_path(), size)
    except OSError as e:
        raise InvalidArgument(f"cannot load font {path or FONT_FILE!r}: {e}") from None


@lru_cache(maxsize=8)
def _coverage(path: str) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True, fontNumber=0) as f:
        return frozenset(f.getBestCmap() or {})


def _missing_glyphs(text: str, path: str | None) -> list[str]:
    cmap = _coverage(path or default_font_path())
    return [ch for ch in dict.fromkeys(text) if not ch.isspace() and ord(ch) not in cmap]


def _ink(text: str, font: Any, stroke: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The rendered text mask and the bbox of its ink (without the stroke)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
    w, h = right - left + 2, bottom - top + 2
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((-left + 1, -top + 1), text, font=font, fill=255)
    a = np.asarray(mask)
    rows = np.flatnonzero(a.max(axis=1) >= 192)  # ink: pixels at least 75% covered by a glyph
    cols = np.flatnonzero(a.max(axis=0) >= 192)
    if rows.size == 0:
        raise InvalidArgument(f"the font draws nothing for {text!r}")
    return a, (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def plan(
    size: tuple[int, int],
    text: str = DEFAULT_TEXT,
    *,
    position: str = "bottom-right",
    height: float = DEFAULT_HEIGHT,
    font: str | None = None,
    style: str = "plate",
) -> LabelPlan:
    """Lay out a label on an image of displayed ``size`` (width, height)."""
    if position not in POSITIONS:
        raise InvalidArgument(f"position is one of {', '.join(POSITIONS)}; got {position!r}")
    if style not in STYLES:
        raise InvalidArgument(f"style is one of {', '.join(STYLES)}; got {style!r}")
    if not 0.05 <= height <= 0.5:
        raise InvalidArgument("label height is a fraction of the shortest side in [0.05, 0.5] (SPEC: at least 5%)")
    text = text.strip()
    if not text or "\n" in text or len(text) > 100:
        raise InvalidArgument("an image label text is one line of 1..100 characters")
    w, h = size
    short = min(w, h)
    target = math.ceil(height * short)
    fs = max(4, target)
    for _ in range(12):
        if fs > _MAX_FONT_PX:
            raise InputError("the label would need a font larger than 4000 px")
        f = _font(font, fs)
        _, ink = _ink(text, f, 0)
        got = ink[3] - ink[1]
        if got >= target:
            break
        fs = max(fs + 1, math.ceil(fs * target / max(got, 1)))
    else:  # pragma: no cover - converges in 2-3 steps for real fonts
        raise InputError("could not size the label text")
    stroke = max(1, fs // 14) if style == "outline" else 0
    text_w, text_h = ink[2] - ink[0], ink[3] - ink[1]
    pad = max(1, round(0.3 * text_h)) if style == "plate" else stroke
    box_w, box_h = text_w + 2 * pad, text_h + 2 * pad
    if box_w > w or box_h > h:
        raise InvalidArgument(f"the label {text!r} at {text_h} px does not fit a {w}x{h} image; use a shorter text")
    margin = max(1, round(0.02 * short))
    if box_w + 2 * margin > w or box_h + 2 * margin > h:
        margin = 0
    vert, _, horiz = position.partition("-")
    if position in ("left", "right"):
        vert, horiz = "middle", position
    if position == "center":
        vert, horiz = "middle", "center"
    if position in ("top", "bottom"):
        horiz = "center"
    x = {"left": margin, "right": w - margin - box_w}.get(horiz, (w - box_w) // 2)
    y = {"top": margin, "bottom": h - margin - box_h}.get(vert, (h - box_h) // 2)
    left, top = f.getbbox(text)[:2]
    origin = (x + pad - ink[0] - left + 1, y + pad - ink[1] - top + 1)
    return LabelPlan(text, fs, text_h, (x, y, x + box_w, y + box_h), (w, h), style, stroke, origin)


def _orientation(image: Any) -> int:
    try:
        o = int(image.getexif().get(0x0112, 1))
    except Exception:  # a broken EXIF block: treat as upright
        return 1
    return o if o in _DISPLAY else 1


def add_label(
    image: Any,
    text: str = DEFAULT_TEXT,
    *,
    position: str = "bottom-right",
    height: float = DEFAULT_HEIGHT,
    font: str | None = None,
    style: str = "plate",
) -> Any:
    """Draw the visible label on a PIL image; returns a new image of the same mode and size.

    Raises :class:`~aimark.errors.InvalidArgument` when ``text`` lacks the AI element or the
    generation element of SPEC section 1 (the same rule as for every media,
    :func:`aimark.media.check_wording`) and when the bundled font has no glyph for a character
    (pass ``font=``).
    """
    from PIL import Image

    if not isinstance(image, Image.Image):
        raise InvalidArgument("add_label takes a PIL.Image.Image")
    text = check_wording(text)
    if font is None:
        lacking = _missing_glyphs(text, None)
        if lacking:
            raise InvalidArgument(f"the bundled font has no glyph for {''.join(lacking)!r}; pass font= with a font that has")
    orient = _orientation(image)
    w, h = image.size
    disp = (h, w) if orient in (5, 6, 7, 8) else (w, h)
    p = plan(disp, text, position=position, height=height, font=font, style=style)
    overlay, alpha = _render(p, image, orient, font)
    return _composite(image, overlay, alpha)


def _render(p: LabelPlan, image: Any, orient: int, font: str | None) -> tuple[np.ndarray, np.ndarray]:
    """The label as (H, W) luma-like grey levels 0..1 and alpha 0..1 in stored orientation."""
    from PIL import Image, ImageDraw

    f = _font(font, p.font_size)
    x0, y0, x1, y1 = p.box
    grey = Image.new("L", p.display_size, 0)
    alpha = Image.new("L", p.display_size, 0)
    if p.style == "plate":
        r = max(1, (y1 - y0) // 5)
        ImageDraw.Draw(alpha).rounded_rectangle((x0, y0, x1 - 1, y1 - 1), r, fill=153)
        ImageDraw.Draw(grey).text(p.origin, p.text, font=f, fill=255)
        ImageDraw.Draw(alpha).text(p.origin, p.text, font=f, fill=255)
    else:
        under = _display_luma(image, orient)[y0:y1, x0:x1]
        light_bg = float(under.mean()) >= 128 if under.size else False
        fill, edge = (0, 255) if light_bg else (255, 0)
        ImageDraw.Draw(grey).text(p.origin, p.text, font=f, fill=fill, stroke_width=p.stroke, stroke_fill=edge)
        ImageDraw.Draw(alpha).text(p.origin, p.text, font=f, fill=255, stroke_width=p.stroke, stroke_fill=255)
    if orient != 1:
        t = getattr(Image.Transpose, _STORED[orient])
        grey, alpha = grey.transpose(t), alpha.transpose(t)
    return np.asarray(grey, np.float32) / 255.0, np.asarray(alpha, np.float32) / 255.0


def _display_luma(image: Any, orient: int) -> np.ndarray:
    from PIL import Image

    g = image.convert("L") if image.mode not in ("I;16", "I;16L", "I;16B", "I") else image.point(lambda v: v / 257).convert("L")
    if orient != 1:
        g = g.transpose(getattr(Image.Transpose, _DISPLAY[orient]))
    return np.asarray(g)


def _composite(image: Any, grey: np.ndarray, alpha: np.ndarray) -> Any:
    from PIL import Image

    mode = image.mode
    if mode in ("RGB", "RGBA", "L", "LA"):
        base, top, dtype = np.asarray(image), 255.0, np.uint8
    elif mode in ("I;16", "I;16L", "I;16B"):
        base, top, dtype = np.asarray(image), 65535.0, np.uint16
    elif mode in ("P", "PA", "1", "CMYK", "LAB", "HSV", "YCbCr", "I", "F"):
        conv = "RGBA" if mode in ("P", "PA") and ("transparency" in image.info or mode == "PA") else "RGB" if mode != "1" else "L"
        out = _composite(image.convert(conv), grey, alpha)
        if mode in ("P", "PA"):
            return out.convert("RGB").quantize(256, dither=Image.Dither.NONE) if conv == "RGB" else out.quantize(256)
        return out.convert(mode)
    else:
        raise InputError(f"cannot draw a label on a {mode!r} image")

    def back(region: np.ndarray, img: Any, sl: tuple[slice, slice]) -> Any:
        arr = np.array(img)  # a writable copy of the pixels; only the label's box changes
        arr[sl] = region.astype(dtype)
        return Image.fromarray(arr) if mode not in ("RGB", "RGBA", "L", "LA") else Image.fromarray(arr, mode)

    ys, xs = np.nonzero(alpha)
    if ys.size == 0:
        return image.copy()
    sl = (slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1))
    region = base[sl].astype(np.float32)  # only the label's box is blended
    al, gr = alpha[sl], grey[sl] * np.float32(top)
    if region.ndim == 2:
        region = region * (1 - al) + gr * al
    else:
        n = 3 if region.shape[2] >= 3 else 1
        region[..., :n] = region[..., :n] * (1 - al[..., None]) + gr[..., None] * al[..., None]
        if region.shape[2] in (2, 4):  # the label is opaque where it is drawn
            region[..., -1] = np.maximum(region[..., -1], al * top)
    return back(np.clip(np.rint(region), 0, top), image, sl)


__all__ = ["DEFAULT_HEIGHT", "DEFAULT_TEXT", "POSITIONS", "STYLES", "LabelPlan", "add_label", "default_font_path", "plan"]
