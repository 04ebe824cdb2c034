"""Audible labels: the rhythm prompt "短长短短" (Morse "AI": ·− ··) and spoken prompts.

SPEC section 1 sets no tone frequency or durations; the defaults follow what implementations
use: an 800 Hz sine, dot 120 ms, dash 360 ms, 120 ms between tones, 360 ms between the two
letters, 10 ms raised-cosine fades, at 3 dB below the content's RMS level (never quieter than
-30 dBFS). Every value is a field of :class:`Rhythm`.

:func:`insert` splices a prompt into the content at ``start``, ``end``, ``middle`` or several
of them (the content is lengthened by the prompt, with ``pad`` seconds of quiet around it and
short crossfades where the content is cut), in every channel, at any sample rate. A spoken
prompt is the bundled clip saying "人工智能生成" (:func:`default_voice`, made offline with
espeak-ng's Mandarin voice; provenance in ``data/voice/PROVENANCE.txt``) or any clip the user
supplies (:func:`load_clip`), resampled to the content's rate.
:func:`find_rhythm` finds the rhythm prompt again: it tracks the tone's band energy, cuts it
into on/off runs and matches the dot-dash-dot-dot pattern with a tolerance of +-40%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..containers import DEFAULT_LIMITS, Limits
from ..media import AXIS_PLACES, parse_places
from ..report import ExplicitReport

PLACES = AXIS_PLACES


@dataclass(frozen=True)
class Rhythm:
    frequency: float = 800.0
    dot: float = 0.12
    dash: float = 0.36
    gap: float = 0.12  # between the tones of one letter
    letter_gap: float = 0.36  # between A and I
    fade: float = 0.01
    level_db: float = -3.0  # relative to the content's RMS level
    floor_dbfs: float = -30.0  # the prompt is never quieter than this

    @property
    def pattern(self) -> list[tuple[bool, float]]:
        """(tone on?, seconds) runs of ·− ··."""
        d, D, g, L = self.dot, self.dash, self.gap, self.letter_gap
        return [(True, d), (False, g), (True, D), (False, L), (True, d), (False, g), (True, d)]

    @property
    def seconds(self) -> float:
        return sum(t for _, t in self.pattern)


DEFAULT_RHYTHM = Rhythm()


def rms_dbfs(x: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0
    return 20 * np.log10(r) if r > 0 else -120.0


def rhythm_tone(sr: int, rhythm: Rhythm = DEFAULT_RHYTHM, level_dbfs: float = -12.0) -> np.ndarray:
    """The mono rhythm prompt at ``level_dbfs`` RMS while sounding."""
    amp = np.sqrt(2) * 10 ** (level_dbfs / 20)
    parts = []
    for on, secs in rhythm.pattern:
        n = round(secs * sr)
        if not on:
            parts.append(np.zeros(n, dtype=np.float32))
            continue
        t = np.arange(n) / sr
        tone = amp * np.sin(2 * np.pi * rhythm.frequency * t)
        f = min(round(rhythm.fade * sr), n // 2)
        if f:
            ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(f) / f)
            tone[:f] *= ramp
            tone[n - f :] *= ramp[::-1]
        parts.append(tone.astype(np.float32))
    return np.concatenate(parts)


def _resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    if src == dst:
        return x
    n = max(1, round(len(x) * dst / src))
    pos = np.arange(n) * (src / dst)
    return np.interp(pos, np.arange(len(x)), x).astype(np.float32)


def _places(at: str) -> list[str]:
    return parse_places(at, PLACES)


def insert(
    samples: np.ndarray, sr: int, prompt: np.ndarray, at: str = "start", *, pad: float = 0.15, crossfade: float = 0.01
) -> tuple[np.ndarray, list[float]]:
    """``samples`` (frames x channels) with the mono ``prompt`` spliced in at each place, and
    the start time (seconds, in the output) of each inserted prompt."""
    x = samples if samples.ndim == 2 else samples[:, None]
    quiet = np.zeros(round(pad * sr), dtype=np.float32)
    block = np.concatenate([quiet, prompt.astype(np.float32), quiet])
    block = np.repeat(block[:, None], x.shape[1], axis=1)
    cuts = sorted({{"start": 0, "end": len(x), "middle": _quiet_point(x, sr)}[p] for p in _places(at)})
    f = max(1, round(crossfade * sr))
    out, starts, pos = [], [], 0
    for cut in cuts:
        piece = x[pos:cut].copy()
        if len(piece) > f and cut < len(x):  # fade out into the prompt
            piece[-f:] *= np.linspace(1, 0, f, dtype=np.float32)[:, None]
        if pos > 0 and len(piece) > f:  # fade in after the previous prompt
            piece[:f] *= np.linspace(0, 1, f, dtype=np.float32)[:, None]
        out.append(piece)
        starts.append((sum(len(o) for o in out) + len(quiet)) / sr)
        out.append(block)
        pos = cut
    rest = x[pos:].copy()
    if pos > 0 and len(rest) > f:
        rest[:f] *= np.linspace(0, 1, f, dtype=np.float32)[:, None]
    out.append(rest)
    y = np.concatenate(out)
    return (y if samples.ndim == 2 else y[:, 0]), starts


def _quiet_point(x: np.ndarray, sr: int) -> int:
    """The quietest 20 ms point within +-10% of the middle (a cut there is least audible)."""
    mid = len(x) // 2
    span = max(len(x) // 10, 1)
    hop = max(round(0.02 * sr), 1)
    lo, hi = max(mid - span, 0), min(mid + span, len(x))
    if hi - lo < 2 * hop:
        return mid
    seg = np.square(x[lo:hi].mean(axis=1), dtype=np.float64)
    energy = np.add.reduceat(seg, np.arange(0, len(seg), hop))
    return lo + int(np.argmin(energy)) * hop


def add_rhythm(samples: np.ndarray, sr: int, at: str = "start", rhythm: Rhythm = DEFAULT_RHYTHM) -> np.ndarray:
    """The content with the rhythm prompt inserted at ``at`` (level relative to its RMS)."""
    level = max(rms_dbfs(samples) + rhythm.level_db, rhythm.floor_dbfs)
    return insert(samples, sr, rhythm_tone(sr, rhythm, level), at)[0]


def add_voice(samples: np.ndarray, sr: int, clip: np.ndarray, clip_sr: int, at: str = "start") -> np.ndarray:
    """The content with a spoken prompt (mono ``clip`` at ``clip_sr``) inserted at ``at``,
    levelled to the content's RMS."""
    c = _resample(clip.astype(np.float32), clip_sr, sr)
    gain = 10 ** ((max(rms_dbfs(samples), -30.0) - rms_dbfs(c)) / 20)
    c = np.clip(c * gain, -1, 1)
    return insert(samples, sr, c, at)[0]


