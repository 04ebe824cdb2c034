"""A blind audio watermark: keyed up/down modulation of STFT magnitudes, 64-bit payload.

Embedding (any sample rate, any channel count):
- the mono mix is cut into frames of 23.2 ms (1024 samples at 44.1 kHz, scaled with the rate so
  bins always sit 43 Hz apart) with a sqrt-Hann window and 50% overlap;
- the bins from 301 to 7020 Hz (above hum) form 78 rows of 2 bins; 3 frames make a column;
  128 columns (4.46 s) make one period, repeated over the whole file;
- each of the 9,984 cells of a period carries +1 or -1: 20% are keyed sync cells, the rest
  spread the 330 convolutionally coded bits of the frame (payload + 40-bit keyed tag,
  :mod:`aimark.watermark.ecc`) 24 times over, under a keyed sign;
- a cell multiplies the magnitudes in it by ``1 + d * sign`` (phases kept), where ``d`` is
  ``(t / |X|) ** 1.5`` (larger for weak bins, masked by their loud neighbours), capped at
  0.95; the level t sets each frame's change to a budget below the signal of the surrounding
  3 s, and one factor then sets the whole file's SNR to ``snr_db`` (default 35.5 dB);
- the resynthesised difference is added to every channel, so every channel carries it.

This is version 2 (:data:`V2`). Version 1 (:data:`V1`, still read) used only the lower half
of the band, 301 to 3617 Hz in 39 rows, each bit 12 times: on music, the rows above 3.6 kHz
are where the mark survives Opus and AAC at 32-48 kbit/s best, and a 4 kHz low-pass still
leaves the 39 lower rows, which hold about half of each bit's 24 cells. Audio sampled too low
for version 2's band (under about 14 kHz) is marked with version 1.

Detection works on any excerpt of at least one period (about 4.5 s) at any offset: log
magnitudes are high-passed in time and in frequency (what is left of harmonics and formants
after the time high-pass is most of the noise on speech), resampled for a set of time and
frequency scales (tempo and speed changes of up to about 6%), collapsed to cells and folded
modulo the period; the sync pattern's cyclic correlation (FFT) gives the offset, a list
Viterbi decoder the ``PATHS`` likeliest bit sequences for the best ``LIST_CANDIDATES`` offsets
(one sequence for the others), and only a frame whose keyed tag checks is reported. The search
runs again half a hop later when nothing is found (a cut between hop boundaries splits every
cell in two). Each segment is read as version 2, then as version 1 (the features are shared).
Every tag check is an attempt: the chance that unmarked audio yields a payload is at most
attempts x 2^-40 (at most 2 x 32 + 4 = 68 per segment, phase and version).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError, InvalidArgument
from ..report import WatermarkReport
from ..watermark import Key, normalize_key, normalize_payload, union_bound
from ..watermark.ecc import CODED_BITS, TAG_BITS, check_frame, encode, frame_bits, keyed_rng, list_viterbi, viterbi

REF_RATE = 44100
REF_FRAME = 1024  # samples at REF_RATE: 23.2 ms, 43.07 Hz bins
KMIN = 7  # the lowest bin of a cell: 301 Hz (above hum)
ROW_BINS = 2
COL_FRAMES = 3
COLS = 128
PERIOD_FRAMES = COLS * COL_FRAMES  # 384 hops = 4.46 s
SYNC_SHARE = 0.2
DEFAULT_SNR_DB = 35.5
MAX_GAIN = 0.95  # the largest relative change of a bin: weak, masked bins nearly vanish or double
WEIGHT = 0.25  # detection weights a bin by min(1, median/|X|) ** WEIGHT: loud bins change less
SMOOTH_FRAMES = 25  # the time high-pass of detection: log magnitude minus its 25-frame mean
SEGMENT_PERIODS = 2.5  # detection segments: 11 s, half-overlapping
MAX_ATTEMPTS = 6  # sync candidates decoded per segment
PATHS = 32  # list Viterbi: decoded paths tag-checked for each of the best sync candidates
LIST_CANDIDATES = 2  # how many of the best sync candidates get the list; the others one path
BUDGET_FRAMES = 261  # the embedding budget follows the signal's energy over 3 s
FREQ_SMOOTH = 15  # the frequency high-pass of detection: residual minus its 15-bin mean
MIN_SECONDS = PERIOD_FRAMES * REF_FRAME / 2 / REF_RATE


@dataclass(frozen=True)
class Version:
    """One version of the mark: the bins it uses and the names its layout and tag are keyed
    with (a v1 tag never checks as a v2 one)."""

    method: str
    domain: str
    kmax: int  # bins [KMIN, kmax)

    @property
    def rows(self) -> int:
        return (self.kmax - KMIN) // ROW_BINS


#: 39 rows, 301 .. 3617 Hz: the first version, still read
V1 = Version("aimark-audio-v1", "audio/v1", 85)
#: 78 rows, 301 .. 7020 Hz: what is written. The rows above 3.6 kHz, where music is quieter so
#: a relative change costs less of the SNR budget, are the ones Opus and AAC at 32-48 kbit/s
#: keep best (measured per row on music); a 4 kHz low-pass leaves the lower half, enough
VERSION = V2 = Version("aimark-audio-v2", "audio/v2", 163)
#: detection tries each, newest first
VERSIONS = (V2, V1)
METHOD = VERSION.method
DOMAIN = VERSION.domain
KMAX = max(v.kmax for v in VERSIONS)


@dataclass(frozen=True)
class Layout:
    """The keyed cell pattern of one period."""

    sign: np.ndarray  # (rows, COLS) +-1 pseudo-random sign of each cell
    bit: np.ndarray  # (rows, COLS) coded-bit index of a data cell, -1 for sync cells
    sync: np.ndarray  # (rows, COLS) bool


@lru_cache(maxsize=8)
def _layout(key: bytes, v: Version) -> Layout:
    rng = keyed_rng(key, f"{v.domain}/layout")
    rows = v.rows
    n = rows * COLS
    order = rng.permutation(n)
    reps = int(n * (1 - SYNC_SHARE)) // CODED_BITS
    bit = np.full(n, -1, dtype=np.int64)
    bit[order[: reps * CODED_BITS]] = np.arange(reps * CODED_BITS) % CODED_BITS
    sign = rng.choice([-1.0, 1.0], size=n)
    return Layout(sign.reshape(rows, COLS), bit.reshape(rows, COLS), (bit < 0).reshape(rows, COLS))


def _cells(layout: Layout, coded: np.ndarray) -> np.ndarray:
    """+-1 per cell for the coded bits."""
    values = np.where(layout.sync, 1.0, 2.0 * coded[np.maximum(layout.bit, 0)] - 1.0)
    return values * layout.sign


def frame_size(sr: int) -> int:
    n = round(REF_FRAME * sr / REF_RATE)
    return n + (n & 1)


@lru_cache(maxsize=8)
def _window(n: int) -> np.ndarray:
    return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def _frames(x: np.ndarray, n: int) -> np.ndarray:
    """Windowed frames at hop n/2, the first centred on sample 0 (x is padded by n/2)."""
    hop = n // 2
    count = len(x) // hop + 1
    padded = np.zeros((count + 1) * hop, dtype=np.float32)
    padded[hop : hop + len(x)] = x
    idx = np.lib.stride_tricks.sliding_window_view(padded, n)[::hop][:count]
    return idx * _window(n)


def _overlap_add(frames: np.ndarray, n: int, length: int) -> np.ndarray:
    hop = n // 2
    frames = frames * _window(n)
    out = np.zeros((len(frames) + 1) * hop, dtype=np.float32)
    out[: len(frames) * hop] += frames[:, :hop].reshape(-1)
    out[hop : (len(frames) + 1) * hop] += frames[:, hop:].reshape(-1)
    return out[hop : hop + length]


def _as_float(samples: Any) -> tuple[np.ndarray, np.dtype]:
    a = np.asarray(samples)
    if a.ndim not in (1, 2) or a.size == 0:
        raise InvalidArgument("samples must be a non-empty 1-D (mono) or 2-D (samples x channels) array")
    if a.dtype.kind == "i":
        scale = float(np.iinfo(a.dtype).max) + 1
        return a.astype(np.float32) / scale, a.dtype
    if a.dtype.kind != "f":
        raise InvalidArgument(f"unsupported sample type {a.dtype}")
    return a.astype(np.float32, copy=False), a.dtype


def _back(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if dtype.kind == "i":
        info = np.iinfo(dtype)
        return np.clip(np.round(x * (float(info.max) + 1)), info.min, info.max).astype(dtype)
    return x.astype(dtype)


def _mono(x: np.ndarray) -> np.ndarray:
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def _moving_mean(a: np.ndarray, width: int) -> np.ndarray:
    """Centred mean over ``width`` (odd) entries along axis 0, edges padded with the end values."""
    half = width // 2
    pad = np.pad(a.astype(np.float64), [(half, half)] + [(0, 0)] * (a.ndim - 1), mode="edge")
    c = np.cumsum(pad, axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c])
    return (c[width:] - c[:-width]) / width


def _gains(band: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Relative change per bin, ``min(MAX_GAIN, (t / |X|) ** 1.5)``, with the level t of each
    frame chosen so that the frame's change energy is its budget: the weaker a bin (masked by
    loud neighbours), the larger its share, more so than with equal absolute changes.

    Solved exactly per frame: with the bins sorted weakest first and the first k capped, the
    energy is ``cap^2 sum_{i<k} |X_i|^2 + t^3 sum_{i>=k} 1/|X_i|``; k is the number of bins whose
    capping level ``|X_k| cap^(2/3)`` still leaves the energy within the budget."""
    x = np.sort(band.astype(np.float64), axis=1) + 1e-12  # (frames, bins), weakest first
    frames, bins = x.shape
    capped = np.zeros((frames, bins + 1))
    capped[:, 1:] = MAX_GAIN**2 * np.cumsum(x * x, axis=1)  # energy of the k weakest bins, capped
    rest = np.zeros((frames, bins + 1))
    rest[:, :bins] = np.cumsum((1 / x)[:, ::-1], axis=1)[:, ::-1]  # sum of 1/|X| over the others
    edge = x * MAX_GAIN ** (2 / 3)  # the level at which bin k reaches the cap
    k = np.sum(capped[:, :bins] + edge**3 * rest[:, :bins] <= budget[:, None], axis=1)
    rows = np.arange(frames)
    left = np.maximum(budget - capped[rows, k], 0.0)
    t = np.where(k < bins, np.cbrt(left / np.maximum(rest[rows, k], 1e-300)), np.inf)
    m = t[:, None] / (band + 1e-12)
    return np.minimum(MAX_GAIN, m * np.sqrt(m))


