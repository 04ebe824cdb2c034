"""Video decode, process and encode in-process with PyAV (no ffmpeg subprocess).

:func:`transcode` decodes the first video stream frame by frame, hands each frame's planes to a
processor (which changes them in place), encodes the result and copies every other stream
(audio, subtitles, data, further video) packet for packet, so their bytes are the input's. Kept:
each frame's timestamp (constant and variable frame rates alike: the output uses the input's
time base and pts), the display rotation, the colour range, primaries, transfer and matrix, the
container's and the streams' tags. The encoder is libx264 (H.264) for MP4, MOV, Matroska, AVI
and FLV, and libvpx-vp9 for WebM (the only WebM-legal family PyAV's wheel encodes). Frames that
are not 8-bit planar YUV are converted to 4:2:0 for encoding.

The output goes to an unlinked temporary file, returned as a read-only map: memory does not
grow with the duration (only a few frames are in flight), and nothing is left behind whatever
happens. :func:`sample` decodes a bounded number of frames for verification, keyframes first.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..containers import Buffer, Limits
from ..containers.vorbis import BufferFile
from ..errors import CorruptFile, EncodeError, LimitExceeded, UnsupportedFormat

#: the PyAV muxer for each fine format name
MUXERS = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm", "avi": "avi", "flv": "flv"}
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
MAX_PIXELS = 8192 * 8192


@dataclass(frozen=True)
class VideoInfo:
    """What the first video stream is: size as stored, display rotation (counter-clockwise
    degrees), frame rate, duration (seconds) and frame count (estimates when not declared)."""

    width: int
    height: int
    rotation: int
    rate: Fraction
    duration: float
    frames: int
    full_range: bool
    codec: str
    native: bool = True  # decoded frames are 8-bit planar YUV (else they are converted)

    @property
    def display_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)


@dataclass
class Planes:
    """One frame's planes as writable arrays (views into the frame: changes go to the encoder)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    index: int  # frame number in decode order
    time: float  # presentation time in seconds from the stream start


Processor = Callable[[Planes], None]
Progress = Callable[[int, int], None]


def _open(buf: Buffer) -> Any:
    import av

    try:
        return av.open(BufferFile(buf), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise CorruptFile(f"cannot open the video: {exc}") from None


def _plane(frame: Any, i: int, h: int, w: int) -> np.ndarray:
    p = frame.planes[i]
    return np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[:h, :w]


def planes(frame: Any, index: int, t: float) -> Planes:
    ps = frame.planes
    return Planes(*(_plane(frame, i, ps[i].height, ps[i].width) for i in range(3)), index, t)


def _rotation(frame: Any) -> int:
    try:
        return round(float(frame.rotation)) % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def probe(buf: Buffer, limits: Limits) -> VideoInfo:
    """The first video stream's geometry and timing (its first frame is decoded for rotation)."""
    with _open(buf) as c:
        return _probe(c, limits)


def _probe(c: Any, limits: Limits) -> VideoInfo:
    import av

    if not c.streams.video:
        raise UnsupportedFormat("no video stream")
    v = c.streams.video[0]
    ctx = v.codec_context
    if ctx is None or not ctx.width or not ctx.height:
        raise CorruptFile("the video stream declares no frame size")
    if ctx.width * ctx.height > min(limits.max_pixels, MAX_PIXELS):
        raise LimitExceeded(f"{ctx.width}x{ctx.height} video frames exceed the pixel limit")
    rate = v.average_rate or v.guessed_rate or Fraction(25)
    duration = float(v.duration * v.time_base) if v.duration and v.time_base else (c.duration / 1e6 if c.duration else 0.0)
    frames = int(v.frames) if v.frames else round(duration * float(rate))
    rotation = 0
    try:
        for frame in c.decode(v):
            rotation = _rotation(frame)
            break
    except av.error.FFmpegError as exc:
        raise CorruptFile(f"the video cannot be decoded: {exc}") from None
    native = (ctx.pix_fmt or "") in _PLANAR_8BIT  # others (RGB, 10-bit) are converted to limited-range 4:2:0
    full = native and (ctx.color_range == 2 or (ctx.pix_fmt or "").startswith("yuvj"))
    return VideoInfo(ctx.width, ctx.height, rotation, Fraction(rate), duration, frames, full, ctx.name, native)


def _encoder(fmt: str) -> tuple[str, dict[str, str]]:
    if fmt == "webm":
        return "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": "30", "b": "0"}
    return "libx264", {}


