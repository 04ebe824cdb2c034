"""Audio: audible prompts (:mod:`.explicit`), the blind watermark (:mod:`.watermark`), PyAV I/O
(:mod:`.io`), and the two verbs of the media interface (:mod:`aimark.media`): :func:`apply`
when labeling, :func:`inspect` when verifying.

Audio options (``ContentOptions.options``): ``prompt`` (``rhythm``, the default, or ``voice``)
and ``voice`` (the bytes of a spoken clip; default: the bundled one). The placement ``at`` is
start, end, middle or a comma list (default start).

Adding a prompt or a watermark changes samples, so :func:`apply` decodes and re-encodes with
PyAV, keeping the container, codec family, sample rate, channel layout, bit depth (WAV, FLAC),
bit rate (lossy codecs) and the container's tags. The metadata label is written afterwards,
byte-level, by the container writers, as for any other file.
"""

from __future__ import annotations

from ..containers import Buffer, Carrier, Limits
from ..errors import InputError, InvalidArgument
from ..media import ContentStep, Probe
from ..report import ExplicitReport, WatermarkReport
from . import explicit, io, watermark

PROMPTS = ("rhythm", "voice")


def apply(carrier: Carrier, buf: Buffer, step: ContentStep, limits: Limits) -> bytes:
    prompt, voice = step.options.get("prompt"), step.options.get("voice")
    if prompt not in PROMPTS:
        raise InvalidArgument(f"an audio explicit label is the 'rhythm' or the 'voice' prompt, not {prompt!r}")
    if voice is not None and not isinstance(voice, (bytes, bytearray)):
        raise InvalidArgument("voice is the bytes of a spoken clip file")
    if voice is not None and prompt != "voice":
        raise InvalidArgument("a voice clip is for the 'voice' prompt (prompt='voice')")
    at = step.at or "start"
    samples, info = io.decode(bytes(buf), carrier.name, limits, audio_only=True)
    # the prompt first, then the watermark over everything: one unbroken watermark period grid
    if step.explicit and prompt == "rhythm":
        samples = explicit.add_rhythm(samples, info.rate, at)
    elif step.explicit:
        clip, clip_sr = explicit.load_clip(bytes(voice) if voice is not None else explicit.default_voice(), limits)
        samples = explicit.add_voice(samples, info.rate, clip, clip_sr, at)
    if step.payload is not None:
        if len(samples) < watermark.MIN_SECONDS * info.rate:
            raise InputError(f"audio shorter than {watermark.MIN_SECONDS:.1f} s cannot hold the watermark")
        samples = watermark.embed(samples, info.rate, step.payload, step.key)
    return io.encode(samples, info)


def inspect(carrier: Carrier, buf: Buffer, probe: Probe, limits: Limits) -> tuple[ExplicitReport | None, WatermarkReport | None]:
    """The rhythm prompt and the watermark of an audio file, as ``probe`` asks."""
    if not (probe.explicit or probe.watermark):
        return None, None
    samples, info = io.decode(bytes(buf), carrier.name, limits)
    found = explicit.find_rhythm(samples, info.rate) if probe.explicit else None
    wm = watermark.detect(samples, info.rate, probe.key, expected=probe.expected) if probe.watermark else None
    return found, wm


__all__ = ["PROMPTS", "apply", "explicit", "inspect", "io", "watermark"]
