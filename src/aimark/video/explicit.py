"""The visible label of a video (SPEC section 1): on the opening frames for at least 2 s of
presentation time (and, when asked, on the last 2 s or on every frame as a corner badge), glyph
height at least 5% of the *displayed* shortest side.

The label is laid out and rendered by the image label (:mod:`aimark.image.explicit`: the drawn
ink is measured, the bundled CJK font), for the frame as displayed (the stream's rotation
applied) and turned back into the stored orientation, then blended into the YUV planes: luma
toward the label's grey level (limited or full range, as the stream is), chroma toward neutral.
Only the label's box changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..image import explicit as image_explicit

#: display rotation (counter-clockwise degrees) -> the EXIF orientation the image label knows
_ORIENT = {0: 1, 90: 8, 180: 3, 270: 6}
DEFAULT_SECONDS = 2.0
#: the label's target glyph height: a little over the 5% rule, so that encoding's softening of
#: the glyph edges never takes the measured height under it
DEFAULT_HEIGHT = 0.055


class Overlay:
    """The label for frames of one geometry, ready to blend."""

    def __init__(
        self,
        width: int,
        height: int,
        rotation: int,
        text: str,
        *,
        position: str = "bottom-right",
        font: str | None = None,
        style: str = "plate",
        full_range: bool = False,
        first_luma: np.ndarray | None = None,
        height_share: float = DEFAULT_HEIGHT,
    ) -> None:
        from PIL import Image

        orient = _ORIENT.get(rotation % 360, 1)
        display = (height, width) if orient in (6, 8) else (width, height)
        text = image_explicit.check_wording(text)
        self.plan = image_explicit.plan(display, text, position=position, height=height_share, font=font, style=style)
        base: Any = Image.fromarray(first_luma if first_luma is not None else np.full((height, width), 128, np.uint8), "L")
        grey, alpha = image_explicit._render(self.plan, base, orient, font)
        ys, xs = np.nonzero(alpha)
        if ys.size == 0:
            raise ValueError("the label draws nothing")
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        y0, x0 = y0 - y0 % 2, x0 - x0 % 2  # even edges: the chroma box lines up with the luma box
        y1, x1 = min(height, y1 + y1 % 2), min(width, x1 + x1 % 2)
        self.box = (y0, y1, x0, x1)
        self.alpha = alpha[y0:y1, x0:x1]
        lo, span = (0.0, 255.0) if full_range else (16.0, 219.0)
        self.target = lo + span * grey[y0:y1, x0:x1]
        self.rotation = rotation

    def apply(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        import cv2

        y0, y1, x0, x1 = self.box
        a = self.alpha
        region = y[y0:y1, x0:x1].astype(np.float32)
        y[y0:y1, x0:x1] = np.clip(np.rint(region * (1 - a) + self.target * a), 0, 255).astype(np.uint8)
        sy, sx = y.shape[0] // max(1, u.shape[0]), y.shape[1] // max(1, u.shape[1])
        cy0, cy1, cx0, cx1 = y0 // sy, min(u.shape[0], -(-y1 // sy)), x0 // sx, min(u.shape[1], -(-x1 // sx))
        if cy1 <= cy0 or cx1 <= cx0:
            return
        ac = (
            cv2.resize(a, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_AREA)
            if (sy, sx) != (1, 1)
            else a[: cy1 - cy0, : cx1 - cx0]
        )
        for plane in (u, v):
            region = plane[cy0:cy1, cx0:cx1].astype(np.float32)
            plane[cy0:cy1, cx0:cx1] = np.clip(np.rint(region * (1 - ac) + 128.0 * ac), 0, 255).astype(np.uint8)


def labeled(t: float, places: list[str], seconds: float, duration: float, badge: bool) -> bool:
    """Whether the frame at presentation time ``t`` carries the label."""
    if badge:
        return True
    if "start" in places and t < seconds:
        return True
    return "end" in places and duration > 0 and t >= duration - seconds


__all__ = ["DEFAULT_SECONDS", "Overlay", "labeled"]
