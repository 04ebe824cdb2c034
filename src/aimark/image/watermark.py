"""A blind, keyed image watermark that survives compression, cropping, scaling and small rotations.

**Pattern.** A keyed tile of 32 x 32 *chips* (each 2 x 2 pixels, so the tile is 64 x 64) is
repeated over the whole image. A keyed 20% of the chips are *sync* chips with fixed keyed signs;
the others carry the 330 coded bits of the frame (64-bit payload + 40-bit keyed tag, rate-1/3
convolutional code, :mod:`aimark.watermark.ecc`), each coded bit on two or three chips with keyed
signs. The tile is added to luma (the same amount to R, G and B, so colours keep their hue),
scaled by a texture mask and set to a fixed RMS strength (about 40 dB PSNR).

**SSIM limit.** No pixel gets more mark than its structural-similarity window can hide
(:func:`ssim_cap`: the mark may cost each 7 x 7 window about 2% of its SSIM). On small pictures
what the limit takes off smooth areas goes back into textured ones, up to the strength; flat
pictures (a moon, a clear sky) end with a weaker mark rather than a visible one.

**Large pictures** (:func:`chip_scale`: from 1.2 megapixels) get the same tile at twice the scale
(4 x 4-pixel chips, a 128-pixel period), smoothed, under a mask linear in the local texture,
at a lower strength (about 43 dB PSNR): low-quality WebP and JPEG and downscaled screenshots
keep that band where they erase 2-pixel chips, and the smooth parts of a large photograph (sky,
sand, studio backgrounds) get almost no change. The video mark is this large-picture mark on
every frame.

**Detection** needs no original, size, offset or scale. It runs on the picture at full size
and at half size (where 4-pixel chips are 2-pixel chips) when that is big enough, first at the
scale :func:`embed` would have chosen for this size:

1. the luma is whitened (a high-pass residual divided by its local amplitude);
2. the residual is *folded*: summed modulo the tile period into one 64 x 64 tile, which adds up
   every repetition of the mark and averages the picture away;
3. the folded tile is correlated (FFT) with the keyed sync chips in all 8 orientations of the
   square (rotations by 90 degrees and mirror images), giving the crop offset and orientation;
4. the chips are read at that offset, combined into soft coded bits, Viterbi-decoded, and the
   frame is accepted only if its 40-bit keyed tag checks.

When the image was scaled or rotated, the fold at the original period smears the mark. The
detector then estimates the tile lattice from the autocorrelation of the residual (a periodic
mark makes peaks at the lattice vectors), undoes that scale and rotation, and folds again. The
lattice comes from single peaks that stand out, and else from a scan that adds up the
autocorrelation at the first ten lattice points over a grid of scales (0.4 to 1.8) and
rotations (up to 6 degrees): a downscaled screenshot's peaks are too weak one by one.

**False positives.** Every decode attempt on unmarked content passes the 40-bit tag with
probability 2**-40; at most :data:`MAX_ATTEMPTS` attempts are made per search and
:data:`SEARCHES` searches per image, so the bound reported as ``p_value``
(2 x MAX_ATTEMPTS x 2**-40 = 4.4e-11) bounds the chance per image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError, InvalidArgument
from ..report import WatermarkReport
from ..watermark import Key, ecc, normalize_key, union_bound

METHOD = "image-tile64"
DOMAIN = "aimark/image/v1"
CHIPS = 32
CHIP = 2
TILE = CHIPS * CHIP
SYNC_FRACTION = 0.20
DEFAULT_STRENGTH = 2.5  # RMS change of luma, 8-bit units (about 40 dB PSNR), before the SSIM limit
MAX_ATTEMPTS = 24
LATTICE_CANDIDATES = 5
#: the lattice searches look for tile periods between these (pixels): scales 0.4 to 1.8
LAG_MIN, LAG_MAX = 0.40 * TILE, 1.8 * TILE
#: :func:`_scan`'s grid: log-scale step, largest rotation and rotation step (degrees), and how
#: many of its best lattices are tried
SCAN_STEP = 0.004
SCAN_ANGLE = 6.0
SCAN_ANGLE_STEP = 0.25
SCAN_CANDIDATES = 6
#: the most pixels a residual is resampled to when a lattice is undone (its centre is used)
UNWARP_AREA = 4_000_000
SYNC_Z_FIRST = 4.0  # decode the best sync position only when it stands out this much
SYNC_Z_MORE = 5.0
MIN_SIDE = 48
#: pictures of at least this many pixels, and :data:`LARGE_SIDE` on the short side, get the mark
#: at twice the scale (4-pixel chips, a 128-pixel period): low-quality WebP and JPEG, downscaled
#: screenshots and video codecs keep that band, where they quantise 2-pixel chips away; smaller
#: pictures hold too few of the larger tiles (measured: a 1024 x 1024 upscaled photograph loses
#: the larger mark after resizing to 0.75, and keeps the smaller one; at 1.0-1.2 Mpx either mark
#: loses some attacks; a 1280 x 1024 wallpaper keeps every attack with the larger one only)
LARGE_AREA = 1_200_000
LARGE_SIDE = 900
LARGE_SCALE = 2
LARGE_STRENGTH = 1.8  # RMS luma change of the 4-pixel-chip mark (about 43 dB PSNR)
#: the 4-pixel-chip tile is low-passed (periodically) with this Gaussian (pixels) before use
SMOOTH_SIGMA = 1.0
#: the 4-pixel-chip mark's mask goes down to this share of the mean in flat areas
MASK_FLOOR = 0.02
#: structural-similarity limit (:func:`ssim_cap`): the mark may take at most this share of a
#: window's SSIM budget, by scale; SSIM's own constant C2 for 8-bit pictures and its window
SSIM_BETA = {1: 0.022, 2: 0.025}
#: and the square the cap is eroded over, by scale: at scale 2 every pixel of a window keeps the
#: window's limit (measured on the wallpapers: higher SSIM and no detection lost); at scale 1 the
#: cap is per pixel (eroding it cost small pictures WebP and screenshot detections)
SSIM_ERODE = {1: 1, 2: 7}
SSIM_C2 = (0.03 * 255) ** 2
SSIM_WINDOW = 7
#: the activity blur at quarter size that matches the half-size one (sigma 2 there), less the
#: spread the area shrink itself adds: sqrt(2**2 - 0.5**2) / 2
COARSE_SIGMA = 0.97


@dataclass(frozen=True)
class _Layout:
    sync_pos: np.ndarray  # (n_sync, 2) chip positions in pixels (y, x)
    sync_sign: np.ndarray  # (n_sync,)
    data_pos: np.ndarray  # (n_data, 2)
    data_sign: np.ndarray  # (n_data,)
    data_bit: np.ndarray  # (n_data,) index of the coded bit each data chip carries
    bump_f: np.ndarray  # FFT of one chip at the origin (a 2x2 box, periodic on the tile)
    sync_f: np.ndarray  # FFT of the sync signs on their chip positions


@lru_cache(maxsize=16)
def _layout(key: bytes) -> _Layout:
    rng = ecc.keyed_rng(key, f"{DOMAIN}/layout")
    n = CHIPS * CHIPS
    order = rng.permutation(n)
    n_sync = round(n * SYNC_FRACTION)
    pos = np.stack(np.divmod(np.arange(n), CHIPS), axis=1) * CHIP
    sync_idx, data_idx = order[:n_sync], order[n_sync:]
    sync_sign = rng.choice([-1.0, 1.0], n_sync)
    data_sign = rng.choice([-1.0, 1.0], n - n_sync)
    data_bit = rng.permutation(np.arange(n - n_sync) % ecc.CODED_BITS)
    bump = np.zeros((TILE, TILE))
    bump[:CHIP, :CHIP] = 1.0 / CHIP
    sync_f = np.fft.fft2(_grid(pos[sync_idx], sync_sign))
    return _Layout(pos[sync_idx], sync_sign, pos[data_idx], data_sign, data_bit, np.fft.fft2(bump), sync_f)


def _grid(pos: np.ndarray, values: np.ndarray) -> np.ndarray:
    grid = np.zeros((TILE, TILE))
    grid[pos[:, 0], pos[:, 1]] = values
    return grid


def tile_for(payload: bytes | int | str, key: Key = None) -> np.ndarray:
    """The 64 x 64 pattern tile (unit RMS) that carries ``payload`` under ``key``."""
    k = normalize_key(key)
    lay = _layout(k)
    coded = ecc.encode(ecc.frame_bits(payload, k, DOMAIN)) * 2.0 - 1.0
    chips = np.fft.fft2(_grid(lay.data_pos, lay.data_sign * coded[lay.data_bit])) + lay.sync_f
    t = np.real(np.fft.ifft2(chips * lay.bump_f))  # every chip value spread over its 2x2 pixels
    return (t / np.sqrt((t**2).mean())).astype(np.float32)


# --- pixels in and out -------------------------------------------------------------------------


def _as_array(image: Any) -> tuple[np.ndarray, Any]:
    """(H, W[, C]) array and a function that turns an array of the same shape back into the input's type."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is part of the image extra
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(image, Image.Image):
        mode = image.mode
        if mode in ("RGB", "L", "RGBA", "LA"):
            arr = np.asarray(image)
            return arr, lambda a: Image.fromarray(a)
        if mode in ("I;16", "I;16L", "I;16B"):
            arr = np.asarray(image).astype(np.uint16)
            return arr, lambda a: Image.fromarray(a.astype(np.uint16))
        raise InputError(f"cannot watermark a {mode!r} image: convert it to RGB or L first")
    if isinstance(image, np.ndarray):
        return image, lambda a: a
    raise InvalidArgument("an image must be a PIL.Image.Image or a NumPy array")