def transcode(
    buf: Buffer,
    fmt: str,
    process: Processor,
    *,
    limits: Limits,
    preset: str = "veryfast",
    crf: int = 20,
    progress: Progress | None = None,
) -> mmap.mmap:
    """The file re-encoded with ``process`` applied to every frame of its first video stream."""
    import av

    muxer = MUXERS.get(fmt)
    if muxer is None:
        raise UnsupportedFormat(f"re-encoding {fmt} video is not supported")
    tmp = tempfile.TemporaryFile(prefix="aimark-video-")  # noqa: SIM115 - closed in finally; the map outlives it
    try:
        with _open(buf) as inp:
            info = _probe(inp, limits)
            inp.seek(0)
            _run(inp, _Anonymous(tmp), muxer, fmt, info, process, preset, crf, progress)
        tmp.flush()
        if tmp.tell() == 0:
            raise EncodeError("the encoder wrote nothing")
        return mmap.mmap(tmp.fileno(), 0, access=mmap.ACCESS_READ)
    except av.error.FFmpegError as exc:
        raise EncodeError(f"cannot re-encode the video: {exc}") from exc
    finally:
        tmp.close()  # the map keeps the (unlinked) data alive; the name never existed on disk


class _Anonymous(io.RawIOBase):
    """A nameless view of a file object: PyAV opens ``file.name`` when it has one, and an
    unlinked temporary file's name is a descriptor number."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        return self._f.write(b)  # type: ignore[no-any-return]

    def readinto(self, b: Any) -> int:
        return self._f.readinto(b)  # type: ignore[no-any-return]

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._f.seek(offset, whence)  # type: ignore[no-any-return]

    def tell(self) -> int:
        return self._f.tell()  # type: ignore[no-any-return]

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:  # the temporary file is closed by its owner
        self.flush()


def _run(
    inp: Any,
    tmp: Any,
    muxer: str,
    fmt: str,
    info: VideoInfo,
    process: Processor,
    preset: str,
    crf: int,
    progress: Progress | None,
) -> None:
    import av

    vin = inp.streams.video[0]
    # (no +faststart: its second pass reopens the output by name, and this output has none)
    out = av.open(tmp, mode="w", format=muxer)
    with out:
        out.metadata.update({k: v for k, v in inp.metadata.items() if k.upper() != "AIGC"})
        copies: dict[int, Any] = {}
        for s in inp.streams:
            if s.index == vin.index or s.type not in ("audio", "subtitle", "data", "video"):
                continue
            try:
                copies[s.index] = out.add_stream_from_template(s)
            except (av.error.FFmpegError, ValueError, TypeError):
                continue  # a stream the output format cannot hold (e.g. data in FLV) is dropped
        codec, extra = _encoder(fmt)
        vout = out.add_stream(codec, rate=info.rate)
        vout.width, vout.height = info.width, info.height
        vout.pix_fmt = "yuv420p"
        vout.time_base = vin.time_base
        cc = vout.codec_context
        cc.time_base = vin.time_base
        ic = vin.codec_context
        keep = ("color_range", "color_primaries", "color_trc", "colorspace") if info.native else ("color_primaries", "color_trc")
        for attr in keep:
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                setattr(cc, attr, getattr(ic, attr))
        if not info.native:  # converted frames are limited-range BT.709-matrix YUV
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                cc.color_range, cc.colorspace = 1, 1
        vout.metadata.update(vin.metadata)
        if codec == "libx264":
            vout.options = {"preset": preset, "crf": str(crf), **extra}
        else:
            vout.options = extra
        if info.rotation:
            vout.set_display_rotation(info.rotation)
        t0 = vin.start_time or 0
        n = 0
        last = time.monotonic()
        for pkt in inp.demux():
            if pkt.stream.index == vin.index:
                try:
                    decoded = pkt.decode()
                except av.error.InvalidDataError:
                    continue  # a corrupt packet: skip it (the decoder recovers at the next keyframe)
                for frame in decoded:
                    n = _encode(frame, n, vin, vout, out, process, t0)
                    if progress is not None and time.monotonic() - last > 0.2:
                        progress(n, info.frames)
                        last = time.monotonic()
            elif pkt.stream.index in copies and pkt.dts is not None:
                pkt.stream = copies[pkt.stream.index]
                out.mux(pkt)
        with contextlib.suppress(av.error.EOFError):  # demux() ends with the flush packets already
            for frame in vin.decode(None):
                n = _encode(frame, n, vin, vout, out, process, t0)
        for p in vout.encode(None):
            out.mux(p)
        if n == 0:
            raise CorruptFile("no video frame could be decoded")
        if progress is not None:
            progress(n, info.frames)


def _encode(frame: Any, n: int, vin: Any, vout: Any, out: Any, process: Processor, t0: int) -> int:
    if frame.format.name not in _PLANAR_8BIT:
        frame = frame.reformat(format="yuv420p")
    else:
        frame.make_writable()  # the decoder may still reference this picture: never write into it
    t = float((frame.pts - t0) * vin.time_base) if frame.pts is not None else n / float(vout.average_rate or 25)
    process(planes(frame, n, t))
    frame.pict_type = 0  # let the encoder choose
    if frame.format.name != "yuv420p":
        pts, tb = frame.pts, frame.time_base
        frame = frame.reformat(format="yuv420p")
        frame.pts, frame.time_base = pts, tb
    for p in vout.encode(frame):
        out.mux(p)
    return n + 1


def sample(buf: Buffer, limits: Limits, *, frames: int = 16, budget: float = 8.0) -> Iterator[Planes]:
    """Up to ``frames`` frames spread over the video (keyframes, found by seeking, so a long film
    is not decoded whole), within ``budget`` seconds; a short clip is decoded from the start."""
    import av

    start = time.monotonic()
    with _open(buf) as c:
        info = _probe(c, limits)
        v = c.streams.video[0]
        seen: set[int] = set()
        if info.duration <= 20:
            c.seek(0)
            step = max(1, info.frames // frames) if info.frames else 1
            k = 0
            try:
                for i, frame in enumerate(c.decode(v)):
                    if time.monotonic() - start > budget or k >= frames:
                        return
                    if i % step == 0:
                        k += 1
                        yield planes(_as_planar(frame), i, float(frame.time or 0.0))
            except av.error.FFmpegError:
                return
            return
        v.codec_context.skip_frame = "NONKEY"
        base = v.start_time or 0
        for i in range(frames):
            if time.monotonic() - start > budget:
                return
            target = base + int((info.duration * (i + 0.5) / frames) / float(v.time_base))
            try:
                c.seek(target, backward=True, any_frame=False, stream=v)
                for frame in c.decode(v):
                    if frame.pts not in seen:
                        seen.add(frame.pts)
                        yield planes(_as_planar(frame), i, float(frame.time or 0.0))
                    break
            except av.error.FFmpegError:
                continue


def opening_frames(buf: Buffer, limits: Limits, *, seconds: float = 2.0, count: int = 3) -> Iterator[tuple[float, np.ndarray]]:
    """``count`` frames spread over the first ``seconds`` of presentation time, as displayed
    (RGB, the stream's rotation applied), with their times; decoding stops at ``seconds``."""
    import av

    with _open(buf) as c:
        info = _probe(c, limits)
        v = c.streams.video[0]
        c.seek(0)
        marks = [seconds * k / count for k in range(count)]
        start = None
        try:
            for frame in c.decode(v):
                t = float(frame.time or 0.0)
                start = t if start is None else start
                rel = t - start
                if rel >= seconds or not marks:
                    return
                if rel + 1e-6 >= marks[0]:
                    while marks and rel + 1e-6 >= marks[0]:
                        marks.pop(0)
                    rgb = frame.to_ndarray(format="rgb24")
                    if info.rotation % 360:
                        rgb = np.ascontiguousarray(np.rot90(rgb, k=(info.rotation % 360) // 90))
                    yield rel, rgb
        except av.error.FFmpegError:
            return


def _as_planar(frame: Any) -> Any:
    return frame if frame.format.name in _PLANAR_8BIT else frame.reformat(format="yuv420p")


class TerminalProgress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, what: str) -> None:
        self.what, self.enabled = what, sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        pct = f" {100 * done // total:3d}%" if total else ""
        sys.stderr.write(f"\r\x1b[K{self.what}: frame {done}{'/' + str(total) if total else ''}{pct}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


__all__ = [
    "MUXERS",
    "Planes",
    "TerminalProgress",
    "VideoInfo",
    "opening_frames",
    "planes",
    "probe",
    "sample",
    "transcode",
]