def embed(
    samples: Any,
    sr: int,
    payload: bytes | int | str,
    key: Key = None,
    *,
    snr_db: float = DEFAULT_SNR_DB,
    version: Version | None = None,
) -> np.ndarray:
    """``samples`` (n or n x channels, float or integer PCM) with the watermark added; same
    shape and dtype. The watermark sits about ``snr_db`` below the signal, frame by frame.

    ``version``: by default :data:`VERSION`, or :data:`V1` when the sample rate is too low
    for its band (under about 14 kHz: 8, 11.025 and 12 kHz audio, whose Nyquist frequency is
    below 7 kHz); :data:`V1` may also be asked for (comparisons, tests)."""
    if sr < 8000:
        raise InputError(f"sample rate {sr} Hz is below 8 kHz")
    x, dtype = _as_float(samples)
    n = frame_size(sr)
    v = version or next((v for v in VERSIONS if v.kmax <= n // 2 + 1), V1)
    if v.kmax > n // 2 + 1:
        raise InputError(f"sample rate {sr} Hz is too low for {v.method}")
    k = _layout(normalize_key(key), v)
    coded = encode(frame_bits(normalize_payload(payload), key, v.domain))
    cells = _cells(k, coded)  # (rows, COLS)
    spec = np.fft.rfft(_frames(_mono(x), n), axis=1)
    mag = np.abs(spec)
    band = mag[:, KMIN : v.kmax]
    # the budget of each frame is snr_db below the signal (3 s smoothing); the weakest bins
    # (masked by loud neighbours) get the largest relative change, up to MAX_GAIN
    budget = _moving_mean((mag**2).sum(axis=1), BUDGET_FRAMES) * 10 ** (-snr_db / 10)
    gain = _gains(band, budget)
    f = np.arange(len(spec))
    pattern = cells[:, (f // COL_FRAMES) % COLS].T  # (frames, rows)
    pattern = np.repeat(pattern, ROW_BINS, axis=1)
    delta = spec[:, KMIN : v.kmax] * gain * pattern
    full = np.zeros_like(spec)
    full[:, KMIN : v.kmax] = delta
    d = _overlap_add(np.fft.irfft(full, n=n, axis=1).astype(np.float32), n, len(x))
    # the shaping above is local; one factor sets the whole file's SNR to snr_db
    e_x, e_d = float(np.sum(np.square(x, dtype=np.float64))), float(np.sum(np.square(d, dtype=np.float64)))
    if x.ndim == 2:
        e_d *= x.shape[1]
    if e_d > 0:
        d *= np.float32(np.sqrt(e_x / e_d * 10 ** (-snr_db / 10)))
    y = x + (d if x.ndim == 1 else d[:, None])
    return _back(y, dtype)


# -- detection ---------------------------------------------------------------------------------
#: time scales (received frames per original frame) and frequency scales tried, most likely first
_TEMPO = [1.0, 0.99, 1.01, 0.98, 1.02, 0.97, 1.03, 0.96, 1.04, 0.95, 1.05, 0.94, 1.06]
_SCALES: list[tuple[float, float]] = [(t, 1.0) for t in _TEMPO] + [(1 / s, s) for s in _TEMPO[1:]]


def _features(x: np.ndarray, sr: int) -> np.ndarray:
    """Time-high-passed, robustly normalised log magnitudes, (frames, bins up to 1.1 x KMAX)."""
    n = frame_size(sr)
    top = min(int(KMAX * 1.08) + 2, n // 2 + 1)
    mag = np.abs(np.fft.rfft(_frames(x, n), axis=1)[:, :top])
    logm = np.log(mag + 1e-7 * (1 + mag.max()))
    r = logm - _moving_mean(logm, SMOOTH_FRAMES)
    r = r - _moving_mean(r.T, FREQ_SMOOTH).T  # and in frequency: harmonics and formants move
    mad = np.median(np.abs(r), axis=0, keepdims=True) + 1e-6
    r = np.clip(r / (1.4826 * mad), -3, 3)
    if WEIGHT:
        # matched filter: the embedder changes loud bins less (relative); weight them down
        ref = np.median(mag[:, KMIN:KMAX], axis=1, keepdims=True) + 1e-12
        r = r * np.minimum(1.0, ref / (mag + 1e-12)) ** WEIGHT
    return r.astype(np.float32)


def _cells_at(feat: np.ndarray, tscale: float, fscale: float, v: Version) -> np.ndarray:
    """(rows, frames) cell-row sums on the original grid for one time/frequency scale."""
    frames = int((len(feat) - 1) / tscale)
    if frames < PERIOD_FRAMES:
        return np.zeros((v.rows, 0), dtype=np.float32)
    pos = np.arange(frames) * tscale
    i0 = np.floor(pos).astype(np.int64)
    w = (pos - i0).astype(np.float32)[:, None]
    i1 = np.minimum(i0 + 1, len(feat) - 1)
    timed = feat[i0] * (1 - w) + feat[i1] * w  # (frames, bins)
    bins = (np.arange(KMIN, v.kmax) * fscale).astype(np.float32)
    b0 = np.floor(bins).astype(np.int64)
    bw = bins - b0
    b1 = np.minimum(b0 + 1, feat.shape[1] - 1)
    b0 = np.minimum(b0, feat.shape[1] - 1)
    rows = timed[:, b0] * (1 - bw) + timed[:, b1] * bw  # (frames, kmax - KMIN)
    return rows.reshape(frames, v.rows, ROW_BINS).sum(axis=2).T


def _fold(cellrows: np.ndarray) -> np.ndarray:
    rows, frames = cellrows.shape
    periods = -(-frames // PERIOD_FRAMES)
    pad = np.zeros((rows, periods * PERIOD_FRAMES), dtype=np.float32)
    pad[:, :frames] = cellrows
    return pad.reshape(rows, periods, PERIOD_FRAMES).sum(axis=1)


@lru_cache(maxsize=8)
def _sync_fft(key: bytes, v: Version) -> np.ndarray:
    k = _layout(key, v)
    tmpl = np.where(k.sync, k.sign, 0.0)
    per_frame = np.repeat(tmpl, COL_FRAMES, axis=1)  # (rows, PERIOD_FRAMES)
    return np.conj(np.fft.rfft(per_frame, axis=1))


def _offsets(folded: np.ndarray, key: bytes, count: int, v: Version) -> list[tuple[float, int]]:
    """The ``count`` best cyclic offsets by sync correlation, as (z score, offset)."""
    corr = np.fft.irfft((np.fft.rfft(folded, axis=1) * _sync_fft(key, v)).sum(axis=0), n=PERIOD_FRAMES)
    z = (corr - np.median(corr)) / (corr.std() + 1e-9)
    best = np.argsort(z)[::-1][:count]
    return [(float(z[o]), int(o)) for o in best]


def _soft_bits(folded: np.ndarray, key: bytes, offset: int, v: Version) -> np.ndarray:
    k = _layout(key, v)
    aligned = np.roll(folded, -offset, axis=1)  # frame p of the period at index p
    cols = aligned.reshape(v.rows, COLS, COL_FRAMES).sum(axis=2) * k.sign
    data = ~k.sync
    soft = np.bincount(k.bit[data], weights=cols[data], minlength=CODED_BITS)
    return soft / (np.std(soft) + 1e-9)


def _candidates(feat: np.ndarray, key: bytes, v: Version) -> list[tuple[float, np.ndarray]]:
    """Soft-bit candidates of one segment's features (:func:`_features`) for one version, best
    sync first (at most MAX_ATTEMPTS)."""
    found: list[tuple[float, float, float, int, np.ndarray]] = []
    for tscale, fscale in _SCALES:
        rows = _cells_at(feat, tscale, fscale, v)
        if rows.shape[1] == 0:
            continue
        folded = _fold(rows)
        for z, off in _offsets(folded, key, 2, v):
            found.append((z, tscale, fscale, off, folded))
        if found and max(f[0] for f in found) > 8.0:  # an unmistakable sync peak: stop searching
            break
    found.sort(key=lambda f: -f[0])
    return [(z, _soft_bits(folded, key, off, v)) for z, _t, _f, off, folded in found[:MAX_ATTEMPTS]]


def _segments(length: int, sr: int) -> list[tuple[int, int]]:
    seg = int(SEGMENT_PERIODS * PERIOD_FRAMES * frame_size(sr) / 2)
    if length <= seg * 1.5:
        return [(0, length)]
    step = seg // 2
    return [(s, min(s + seg, length)) for s in range(0, length - step, step)]


def detect(samples: Any, sr: int, key: Key = None, *, expected: bytes | None = None) -> WatermarkReport:
    """Look for the watermark in ``samples`` (n or n x channels) at rate ``sr``."""
    x = _mono(_as_float(samples)[0])
    kb = normalize_key(key)
    attempts, best = 0, 0.0
    if len(x) < MIN_SECONDS * sr * 0.9 or sr < 8000:
        return WatermarkReport(METHOD, False, detail={"attempts": 0, "reason": "shorter than one period"})
    half = frame_size(sr) // 4  # half a hop: a cut between hop boundaries splits the cells in two
    for start, end in _segments(len(x), sr):
        for phase in (0, half):
            feat = _features(x[start + phase : end], sr)
            for v in VERSIONS:
                for rank, (z, soft) in enumerate(_candidates(feat, kb, v)):
                    best = max(best, z)
                    for info in list_viterbi(soft, PATHS if rank < LIST_CANDIDATES else 1):
                        attempts += 1
                        payload = check_frame(info, key, v.domain)
                        if payload is not None:
                            p = union_bound(attempts, TAG_BITS)
                            detail = {"attempts": attempts, "sync_z": round(z, 2), "at_seconds": round(start / sr, 2)}
                            match = None if expected is None else payload == expected
                            return WatermarkReport(v.method, True, payload.hex(), p, match, detail)
    return WatermarkReport(METHOD, False, detail={"attempts": attempts, "sync_z": round(best, 2)})


def best_guess(samples: Any, sr: int, key: Key = None) -> bytes:
    """The payload bits of the best sync candidate, checked or not (for bit-accuracy figures)."""
    x = _mono(_as_float(samples)[0])
    cands = _candidates(_features(x[: _segments(len(x), sr)[0][1]], sr), normalize_key(key), VERSION)
    if not cands:
        return bytes(8)
    info = viterbi(cands[0][1])
    return np.packbits(info[:64].astype(np.uint8)).tobytes()


def snr_db(original: Any, marked: Any) -> float:
    a = _as_float(original)[0].astype(np.float64)
    b = _as_float(marked)[0].astype(np.float64)
    noise = np.sum((a - b) ** 2)
    return float("inf") if noise == 0 else float(10 * np.log10(np.sum(a**2) / noise))


__all__ = ["METHOD", "MIN_SECONDS", "V1", "V2", "VERSION", "VERSIONS", "Version", "best_guess", "detect", "embed", "snr_db"]