def _check_shape(arr: np.ndarray) -> None:
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise InvalidArgument(f"an image array is (H, W) or (H, W, C) with C in 1..4, not {arr.shape}")
    if arr.dtype not in (np.uint8, np.uint16):
        raise InvalidArgument(f"an image array is uint8 or uint16, not {arr.dtype}")
    if min(arr.shape[:2]) < MIN_SIDE:
        raise InputError(f"an image smaller than {MIN_SIDE} pixels on a side is too small to watermark")


def _luma(arr: np.ndarray) -> np.ndarray:
    """Luma in 8-bit units as float32 (colour channels only; alpha ignored)."""
    scale = 1.0 / 257.0 if arr.dtype == np.uint16 else 1.0
    if arr.ndim == 2:
        y = arr.astype(np.float32)
    elif arr.shape[2] < 3:
        y = arr[..., 0].astype(np.float32)
    else:
        y = arr[..., 0] * np.float32(0.299) + arr[..., 1] * np.float32(0.587) + arr[..., 2] * np.float32(0.114)
        y = y.astype(np.float32)
    return y * np.float32(scale) if scale != 1.0 else y


def _mask(y: np.ndarray) -> np.ndarray:
    """Texture mask of the 2-pixel-chip mark: more change where the picture is busy, less in
    flat areas (mean square 1)."""
    import cv2

    hp = np.abs(y - cv2.GaussianBlur(y, (0, 0), 1.5))
    act = cv2.GaussianBlur(hp, (0, 0), 4.0)
    m = np.sqrt(np.clip(act / max(float(act.mean()), 1e-3), 0.2, 4.0))
    return m / np.sqrt(float((m**2).mean()))