# -- detection ---------------------------------------------------------------------------------
def find_rhythm(samples: np.ndarray, sr: int, rhythm: Rhythm = DEFAULT_RHYTHM) -> ExplicitReport:
    """Where the rhythm prompt sounds (start / end / middle), from its tone onsets."""
    starts = rhythm_onsets(samples, sr, rhythm)
    total = len(samples) / sr
    positions = []
    for s in starts:
        pos = "start" if s < min(2.0, total * 0.1) else "end" if s + rhythm.seconds > total - min(2.0, total * 0.1) else "middle"
        positions.append(pos)
    if not starts:
        return ExplicitReport(False)
    return ExplicitReport(True, positions[0], "·− ·· (rhythm prompt)", positions)


def rhythm_onsets(samples: np.ndarray, sr: int, rhythm: Rhythm = DEFAULT_RHYTHM, tolerance: float = 0.4) -> list[float]:
    """Start times (s) of every ·− ·· run of the tone found in ``samples``."""
    x = samples.mean(axis=1) if samples.ndim == 2 else samples
    hop = max(round(0.005 * sr), 1)
    n = 4 * hop
    if len(x) < n * 4:
        return []
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float32), n)[::hop] * np.hanning(n)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    band = np.abs(freqs - rhythm.frequency) <= max(60.0, sr / n)
    tone = spec[:, band].sum(axis=1)
    total = spec.sum(axis=1) + 1e-12
    on = (tone / total > 0.4) & (tone > 1e-7 * n)
    runs: list[tuple[bool, float, float]] = []  # (on, start s, length s)
    i = 0
    while i < len(on):
        j = i
        while j < len(on) and on[j] == on[i]:
            j += 1
        start, length = i * hop / sr, (j - i) * hop / sr
        if runs and (length < 0.025 or runs[-1][0] == bool(on[i])):  # a codec glitch: part of the run before
            prev = runs.pop()
            runs.append((prev[0], prev[1], start + length - prev[1]))
        else:
            runs.append((bool(on[i]), start, length))
        i = j
    want = rhythm.pattern
    found = []
    for k in range(len(runs) - len(want) + 1):
        window = runs[k : k + len(want)]
        if all(r[0] == w[0] and abs(r[2] - w[1]) <= tolerance * w[1] + 0.02 for r, w in zip(window, want, strict=True)):
            found.append(round(window[0][1], 3))
    return found


def default_voice() -> bytes:
    """The bundled spoken prompt "人工智能生成" (espeak-ng Mandarin; see data/voice/PROVENANCE.txt)."""
    from importlib.resources import files

    return files("aimark").joinpath("data/voice/aigc-zh.wav").read_bytes()


def load_clip(data: bytes, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, int]:
    """A spoken prompt from any audio file aimark can decode: (mono float32, rate)."""
    from ..containers import sniff
    from .io import decode

    carrier = sniff(data[:512])
    samples, info = decode(data, carrier.name, limits)
    return samples.mean(axis=1), info.rate


__all__ = [
    "DEFAULT_RHYTHM",
    "Rhythm",
    "add_rhythm",
    "add_voice",
    "default_voice",
    "find_rhythm",
    "insert",
    "load_clip",
    "rhythm_onsets",
]
