"""Video: the opening label (:mod:`.explicit`), the frame watermark (:mod:`.watermark`), PyAV I/O
(:mod:`.io`), and the two verbs of the media interface (:mod:`aimark.media`): :func:`apply`
when labeling, :func:`inspect` when verifying.

Adding a label or a watermark changes frames, so :func:`apply` re-encodes the video stream
(H.264, or VP9 for WebM) and copies every other stream; the metadata label is written
afterwards, byte-level, by the container writers. Without ``--explicit``/``--watermark`` a video
is never re-encoded.

Video options (``ContentOptions.options``): ``position``, ``font``, ``style`` (as for images),
``badge`` (the label on every frame), ``seconds`` (how long the opening and end labels last,
at least 2), ``preset`` and ``crf`` (libx264's speed and quality; default veryfast, 20).
The placement ``at`` is ``start`` (default), ``end`` or ``start,end``.

Verify options (``VerifyOptions.settings``): ``video_frames`` (frames sampled, default 32) and
``video_budget`` (seconds spent decoding them, default 8).
"""

from __future__ import annotations

import mmap
from typing import Any

from ..containers import Buffer, Carrier, Limits
from ..errors import InputError, InvalidArgument, UnsupportedFormat
from ..image import ocr
from ..media import ContentStep, Probe, parse_places
from ..report import ExplicitReport, WatermarkReport
from . import explicit, io, watermark

POSITIONS = explicit.image_explicit.POSITIONS
DEFAULT_FRAMES = 32
DEFAULT_BUDGET = 8.0


def fine_format(carrier: Carrier, buf: Buffer, limits: Limits) -> str:
    """mp4, mov, mkv, webm, avi or flv."""
    if carrier.name == "mp4":
        return "mov" if bytes(buf[8:12]) == b"qt  " and bytes(buf[4:8]) == b"ftyp" else "mp4"
    return carrier.read(buf, limits).format or carrier.name


def _options(step: ContentStep) -> dict[str, Any]:
    o = dict(step.options)
    if o.get("position") not in POSITIONS:
        raise InvalidArgument(f"position is one of {', '.join(POSITIONS)}; got {o.get('position')!r}")
    if o.get("style") not in explicit.image_explicit.STYLES:
        raise InvalidArgument(f"style is one of {', '.join(explicit.image_explicit.STYLES)}; got {o.get('style')!r}")
    try:
        o["seconds"] = float(o.get("seconds", explicit.DEFAULT_SECONDS))
        o["crf"] = int(o.get("crf", 20))
    except (TypeError, ValueError):
        raise InvalidArgument("seconds is a number and crf an integer") from None
    if o["seconds"] < explicit.DEFAULT_SECONDS:
        raise InvalidArgument(f"a video label lasts at least {explicit.DEFAULT_SECONDS:g} s (SPEC section 1)")
    if not 0 <= o["crf"] <= 51:
        raise InvalidArgument("crf is 0..51")
    if o.get("preset") not in ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"):
        raise InvalidArgument(f"unknown x264 preset {o.get('preset')!r}")
    return o


def apply(carrier: Carrier, buf: Buffer, step: ContentStep, limits: Limits) -> mmap.mmap:
    """The video re-encoded with the label and/or the watermark (a read-only map of a
    temporary file: a long video is never held in memory)."""
    o = _options(step)
    places = parse_places(step.at or "start", ("start", "end"))
    fmt = fine_format(carrier, buf, limits)
    info = io.probe(buf, limits)
    if step.payload is not None and min(info.width, info.height) < watermark.MIN_SIDE:
        raise InputError(f"a video smaller than {watermark.MIN_SIDE} pixels on a side cannot hold the watermark")
    embed = watermark.Embedder(step.payload, step.key, info.width, info.height) if step.payload is not None else None
    state: dict[str, Any] = {}

    def process(pl: io.Planes) -> None:
        if embed is not None:
            embed(pl.y)  # the mark first: the label's pixels stay as drawn
        if step.explicit and explicit.labeled(pl.time, places, o["seconds"], info.duration, bool(o.get("badge"))):
            overlay = state.get("overlay")
            if overlay is None:
                overlay = state["overlay"] = explicit.Overlay(
                    pl.y.shape[1], pl.y.shape[0], info.rotation, step.wording or "AI生成",
                    position=o["position"], font=o.get("font"), style=o["style"], full_range=info.full_range,
                    first_luma=pl.y.copy(),
                )  # fmt: skip
            overlay.apply(pl.y, pl.u, pl.v)

    progress = io.TerminalProgress("aimark: re-encoding the video")
    try:
        return io.transcode(buf, fmt, process, limits=limits, preset=o["preset"], crf=o["crf"], progress=progress)
    finally:
        progress.close()


def inspect(carrier: Carrier, buf: Buffer, probe: Probe, limits: Limits) -> tuple[ExplicitReport | None, WatermarkReport | None]:
    """The opening label, read by text recognition (:mod:`aimark.image.ocr`, the ``ocr``
    extra; else None and verify says so) in frames of the first 2 s, and the watermark over
    sampled frames."""
    found = read_opening_label(buf, limits) if probe.explicit and ocr.available() else None
    if not probe.watermark:
        return found, None
    settings = probe.settings
    try:
        frames = int(settings.get("video_frames", DEFAULT_FRAMES))
        budget = float(settings.get("video_budget", DEFAULT_BUDGET))
    except (TypeError, ValueError):
        raise InvalidArgument("video_frames is an integer and video_budget a number of seconds") from None
    if frames < 1 or budget <= 0:
        raise InvalidArgument("video_frames >= 1 and video_budget > 0")
    try:
        lumas = (pl.y for pl in io.sample(buf, limits, frames=frames, budget=budget))
        return found, watermark.detect(lumas, probe.key, expected=probe.expected)
    except UnsupportedFormat:
        return found, None


def read_opening_label(buf: Buffer, limits: Limits, *, frames: int = 3) -> ExplicitReport:
    """The visible label in the opening frames (``frames`` of them over the first 2 s): the
    first frame it is read in (``frame_time``), else what the last frame showed."""
    last = ExplicitReport(found=False)
    try:
        for t, rgb in io.opening_frames(buf, limits, seconds=explicit.DEFAULT_SECONDS, count=frames):
            r = ocr.find_label(rgb)
            r.frame_time = round(t, 3)
            if r.found:
                return r
            last = r
    except UnsupportedFormat:
        pass
    return last


__all__ = ["apply", "explicit", "fine_format", "inspect", "io", "read_opening_label", "watermark"]