def texture_mask(y: np.ndarray, *, half: np.ndarray | None = None, coarse: bool = False) -> np.ndarray:
    """Texture mask of the 4-pixel-chip mark (mean square 1), computed at half size: linear in
    the local texture down to :data:`MASK_FLOOR` of it, so smooth skies, sand and walls, where a
    mark would show and structural similarity would fall, get almost none.

    ``half``: the picture already shrunk to half size (area averaging), when the caller has it.
    ``coarse``: the activity map, which is smooth, is blurred and scaled back from quarter size
    instead of half: the same map to within about 2% (correlation 0.999 on photographs) at
    under half the cost, for video, where the mask is made for every frame."""
    import cv2

    h, w = y.shape
    if half is None:
        half = cv2.resize(y, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
    small = half.astype(np.float32)
    hp = cv2.absdiff(small, cv2.GaussianBlur(small, (0, 0), 0.75))
    if coarse and min(hp.shape) >= 2:
        hp = cv2.resize(hp, (hp.shape[1] // 2, hp.shape[0] // 2), interpolation=cv2.INTER_AREA)
        act = cv2.GaussianBlur(hp, (0, 0), COARSE_SIGMA)
    else:
        act = cv2.GaussianBlur(hp, (0, 0), 2.0)
    m = np.clip(act * np.float32(1.0 / max(float(act.mean()), 1e-3)), MASK_FLOOR, 4.0)
    m *= np.float32(1.0 / np.sqrt(float((m * m).mean())))
    m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    if coarse:  # scaled up four times, the map is smoother: its mean square is set again
        m *= np.float32(np.sqrt(m.size) / max(float(cv2.norm(m)), 1e-12))
    return m


def ssim_cap(y: np.ndarray, beta: float, pattern_var: float = 1.0, *, erode: int = 1) -> np.ndarray:
    """Largest mark amplitude per pixel that keeps the structural similarity (SSIM) of each
    7 x 7 window within ``beta`` of its budget: a pattern of local variance ``pattern_var`` at
    amplitude ``a`` lowers a window's SSIM by about ``v / (2 var + v + C2)`` with
    ``v = a**2 pattern_var``, so ``a**2 <= beta (2 var + C2) / pattern_var``. Flat pictures (a
    moon, a cell, a clear sky) get a weaker mark rather than a visible one. ``erode``: the cap
    is the smallest over that square around each pixel."""
    import cv2

    win = (SSIM_WINDOW, SSIM_WINDOW)
    mu = cv2.blur(y, win)
    var = np.maximum(cv2.blur(y * y, win) - mu * mu, np.float32(0.0))
    if erode > 1:
        var = cv2.erode(var, np.ones((erode, erode), np.uint8))
    return np.sqrt((var * np.float32(2.0) + np.float32(SSIM_C2)) * np.float32(beta / pattern_var))


@lru_cache(maxsize=4)
def _window_var(scale: int) -> float:
    """Mean variance of the unit pattern tile at ``scale`` inside an SSIM window (the same for
    every key: chips of random sign, smoothed the same way)."""
    import cv2

    t = scaled_tile(bytes(8), None, scale)
    n = t.shape[0]
    big = np.tile(t, (3, 3))
    win = (SSIM_WINDOW, SSIM_WINDOW)
    var = cv2.blur(big * big, win) - cv2.blur(big, win) ** 2
    return float(var[n : 2 * n, n : 2 * n].mean())


def _fill(mask: np.ndarray, cap: np.ndarray, strength: float, *, refill: bool) -> np.ndarray:
    """Amplitude ``min(k mask, cap)``: ``k`` sets the RMS of ``k mask`` to ``strength``, or with
    ``refill`` the RMS of the capped amplitude (as close as the cap allows), by bisection on every
    fourth row and column."""
    k0 = strength / max(float(np.sqrt(np.mean(mask * mask))), 1e-6)
    k = k0
    if refill:
        ms, cs = mask[::4, ::4], cap[::4, ::4]
        target = strength * strength

        def power(k: float) -> float:
            a = np.minimum(ms * np.float32(k), cs)
            return float(np.mean(a * a))

        lo, hi = k0, 8.0 * k0
        if power(hi) <= target:
            k = hi
        else:
            for _ in range(24):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if power(mid) < target else (lo, mid)
            k = lo
    return np.minimum(mask * np.float32(k), cap)


def smooth_tile(tile: np.ndarray, sigma: float = SMOOTH_SIGMA) -> np.ndarray:
    """A tile blurred periodically (its edges wrap, so tiling it leaves no seams), unit RMS."""
    if sigma <= 0:
        return tile
    h, w = tile.shape
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (fy**2 + fx**2))
    out = np.real(np.fft.ifft2(np.fft.fft2(tile) * gauss))
    return (out / np.sqrt((out**2).mean())).astype(np.float32)


def scaled_tile(payload: bytes | int | str, key: Key = None, scale: int = 1) -> np.ndarray:
    """The pattern tile drawn at ``scale`` (chips of ``2 * scale`` pixels, a ``64 * scale``
    period); above scale 1 it is smoothed (:func:`smooth_tile`): square chip edges are high
    frequencies that show and that codecs spend bits on, while adding little to detection."""
    tile = tile_for(payload, key)
    if scale == 1:
        return tile
    return smooth_tile(np.kron(tile, np.ones((scale, scale), np.float32)))


def tiled_pattern(payload: bytes | int | str, key: Key, height: int, width: int, scale: int = 1) -> np.ndarray:
    """The tile at ``scale`` (:func:`scaled_tile`) repeated over a ``height`` x ``width`` plane."""
    tile = scaled_tile(payload, key, scale)
    t = TILE * scale
    return np.ascontiguousarray(np.tile(tile, (-(-height // t), -(-width // t)))[:height, :width])


def chip_scale(height: int, width: int) -> int:
    """The scale :func:`embed` draws the mark at for a picture of this size: 2 (4-pixel chips)
    from :data:`LARGE_AREA` pixels and :data:`LARGE_SIDE` on the short side, where the half-size
    picture still holds about a hundred tiles, else 1 (2-pixel chips)."""
    return LARGE_SCALE if height * width >= LARGE_AREA and min(height, width) >= LARGE_SIDE else 1


def embed(
    image: Any,
    payload: bytes | int | str,
    key: Key = None,
    *,
    strength: float | None = None,
    scale: int | None = None,
) -> Any:
    """Embed ``payload`` (64 bits) under ``key``; returns an image of the same type, size and mode.

    ``scale`` (1 or 2; default :func:`chip_scale`) is the chip size in units of 2 pixels;
    ``strength`` the RMS change of luma in 8-bit units (default :data:`DEFAULT_STRENGTH` at
    scale 1, :data:`LARGE_STRENGTH` at scale 2)."""
    arr, back = _as_array(image)
    _check_shape(arr)
    h, w = arr.shape[:2]
    scale = chip_scale(h, w) if scale is None else scale
    if scale not in (1, 2):
        raise InvalidArgument("watermark scale is 1 or 2")
    if strength is None:
        strength = DEFAULT_STRENGTH if scale == 1 else LARGE_STRENGTH
    if not 0 < strength <= 20:
        raise InvalidArgument("watermark strength is an RMS luma change in (0, 20]")
    y = _luma(arr)
    pattern = tiled_pattern(payload, key, h, w, scale)
    mask = _mask(y) if scale == 1 else texture_mask(y)
    cap = ssim_cap(y, SSIM_BETA[scale], _window_var(scale), erode=SSIM_ERODE[scale])
    # small pictures (scale 1) need every bit of the mark: what the cap takes off smooth areas is
    # given back where the picture can hide it, up to ``strength``; large ones keep the cut
    amp = _fill(mask, cap, strength, refill=scale == 1)
    delta = amp * pattern
    top = 65535.0 if arr.dtype == np.uint16 else 255.0
    if arr.dtype == np.uint16:
        delta *= np.float32(257.0)
    channels = arr.shape[2] if arr.ndim == 3 else 1
    color = min(channels, 3) if channels != 2 else 1
    if arr.ndim == 2:
        out = np.clip(np.rint(arr + delta), 0, top).astype(arr.dtype)
    else:
        out = arr.copy()
        for c in range(color):
            out[..., c] = np.clip(np.rint(arr[..., c] + delta), 0, top).astype(arr.dtype)
    return back(out)


# --- detection ---------------------------------------------------------------------------------


_LAPLACE = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], np.float32) / 4


def _residual(y: np.ndarray) -> np.ndarray:
    """Whitened luma: high-pass residual over its local amplitude, clipped (edges count little)."""
    import cv2

    r = cv2.filter2D(y, -1, _LAPLACE, borderType=cv2.BORDER_REFLECT)
    amp = cv2.GaussianBlur(np.abs(r), (0, 0), 6.0) + np.float32(0.5)
    return np.clip(r / amp, -4.0, 4.0)


def _fold(r: np.ndarray) -> np.ndarray:
    """Sum of ``r`` modulo the tile period, strip by strip (no padded copy of the picture)."""
    h, w = r.shape
    rows = np.zeros((TILE, w), np.float64)
    for y in range(0, h, TILE):
        strip = r[y : y + TILE]
        rows[: strip.shape[0]] += strip
    out = np.zeros((TILE, TILE), np.float64)
    for x in range(0, w, TILE):
        block = rows[:, x : x + TILE]
        out[:, : block.shape[1]] += block
    return out


def _orientations(f: np.ndarray) -> list[tuple[str, np.ndarray]]:
    out = []
    for flip in (False, True):
        g = f[:, ::-1] if flip else f
        for k in range(4):
            out.append((("flip+" if flip else "") + f"rot{90 * k}", np.rot90(g, k)))
    return out


@dataclass
class _Candidate:
    score: float  # sync correlation z-score
    orientation: str
    offset: tuple[int, int]
    g: np.ndarray  # chip-matched-filtered folded tile in that orientation


def _candidates(folded: np.ndarray, lay: _Layout, per_orientation: int = 1) -> list[_Candidate]:
    bump_f, sync_f = np.conj(lay.bump_f), np.conj(lay.sync_f)
    out = []
    for name, f in _orientations(folded):
        g = np.real(np.fft.ifft2(np.fft.fft2(f) * bump_f))  # g[p] = <f, chip shifted to p>
        c = np.real(np.fft.ifft2(np.fft.fft2(g) * sync_f))  # c[o] = sum_i s_i g[p_i + o]
        z = (c - c.mean()) / (c.std() + 1e-12)
        flat = [int(np.argmax(z))] if per_orientation == 1 else np.argsort(z, axis=None)[::-1][:per_orientation]
        for idx in flat:
            oy, ox = divmod(int(idx), TILE)
            out.append(_Candidate(float(z.flat[idx]), name, (oy, ox), g))
    out.sort(key=lambda c: -c.score)
    return out


def _info_bits(cand: _Candidate, lay: _Layout) -> np.ndarray:
    """Viterbi-decoded information bits read at a candidate's offset and orientation."""
    oy, ox = cand.offset
    vals = cand.g[(lay.data_pos[:, 0] + oy) % TILE, (lay.data_pos[:, 1] + ox) % TILE] * lay.data_sign
    return ecc.viterbi(np.bincount(lay.data_bit, weights=vals, minlength=ecc.CODED_BITS))


def _decode(cand: _Candidate, lay: _Layout, key: bytes) -> bytes | None:
    return ecc.check_frame(_info_bits(cand, lay), key, DOMAIN)


@dataclass
class _Autocorr:
    ac: np.ndarray  # autocorrelation of the residual window over lags -ry..ry, -rx..rx, per overlapping pixel
    overlap: np.ndarray  # pixels that overlap at each lag
    ry: int
    rx: int
    area: int  # pixels of the window


def _autocorr(r: np.ndarray, window: int = 1024) -> _Autocorr:
    """Autocorrelation of the centre window of a residual at the lags the lattice searches use
    (up to 2.2 x :data:`LAG_MAX`), divided by the overlap so that far lags are not favoured."""
    import cv2

    h, w = r.shape
    wh, ww = min(h, window), min(w, window)
    y0, x0 = (h - wh) // 2, (w - ww) // 2
    win = r[y0 : y0 + wh, x0 : x0 + ww].astype(np.float32)
    win = win - np.float32(win.mean())
    # only lags up to twice the search radius are ever looked at (peaks and their sums), so
    # zero-padding by that much (not by the whole window) keeps the correlation linear there
    ry, rx = min(wh - 1, int(2.2 * LAG_MAX)), min(ww - 1, int(2.2 * LAG_MAX))
    ny, nx = cv2.getOptimalDFTSize(wh + ry + 1), cv2.getOptimalDFTSize(ww + rx + 1)
    spec = np.fft.rfft2(win, s=(ny, nx))
    ac = np.fft.irfft2((spec.real**2 + spec.imag**2), s=(ny, nx))
    ac = ac[np.r_[ny - ry : ny, 0 : ry + 1]][:, np.r_[nx - rx : nx, 0 : rx + 1]].astype(np.float64)
    oy = wh - np.abs(np.arange(2 * ry + 1) - ry)
    ox = ww - np.abs(np.arange(2 * rx + 1) - rx)
    overlap = np.outer(oy, ox).astype(np.float64)
    return _Autocorr(ac / np.maximum(overlap, 1.0), overlap, ry, rx, wh * ww)


def _lattice(r: np.ndarray, window: int = 1024, *, scan: bool = True) -> list[np.ndarray]:
    """Candidate 2x2 matrices mapping tile coordinates to image coordinates: first from the
    autocorrelation peaks that a periodic mark leaves in the residual, each standing out on its
    own (any scale, rotation or shear), then from :func:`_scan`, which adds up the lattice's
    peaks over a grid of scales and small rotations (found where no single peak stands out)."""
    a = _autocorr(r, window)
    out = _peak_lattices(a)
    for m in _scan(a) if scan else ():
        if not any(np.abs(m - q).max() < 0.01 for q in out):
            out.append(m)
    return out


def _peak_lattices(auto: _Autocorr) -> list[np.ndarray]:
    ac, ry, rx, cy, cx = auto.ac, auto.ry, auto.rx, auto.ry, auto.rx
    rmin, rmax = LAG_MIN, LAG_MAX
    dy, dx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    rad = np.hypot(dy, dx)
    enough = auto.overlap >= 0.25 * auto.area
    region = (rad >= rmin) & (rad <= rmax) & enough & ((dy > 0) | ((dy == 0) & (dx > 0)))
    if not region.any():
        return []
    vals = np.where(region, ac, -np.inf)
    ring = ac[region]
    mu, sd = float(np.median(ring)), float(ring.std()) + 1e-12
    top = np.argpartition(vals, -60, axis=None)[-60:] if vals.size > 60 else np.arange(vals.size)
    peaks = top[np.argsort(vals.flat[top])[::-1]]
    pts = []
    for idx in peaks:
        py, px = divmod(int(idx), ac.shape[1])
        if (vals[py, px] - mu) / sd < 4.0:
            break
        v = np.array([py - cy, px - cx], np.float64)
        if all(np.hypot(*(v - q)) > 3 for q, _ in pts):
            pts.append((v + _subpixel(ac, py, px), float(vals[py, px])))
    zmap = (ac - mu) / sd

    def z_at(v: np.ndarray) -> float:
        py, px = round(v[0]) + cy, round(v[1]) + cx
        if not (1 <= py < ac.shape[0] - 1 and 1 <= px < ac.shape[1] - 1):
            return 0.0
        return float(zmap[py - 1 : py + 2, px - 1 : px + 2].max())

    cands: list[tuple[float, float, np.ndarray]] = []
    for i, (a, _) in enumerate(pts):
        for b, _ in pts[i + 1 :]:
            la, lb = np.hypot(*a), np.hypot(*b)
            cos = abs(float(a @ b)) / (la * lb)
            if abs(la - lb) / max(la, lb) < 0.06 and cos < 0.12:
                # a true lattice also peaks at the sums and differences of its basis vectors
                diag = (z_at(a + b), z_at(a - b))
                score = (z_at(a) + z_at(b) + sum(diag)) / 4
                if score >= 3.5 and min(diag) >= 2.0:
                    cands.append((score, la * lb, np.stack([a, b], axis=1) / TILE))  # columns: image vectors of the tile axes
    # prefer the fundamental cell: drop any candidate that is a sub-lattice of a smaller one
    cands.sort(key=lambda c: c[1])
    kept: list[tuple[float, float, np.ndarray]] = []
    for c in cands:
        if not any(_sublattice(c[2], k[2]) for k in kept):
            kept.append(c)
    kept.sort(key=lambda c: -c[0])
    out = [m for _, _, m in kept[:LATTICE_CANDIDATES]]
    # a mark seen through a block grid (JPEG) can show its double period more strongly than its own
    out += [m / 2 for m in out if np.hypot(*m[:, 0]) * TILE / 2 >= rmin]
    return out


#: lattice points (in tile periods, one half-plane) whose autocorrelation :func:`_scan` adds up
_SCAN_LAGS = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (1, 2), (2, -1), (1, -2)], np.float64)


@lru_cache(maxsize=1)
def _scan_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scales, angles, lag vectors of shape (scales, angles, lags, 2) in pixels, (dy, dx))."""
    scales = np.exp(np.arange(np.log(LAG_MIN / TILE), np.log(LAG_MAX / TILE), SCAN_STEP))
    angles = np.radians(np.arange(-SCAN_ANGLE, SCAN_ANGLE + 1e-9, SCAN_ANGLE_STEP))
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # (angles, 2, 2)
    unit = np.einsum("aij,lj->ali", rot, _SCAN_LAGS)  # (angles, lags, 2)
    return scales, angles, scales[:, None, None, None] * TILE * unit[None]


def _scan(auto: _Autocorr) -> list[np.ndarray]:
    """Lattices (scale times rotation) where the summed autocorrelation at the lattice's first
    points stands out, over a grid of scales (:data:`LAG_MIN` to :data:`LAG_MAX` periods, steps
    of :data:`SCAN_STEP` in log scale) and rotations up to :data:`SCAN_ANGLE` degrees: a
    downscaled screenshot or a slightly turned picture whose single peaks are too weak to find
    one by one. The strongest :data:`SCAN_CANDIDATES` local maxima, best first."""
    import cv2

    ac, ry, rx = auto.ac, auto.ry, auto.rx
    z = (ac - cv2.GaussianBlur(ac, (0, 0), 3.0)).astype(np.float32)  # peaks, not the picture's slow correlation
    dy, dx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    rad = np.hypot(dy, dx)
    usable = auto.overlap >= 0.1 * auto.area
    ring = z[(rad >= LAG_MIN) & usable]
    if ring.size < 16:
        return []
    z = np.where(usable, z / np.float32(ring.std() + 1e-12), np.float32(0.0))
    scales, angles, pts = _scan_grid()
    inside = (np.abs(pts[..., 0]) < ry - 1) & (np.abs(pts[..., 1]) < rx - 1)
    n_s, n_a, n_l = inside.shape
    my = (pts[..., 0] + ry).astype(np.float32).reshape(n_s, n_a * n_l)
    mx = (pts[..., 1] + rx).astype(np.float32).reshape(n_s, n_a * n_l)
    vals = cv2.remap(z, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0).reshape(n_s, n_a, n_l)
    count = inside.sum(axis=2)
    score = np.where(count >= 4, (vals * inside).sum(axis=2) / np.sqrt(np.maximum(count, 1)), -np.inf)
    out = []
    for _ in range(SCAN_CANDIDATES):
        i, j = np.unravel_index(int(np.argmax(score)), score.shape)
        if not np.isfinite(score[i, j]):
            break
        score[max(0, i - 3) : i + 4, max(0, j - 2) : j + 3] = -np.inf
        c, s = np.cos(angles[j]), np.sin(angles[j])
        out.append(scales[i] * np.array([[c, -s], [s, c]]))
    return out


def _sublattice(m: np.ndarray, base: np.ndarray) -> bool:
    """Whether the lattice spanned by ``m`` lies inside the lattice spanned by ``base``."""
    c = np.linalg.solve(base, m)
    return bool(np.all(np.abs(c - np.round(c)) < 0.03) and abs(np.linalg.det(np.round(c))) >= 1.5)


def _subpixel(ac: np.ndarray, py: int, px: int) -> np.ndarray:
    def frac(a: float, b: float, c: float) -> float:
        d = a - 2 * b + c
        return 0.0 if d >= 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    h, w = ac.shape
    if 0 < py < h - 1 and 0 < px < w - 1:
        return np.array([frac(ac[py - 1, px], ac[py, px], ac[py + 1, px]), frac(ac[py, px - 1], ac[py, px], ac[py, px + 1])])
    return np.zeros(2)


def _unwarp(r: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Resample the residual into tile coordinates given the lattice matrix ``m`` ((y, x) columns)."""
    import cv2

    # image (y, x) = m @ tile (u, v); cv2 wants the map from output (x', y') to input (x, y)
    a = np.array([[m[1, 1], m[1, 0]], [m[0, 1], m[0, 0]]])  # in (x, y) order
    inv = np.linalg.inv(a)
    h, w = r.shape
    grow = abs(float(np.linalg.det(inv)))  # output pixels per input pixel
    if h * w * grow > UNWARP_AREA:  # a few thousand tiles are plenty: the centre of the picture
        f = np.sqrt(UNWARP_AREA / (h * w * grow))
        ch, cw = max(16, int(h * f)), max(16, int(w * f))
        r = r[(h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw]
        h, w = r.shape
    corners = inv @ np.array([[0, w, 0, w], [0, 0, h, h]], np.float64)
    lo, hi = corners.min(axis=1), corners.max(axis=1)
    size = np.ceil(hi - lo).astype(int)
    if size.max() > 8 * max(h, w) or size.min() < 8:
        return np.zeros((TILE, TILE), np.float32)
    fwd = np.hstack([inv, -lo[:, None]])
    return cv2.warpAffine(r, fwd, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR, borderValue=0.0)


def detect(image: Any, key: Key = None, *, expected: bytes | None = None) -> WatermarkReport:
    """Look for a watermark made with ``key``; blind (no original, size, offset or scale needed).

    Two searches: the picture at full size and at half size (where a mark of 4-pixel chips is
    at the 2-pixel chips' scale) when it is big enough, the scale :func:`embed` would choose for
    this size first; ``p_value`` is the union bound over
    both (each at most :data:`MAX_ATTEMPTS` decodes)."""
    arr, _ = _as_array(image)
    if arr.ndim not in (2, 3) or min(arr.shape[:2]) < 16:
        return WatermarkReport(METHOD, False, detail={"attempts": 0})
    y = _luma(arr)
    rep = WatermarkReport(METHOD, False, detail={"attempts": 0})
    attempts, best = 0, 0.0
    for scale, plane in _planes(y):
        rep = detect_residual(residual(plane), key, expected=expected)
        attempts += int(rep.detail.get("attempts", 0))
        if rep.found:
            rep.detail["chip"] = 2 * scale
            rep.p_value = union_bound(SEARCHES * MAX_ATTEMPTS, ecc.TAG_BITS)
            break
        best = max(best, float(rep.detail.get("sync_z", 0.0)))
    else:
        rep.detail["sync_z"] = best  # the strongest sync seen in any search
    rep.detail["attempts"] = attempts
    return rep


#: the searches :func:`detect` makes (half size, full size): the false-positive bound counts both
SEARCHES = 2


def _planes(y: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(scale, luma) for each search: full size, and half size when it holds a few tiles (a
    crop of a large marked picture); the scale :func:`embed` would choose for this size first."""
    import cv2

    h, w = y.shape
    half = min(h, w) // LARGE_SCALE >= 2 * MIN_SIDE
    if half and chip_scale(h, w) == LARGE_SCALE:
        yield LARGE_SCALE, cv2.resize(y, (w // LARGE_SCALE, h // LARGE_SCALE), interpolation=cv2.INTER_AREA)
    yield 1, y
    if half and chip_scale(h, w) != LARGE_SCALE:
        yield LARGE_SCALE, cv2.resize(y, (w // LARGE_SCALE, h // LARGE_SCALE), interpolation=cv2.INTER_AREA)


def fold(r: np.ndarray) -> np.ndarray:
    """A residual folded modulo the tile period (64 x 64): the statistic detection searches."""
    return _fold(r)


def sync_score(folded: np.ndarray, key: Key = None) -> float:
    """The best sync z-score of a folded tile over offsets and the 8 orientations: how strongly
    one picture (or frame) shows the mark at the tile's own scale."""
    return _candidates(folded, _layout(normalize_key(key)))[0].score


def aligned_fold(folded: np.ndarray, key: Key = None) -> tuple[float, np.ndarray]:
    """The best sync z-score of a folded tile (as :func:`sync_score`) and the tile turned to
    that candidate's orientation and rolled so that its sync sits at offset (0, 0): folds of
    frames whose marks sit at different offsets (a mark that moved with the picture) add up
    once aligned."""
    lay = _layout(normalize_key(key))
    best = _candidates(folded, lay)[0]
    oriented = dict(_orientations(folded))[best.orientation]
    return best.score, np.roll(oriented, (-best.offset[0], -best.offset[1]), axis=(0, 1))


def detect_folded(folded: np.ndarray, key: Key = None, *, expected: bytes | None = None, method: str = METHOD) -> WatermarkReport:
    """Detection on an already folded tile (no lattice search: the mark at its own scale)."""
    return _search(iter([(folded, "identity")]), normalize_key(key), expected, method)


def _search(folds: Iterator[tuple[np.ndarray, str]], k: bytes, expected: bytes | None, method: str) -> WatermarkReport:
    """Try the best sync candidates of each folded tile (with the transform that made it) in
    turn, within :data:`MAX_ATTEMPTS` decodes; the first payload whose tag checks is the result."""
    lay = _layout(k)
    attempts, best = 0, 0.0
    for folded, transform in folds:
        for rank, cand in enumerate(_candidates(folded, lay)[:3]):
            if attempts >= MAX_ATTEMPTS or cand.score < (SYNC_Z_FIRST if rank == 0 else SYNC_Z_MORE):
                break
            attempts += 1
            best = max(best, cand.score)
            payload = _decode(cand, lay, k)
            if payload is not None:
                detail = {"attempts": attempts, "sync_z": round(cand.score, 2), "orientation": cand.orientation}
                detail["transform"] = transform
                p = union_bound(MAX_ATTEMPTS, ecc.TAG_BITS)
                return WatermarkReport(method, True, payload.hex(), p, None if expected is None else payload == expected, detail)
    return WatermarkReport(method, False, detail={"attempts": attempts, "sync_z": round(best, 2)})


def best_guess_folded(folded: np.ndarray, key: Key = None) -> bytes:
    """The 8 payload bytes at the strongest sync position of a folded tile, *unverified*
    (for bit accuracy in benchmarks)."""
    lay = _layout(normalize_key(key))
    return np.packbits(_info_bits(_candidates(folded, lay)[0], lay)[:64].astype(np.uint8)).tobytes()


def residual(y: np.ndarray) -> np.ndarray:
    """The whitened residual of a luma plane (float32, 8-bit units) that detection folds; the
    residuals of several frames of one video can be summed before :func:`detect_residual`."""
    return _residual(np.asarray(y, np.float32))


def detect_residual(
    r: np.ndarray, key: Key = None, *, expected: bytes | None = None, method: str = METHOD, scan: bool = True
) -> WatermarkReport:
    """Detection on a whitened residual (:func:`residual`, or a sum of them). ``scan``: when no
    single autocorrelation peak gives the lattice, also try :func:`_scan`'s (the video detector
    leaves it off: its lattice search is for a whole video scaled or turned, and its time budget
    is the verify of a long file)."""
    if r.ndim != 2 or min(r.shape) < 16:
        return WatermarkReport(method, False, detail={"attempts": 0})
    # the lattice is only estimated when the plain fold finds nothing (the generator is lazy)
    folds = ((_fold(r if m is None else _unwarp(r, m)), "identity" if m is None else _describe(m)) for m in _transforms(r, scan))
    return _search(folds, normalize_key(key), expected, method)


def _transforms(r: np.ndarray, scan: bool = True) -> Iterator[np.ndarray | None]:
    """The plain fold (``None``), then the lattices estimated from the residual, lazily."""
    yield None
    yield from _lattice(r, scan=scan)


def best_guess(image: Any, key: Key = None) -> bytes:
    """The 8 payload bytes decoded at the strongest sync position, *unverified* (its tag may not
    check). For measuring bit accuracy in benchmarks; detection is :func:`detect`."""
    arr, _ = _as_array(image)
    k = normalize_key(key)
    lay = _layout(k)
    best: _Candidate | None = None
    for _, plane in _planes(_luma(arr)):
        r = _residual(plane)
        for m in _transforms(r):
            c = _candidates(_fold(r if m is None else _unwarp(r, m)), lay)[0]
            if best is None or c.score > best.score:
                best = c
    assert best is not None
    return np.packbits(_info_bits(best, lay)[:64].astype(np.uint8)).tobytes()


def _describe(m: np.ndarray) -> str:
    a = m[:, 0]
    scale = float(np.hypot(*a))
    angle = float(np.degrees(np.arctan2(a[1], a[0])))
    return f"scale {scale:.3f} angle {angle:.2f}"


__all__ = [
    "DEFAULT_STRENGTH",
    "METHOD",
    "TILE",
    "best_guess_folded",
    "chip_scale",
    "detect",
    "detect_folded",
    "detect_residual",
    "embed",
    "fold",
    "residual",
    "scaled_tile",
    "smooth_tile",
    "sync_score",
    "texture_mask",
    "tile_for",
    "tiled_pattern",
]
