"""The video watermark: the image mark (:mod:`aimark.image.watermark`) on every frame's luma,
moving with the picture, detected by accumulating evidence over sampled frames.

**Embedding.** The keyed tile carrying the payload, drawn at twice the image mark's scale
(chips of 4 x 4 pixels, so that H.264, H.265 and VP9 at usual rates keep it), is tiled over the
frame; each frame adds ``mask x tile`` to its luma plane, where the mask (computed on a
half-size copy of the frame) puts more change where the picture is busy. Chroma is untouched.
The tile **follows the camera**: the picture's global translation is measured (phase
correlation of a quarter-size copy against an anchor frame) and the tile is shifted with it, to
the nearest pixel. A static mark over moving content is a new pattern for the encoder in every
predicted frame (on a camera pan over a smooth picture it was most of what x264 coded, and most
of the labeling time); a mark that moves with the content is predicted with it, by the labeling
encoder and by any later re-encoder alike, so it costs fewer bits and survives predicted frames
better. A scene cut (no clear correlation peak) leaves the tile where it was. Each frame
taken alone is an image the image detector reads, at whatever offset the tile has reached.

**Detection.** The sampled frames are halved (so the mark is at the image mark's own scale);
each frame's whitened residual is folded to one tile, and each fold is turned and rolled to
its own best sync position (:func:`aimark.image.watermark.aligned_fold`) and weighted by how
strongly it shows the mark, then the folds are summed: the mark adds up frame after frame
wherever it sat, while the pictures, which change, average away. The same is done at full size
(a video scaled to half). Then, for a video scaled or rotated after marking, the plain sum of
the residuals goes through the image detector's lattice recovery. The tag check makes the
false-positive bound the image mark's, times the number of searches: ``p_value`` bounds the
chance that an unmarked video yields a payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

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


#: a correlation peak (against the anchor frame) at least this high moves the tile (below: a
#: cut, or nothing clear to follow, and the tile stays)
MOTION_MIN_RESPONSE = 0.3
#: the anchor moves on to the current frame after this many frames, when the peak falls under
#: ANCHOR_RESPONSE, or when the picture has moved an eighth of its size: far from its anchor a
#: zoom or a turn blurs the peak, and its position jumps
ANCHOR_FRAMES = 8
ANCHOR_RESPONSE = 0.5


class Embedder:
    """Adds the mark for one payload and key to consecutive frames of one size (in place, luma
    only), the tile following the frames' global translation."""

    def __init__(
        self, payload: bytes, key: Key, width: int, height: int, strength: float = DEFAULT_STRENGTH, *, moving: bool = True
    ) -> None:
        """``moving=False`` keeps the tile still (the mark as it was before it followed the
        camera; for comparison in benchmarks)."""
        import cv2

        period = image_watermark.TILE * SCALE
        # one period more than the frame each way: a shifted tiling is a window of it
        self.pattern = image_watermark.tiled_pattern(payload, key, height + period, width + period, SCALE) * np.float32(strength)
        self.size = (width, height)
        self.period = period
        self.q = 4 if min(width, height) >= 256 else 1
        self.small = (max(1, width // self.q), max(1, height // self.q))
        self.window = cv2.createHanningWindow(self.small, cv2.CV_32F)
        self.anchor: np.ndarray | None = None
        self.anchor_offset: tuple[float, float] = (0.0, 0.0)
        self.since = 0  # frames measured against the anchor
        self.moving = moving
        self.offset = [0.0, 0.0]  # (x, y) pixels the picture has moved since the first frame

    def follow(self, y: np.ndarray, half: np.ndarray | None = None) -> tuple[int, int]:
        """Update the offset from this frame (before it is marked); the tile's shift, (x, y).
        ``half``: the frame already shrunk to half size, when the caller has it.

        Each frame is measured against an anchor frame, not against the frame before, so the
        correlation's sub-pixel errors do not add up frame after frame (see
        :data:`ANCHOR_FRAMES` for when the anchor moves on)."""
        import cv2

        src = y if half is None or self.q != 4 else half  # (a quarter of the frame is a half of the half)
        small = cv2.resize(src, self.small, interpolation=cv2.INTER_AREA).astype(np.float32)
        if self.anchor is None:
            self.anchor, self.anchor_offset, self.since = small, (self.offset[0], self.offset[1]), 0
            return round(self.offset[0]), round(self.offset[1])
        (dx, dy), response = cv2.phaseCorrelate(self.anchor, small, self.window)
        self.since += 1
        if response >= MOTION_MIN_RESPONSE and np.isfinite(dx) and np.isfinite(dy):
            self.offset = [self.anchor_offset[0] + dx * self.q, self.anchor_offset[1] + dy * self.q]
        else:
            dx = dy = 0.0  # a cut, or nothing to follow: the tile stays
        far = abs(dx) * 8 > self.small[0] or abs(dy) * 8 > self.small[1]
        if self.since >= ANCHOR_FRAMES or response < ANCHOR_RESPONSE or far:
            self.anchor, self.anchor_offset, self.since = small, (self.offset[0], self.offset[1]), 0
        return round(self.offset[0]), round(self.offset[1])

    def __call__(self, y: np.ndarray) -> None:
        import cv2

        w, h = self.size
        half = cv2.resize(y, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        sx, sy = self.follow(y, half) if self.moving else (0, 0)
        x0, y0 = -sx % self.period, -sy % self.period
        delta = cv2.multiply(mask(y, half), self.pattern[y0 : y0 + h, x0 : x0 + w])
        y[...] = cv2.add(y, delta, dtype=cv2.CV_8U)


# the image mark's 4-pixel-chip tile smoothing (shared, not copied)
SMOOTH_SIGMA = image_watermark.SMOOTH_SIGMA
smooth_tile = image_watermark.smooth_tile


def mask(y: np.ndarray, half: np.ndarray | None = None) -> np.ndarray:
    """The image mark's texture mask (:func:`aimark.image.watermark.texture_mask`), its
    activity map made at quarter size (``coarse``): the mask is made for every frame."""
    return image_watermark.texture_mask(y, half=half, coarse=True)


#: a frame whose own sync score is at or below this adds nothing to the weighted sum: unmarked
#: frames (and frames whose mark a codec dragged away with moving content) peak about here
NOISE_Z = 3.6


#: the searches :func:`detect` can make: the false-positive bound counts them all
SEARCHES = 4


def _aligned(r: np.ndarray, key: Key) -> tuple[float, np.ndarray]:
    """One frame's residual folded and aligned to its own sync position
    (:func:`aimark.image.watermark.aligned_fold`), scaled to mean magnitude 1, and its weight:
    how far its sync score stands above what unmarked frames show."""
    z, tile = image_watermark.aligned_fold(image_watermark.fold(r), key)
    return max(0.0, z - NOISE_Z), tile / max(float(np.abs(tile).mean()), 1e-9)


def detect(frames: Iterable[np.ndarray], key: Key = None, *, expected: bytes | None = None) -> WatermarkReport:
    """Look for the mark in luma planes of one video (blind); ``frames`` in the report says how
    many frames were looked at.

    Up to :data:`SEARCHES` searches, in order, until one finds the payload:

    1. the frames' folded tiles at the mark's own scale, each aligned to its own sync position
       and weighted by how strongly it shows the mark (frames a codec blurred or that moved
       against the tile add little);
    2. the same at full size (a video scaled down to half puts the mark at the image mark's
       scale there);
    3. the plain sum of the frames' residuals at the mark's scale, with the lattice search (a
       video scaled or rotated after marking; the tile moved little);
    4. the plain sum at full size.
    """
    import cv2

    sums: dict[int, np.ndarray] = {}
    aligned: dict[int, np.ndarray] = {}  # only where some frame showed the mark
    n = 0
    for y in frames:
        if min(y.shape) < image_watermark.MIN_SIDE:
            continue
        half = cv2.resize(y, (y.shape[1] // SCALE, y.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
        for factor, plane in ((SCALE, half), (1, y)):
            if min(plane.shape) < image_watermark.MIN_SIDE:
                continue
            r = image_watermark.residual(plane)
            w, tile = _aligned(r, key)
            if w > 0:
                acc = aligned.setdefault(factor, np.zeros_like(tile))
                acc += w * tile
            total = sums.get(factor)
            if total is None:
                sums[factor] = r.astype(np.float32)
            elif total.shape == r.shape:
                total += r
        n += 1
    searches: list[tuple[str, object]] = []
    for factor, name in ((SCALE, "aligned frames"), (1, "aligned frames, half-size video")):
        if factor in aligned:
            searches.append(
                (name, lambda a=aligned[factor]: image_watermark.detect_folded(a, key, expected=expected, method=METHOD))
            )
    for factor, name in ((SCALE, "all frames"), (1, "all frames, half-size video")):
        if factor in sums:
            acc = sums[factor]
            # the image detector's lattice scan stays off: it would lengthen every clean verify
            search = partial(image_watermark.detect_residual, acc, key, expected=expected, method=METHOD, scan=False)
            searches.append((name, search))
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
    if rep.found:  # up to SEARCHES searches: the bound counts them all
        rep.p_value = min(1.0, SEARCHES * rep.p_value)
    return rep


def best_guess(frames: Iterable[np.ndarray], key: Key = None) -> bytes:
    """The payload bits read from the frames' aligned folds at the mark's own scale, summed,
    *unverified* (its tag may not check): for bit accuracy in benchmarks; detection is
    :func:`detect`."""
    import cv2

    total = np.zeros((image_watermark.TILE, image_watermark.TILE))
    for y in frames:
        half = cv2.resize(y, (y.shape[1] // SCALE, y.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
        w, tile = _aligned(image_watermark.residual(half), key)
        total += max(w, 1e-3) * tile  # (every frame counts a little: a guess is wanted even when none shows the mark)
    return image_watermark.best_guess_folded(total, key)


__all__ = ["DEFAULT_STRENGTH", "METHOD", "SEARCHES", "Embedder", "best_guess", "detect", "mask"]
