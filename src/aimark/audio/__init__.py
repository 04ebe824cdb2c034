"""Audio: audible prompts (:mod:`.explicit`), the blind watermark (:mod:`.watermark`), PyAV I/O
(:mod:`.io`), and the two journey steps for audio files (:func:`apply`, :func:`inspect`).

Adding a prompt or a watermark changes samples, so :func:`apply` decodes and re-encodes with
PyAV, keeping the container, codec family, sample rate, channel layout, bit depth (WAV, FLAC),
bit rate (lossy codecs) and the container's tags. The metadata label is written afterwards,
byte-level, by the container writers, as for any other file.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..containers import Buffer, Carrier, Limits
from ..errors import InputError
from ..report import ExplicitReport, WatermarkReport
from ..watermark import Key
from . import explicit, io, watermark


@dataclass(frozen=True)
class AudioStep:
    """``prompt``: None, "rhythm" or "voice"; ``at``: start, end, middle or a comma list;
    ``voice``: the spoken clip's file bytes (default: the bundled clip); ``payload``: embed the
    watermark when given."""

    prompt: str | None = None
    at: str = "end"
    voice: bytes | None = None
    payload: bytes | None = None
    key: Key = None


def apply(carrier: Carrier, buf: Buffer, step: AudioStep, limits: Limits) -> bytes:
    samples, info = io.decode(bytes(buf), carrier.name, audio_only=True)
    # the prompt first, then the watermark over everything: one unbroken watermark period grid
    if step.prompt == "rhythm":
        samples = explicit.add_rhythm(samples, info.rate, step.at)
    elif step.prompt == "voice":
        clip, clip_sr = explicit.load_clip(step.voice if step.voice is not None else explicit.default_voice())
        samples = explicit.add_voice(samples, info.rate, clip, clip_sr, step.at)
    elif step.prompt is not None:
        raise InputError(f"audio explicit labels are 'rhythm' or 'voice', not {step.prompt!r}")
    if step.payload is not None:
        if len(samples) < watermark.MIN_SECONDS * info.rate:
            raise InputError(f"audio shorter than {watermark.MIN_SECONDS:.1f} s cannot hold the watermark")
        samples = watermark.embed(samples, info.rate, step.payload, step.key)
    return io.encode(samples, info)


def inspect(
    carrier: Carrier,
    buf: Buffer,
    limits: Limits,
    *,
    key: Key = None,
    expected: bytes | None = None,
    detect_watermark: bool = True,
    detect_explicit: bool = True,
) -> tuple[ExplicitReport | None, WatermarkReport | None]:
    samples, info = io.decode(bytes(buf), carrier.name)
    found = explicit.find_rhythm(samples, info.rate) if detect_explicit else None
    wm = watermark.detect(samples, info.rate, key, expected=expected) if detect_watermark else None
    return found, wm


__all__ = ["AudioStep", "apply", "explicit", "inspect", "io", "watermark"]
