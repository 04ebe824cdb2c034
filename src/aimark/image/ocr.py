"""Reading a visible label in a picture (SPEC section 1, section 6 case 3): text recognition by
RapidOCR (``rapidocr-onnxruntime``, the ``ocr`` extra: PP-OCR detection, angle and recognition
models shipped inside its wheel and run by ONNX Runtime; nothing is downloaded).

:func:`find_label` takes a picture as displayed (an RGB array) and reports an
:class:`~aimark.report.ExplicitReport`:

* ``found`` -- a line of text that holds both label elements (the AI element and the generation
  element, the rule :func:`aimark.media.missing_elements` applies to every label aimark draws).
  Text in a photograph that lacks one of them is not a label: ``found`` is false and the line is
  reported as ``text`` with ``complete`` false, so an auditor sees what was read.
* ``box`` -- the line's box (left, top, right, bottom) in displayed pixels, ``position`` -- the
  ninth of the picture its centre is in (the names of :data:`aimark.image.explicit.POSITIONS`).
* ``glyph_height`` -- the height of the ink inside that box as a share of the shortest side
  (the rows that hold glyph edges, :func:`ink_height`), the figure
  :func:`aimark.image.explicit.plan` sizes what it draws by, so that a platform can check the 5%
  rule on what it received.

ONNX Runtime's telemetry is turned off (``ORT_DISABLE_TELEMETRY=1``, unless already set) before
it is loaded: its client otherwise writes a session file into the temporary folder.
Recognitions run one at a time (a lock): ONNX Runtime already uses every core.

Recognition reads "AI" in small type as "Al" or "A1" now and then; such a pair directly before
or after a generation element is taken for "AI" (and only there).
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from typing import Any

import numpy as np

from ..errors import MissingDependency
from ..media import missing_elements
from ..report import ExplicitReport

#: recognised lines below this confidence are ignored
MIN_SCORE = 0.5
#: the picture is scaled down to this longest side before recognition (bounds time and memory;
#: a label of 5% of the shortest side stays legible)
MAX_SIDE = 2000
_ENGINE: Any = None
_BROKEN: str | None = None  # why loading failed, once it has
_LOCK = threading.Lock()
_NEAR_GEN = re.compile(r"(?<![A-Za-z])A[l1|I!](?=\s*(?:生成|合成))|(?<=生成|合成)A[l1|I!](?![A-Za-z])")


def available() -> bool:
    """Whether text recognition can run: the extra is installed *and* loads (its GUI build of
    OpenCV needs libGL; without it verify says the label was not looked for and keeps the
    watermark result, rather than failing the content check)."""
    from ..media import first_missing

    if first_missing(("rapidocr_onnxruntime", "onnxruntime")) is not None:
        return False
    try:
        _engine()
    except MissingDependency:
        return False
    return True


def _engine() -> Any:
    global _ENGINE, _BROKEN
    with _LOCK:
        if _BROKEN is not None:  # a failed load is not retried on every picture
            raise MissingDependency(_BROKEN, extra="ocr")
        if _ENGINE is None:
            # ONNX Runtime's telemetry (its 1DS client writes a session file into TMPDIR and
            # would send events): off, unless the user set the variable themselves
            os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # the extra, or the system libraries its OpenCV build links
                _BROKEN = f"reading visible labels needs the ocr extra ({exc}): pip install 'aimark[ocr]'"
                raise MissingDependency(_BROKEN, extra="ocr") from None
            _ENGINE = RapidOCR(print_verbose=False)
        return _ENGINE


def normalize(text: str) -> str:
    """What was read, in the form the label rule is applied to: compatibility forms folded
    (full-width letters), spaces dropped, and the "Al" misreading next to a generation element
    mended."""
    t = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return _NEAR_GEN.sub("AI", t)


def _position(cx: float, cy: float, w: int, h: int) -> str:
    col = min(2, int(3 * cx / max(1, w)))
    row = min(2, int(3 * cy / max(1, h)))
    names = [["top-left", "top", "top-right"], ["left", "center", "right"], ["bottom-left", "bottom", "bottom-right"]]
    return names[row][col]


def ink_height(luma: np.ndarray, box: tuple[int, int, int, int], share: float = 0.4) -> int:
    """Rows of ink in ``box`` of a luma plane: the longest run of rows around the busiest one
    whose horizontal contrast is at least ``share`` of the busiest row's. A row's contrast is
    the mean of its strongest quarter of differences between neighbouring pixels: glyph strokes
    cross every row of the ink with sharp edges, while a plate's top and bottom edges add no
    horizontal contrast and a textured background adds many weaker edges (which a plain mean
    over the row would count). An outline adds its width (a pixel or two) at most."""
    x0, y0, x1, y1 = box
    region = luma[y0:y1, x0:x1].astype(np.float32)
    if region.shape[0] < 3 or region.shape[1] < 3:
        return 0
    diffs = np.abs(np.diff(region, axis=1))
    k = max(1, diffs.shape[1] // 4)
    prof = -np.sort(-diffs, axis=1)[:, :k].mean(axis=1)
    peak = int(np.argmax(prof))
    on = prof >= share * prof[peak]
    top = bottom = peak
    while top > 0 and on[top - 1]:
        top -= 1
    while bottom < len(on) - 1 and on[bottom + 1]:
        bottom += 1
    return bottom - top + 1


def find_label(rgb: np.ndarray, *, min_score: float = MIN_SCORE) -> ExplicitReport:
    """The visible label in a displayed picture (H x W x 3, uint8), or ``found`` false."""
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError("find_label takes an H x W x 3 uint8 RGB array")
    h, w = rgb.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    engine = _engine()
    with _LOCK:  # one recognition at a time: ONNX Runtime already uses every core, and each
        result, _ = engine(bgr)  # concurrent run would hold its own working memory
    luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    best: tuple[float, bool, str, tuple[int, int, int, int]] | None = None
    for quad, text, score in result or []:
        score = float(score)
        if score < min_score:
            continue
        t = normalize(str(text))
        complete = not missing_elements(t)
        pts = np.asarray(quad, np.float32)
        box = (
            max(0, int(np.floor(pts[:, 0].min()))),
            max(0, int(np.floor(pts[:, 1].min()))),
            min(luma.shape[1], int(np.ceil(pts[:, 0].max()))),
            min(luma.shape[0], int(np.ceil(pts[:, 1].max()))),
        )
        key = (complete, score)
        if best is None or key > (best[1], best[0]):
            best = (score, complete, t, box)
    if best is None:
        return ExplicitReport(found=False)
    score, complete, text, box = best
    ink = ink_height(luma, box)
    short = min(luma.shape[:2])
    x0, y0, x1, y1 = (round(v / scale) for v in box)
    return ExplicitReport(
        found=complete,
        position=_position((x0 + x1) / 2, (y0 + y1) / 2, w, h) if complete else None,
        text=text,
        box=(x0, y0, x1, y1),
        glyph_height=round(ink / short, 4) if short else None,
        complete=complete,
        score=round(score, 3),
    )


__all__ = ["MAX_SIDE", "MIN_SCORE", "available", "find_label", "ink_height", "normalize"]
