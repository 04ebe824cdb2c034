"""The video watermark: the image mark (:mod:`aimark.image.watermark`) on every frame's luma,
detected by accumulating evidence over sampled frames.

**Embedding.** The keyed tile carrying the payload, drawn at twice the image mark's scale
(chips of 4 x 4 pixels, so that H.264, H.265 and VP9 at usual rates keep it), is tiled over the
frame once; each
frame adds ``mask x tile`` to its luma plane, where the mask (computed on a half-size copy of the
frame) puts more change where the picture is busy. Chroma is untouched. The per-frame cost is
two small blurs, two resizes, a multiply and a saturating add (a few milliseconds at 720p), small
next to decoding and encoding. The same tile in every frame means that frame drops, frame-rate
changes and excerpts remove nothing, and that H.264's motion-compensated prediction carries the
mark from frame to frame; a frame taken alone is an image the image detector reads.

**Detection.** The sampled frames are halved (so the mark is at the image mark's own scale),
and their whitened residuals (the image detector's first step) are summed: the mark adds up
frame after frame while the pictures, which change, average away.
The sum goes through the image detector's fold, sync search, lattice recovery (scaling,
rotation), 8 orientations (flips) and tag check, so the false-positive bound is the image
mark's: ``p_value`` bounds the chance that an unmarked video yields a payload.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..image import watermark as image_watermark
from ..report import WatermarkReport
from ..watermark import Key

METHOD = "video-tile128"
DEFAULT_STRENGTH = 2.4  # RMS change of luma per frame, 8-bit units (about 40.5 dB PSNR)
#: the image tile drawn at this scale (chips of 4 x 4 pixels, a 128-pixel period): video codecs
#: at usual rates keep that band, where they quantise the image mark's 2-pixel chips away
SCALE = image_watermark.LARGE_SCALE
MIN_SIDE = image_watermark.MIN_SIDE * SCALE


class Embedder:
    """Adds the mark for one payload and key to frames of one size (in place, luma only)."""

    def __init__(self, payload: bytes, key: Key, width: int, height: int, strength: float = DEFAULT_STRENGTH) -> None:
        self.pattern = image_watermark.tiled_pattern(payload, key, height, width, SCALE) * np.float32(strength)
        self.size = (width, height)

    def __call__(self, y: np.ndarray) -> None:
        import cv2

        delta = cv2.multiply(mask(y), self.pattern)
        y[...] = cv2.add(y, delta, dtype=cv2.CV_8U)


# the image mark's 4-pixel-chip tile smoothing and texture mask (shared, not copied)
SMOOTH_SIGMA = image_watermark.SMOOTH_SIGMA
smooth_tile = image_watermark.smooth_tile
mask = image_watermark.texture_mask


#: a frame whose own sync score is at or below this adds nothing to the weighted sum: unmarked
#: frames (and frames whose mark a codec dragged away with moving content) peak about here
NOISE_Z = 3.6


def detect(frames: Iterable[np.ndarray], key: Key = None, *, expected: bytes | None = None) -> WatermarkReport:
    """Look for the mark in luma planes of one video (blind); ``frames`` in the report says how
    many frames were looked at.

    Three searches, in order, until one finds the payload:

    1. the folded tiles of the frames at the mark's own scale, each weighted by how strongly it
       shows the mark (intra-coded frames keep it best; in frames predicted from moving content
       a codec drags it away, and those frames would only add noise);
    2. the plain sum of the frames' residuals at that scale, with the lattice search (a video
       scaled or rotated after marking);
    3. the plain sum at full size (a video scaled down to half puts the mark at the image
       mark's scale there).
    """
    import cv2

    sums: dict[int, np.ndarray] = {}
    weighted = np.zeros((image_watermark.TILE, image_watermark.TILE))
    total_w = 0.0
    n = 0
    for y in frames:
        if min(y.shape) < image_watermark.MIN_SIDE:
            continue
        half = cv2.resize(y, (y.shape[1] // SCALE, y.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
        for factor, plane in ((SCALE, half), (1, y)):
            if min(plane.shape) < image_watermark.MIN_SIDE:
                continue
            r = image_watermark.residual(plane)
            if factor == SCALE:
                folded = image_watermark.fold(r)
                w = max(0.0, image_watermark.sync_score(folded, key) - NOISE_Z)
                weighted += w * folded / max(float(np.abs(folded).mean()), 1e-9)
                total_w += w
            acc = sums.get(factor)
            if acc is None:
                sums[factor] = r.astype(np.float32)
            elif acc.shape == r.shape:
                acc += r
        n += 1
    searches: list[tuple[str, object]] = []
    if total_w > 0:
        searches.append(
            ("weighted frames", lambda: image_watermark.detect_folded(weighted, key, expected=expected, method=METHOD))
        )
    for factor, name in ((SCALE, "all frames"), (1, "all frames, half-size video")):
        if factor in sums:
            acc = sums[factor]
            searches.append((name, lambda a=acc: image_watermark.detect_residual(a, key, expected=expected, method=METHOD)))
    rep = WatermarkReport(METHOD, False, detail={"attempts": 0})
    attempts = 0
    for name, run in searches:
        rep = run()  # type: ignore[operator]
        attempts += int(rep.detail.get("attempts", 0))
        if rep.found:
            rep.detail["search"] = name
            break
    rep.detail["frames"] = n
    rep.detail["attempts"] = attempts
    if rep.found:  # up to three searches: the bound counts them all
        rep.p_value = min(1.0, 3 * rep.p_value)
    return rep


def best_guess(frames: Iterable[np.ndarray], key: Key = None) -> bytes:
    """The payload bits read from the frames' summed fold at the mark's own scale, *unverified*
    (its tag may not check): for bit accuracy in benchmarks; detection is :func:`detect`."""
    import cv2

    total = np.zeros((image_watermark.TILE, image_watermark.TILE))
    for y in frames:
        half = cv2.resize(y, (y.shape[1] // SCALE, y.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
        total += image_watermark.fold(image_watermark.residual(half))
    return image_watermark.best_guess_folded(total, key)


__all__ = ["DEFAULT_STRENGTH", "METHOD", "Embedder", "best_guess", "detect", "mask"]
