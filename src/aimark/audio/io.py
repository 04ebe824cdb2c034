"""Audio decode and encode in-process with PyAV (no ffmpeg subprocess).

``decode`` returns float32 samples (frames x channels) with what is needed to write the same
kind of file back: container, codec, sample rate, channel layout, sample format and bit rate.
``encode`` writes samples into that kind of file: WAV keeps its PCM width (16/24/32-bit or
float), FLAC its bit depth, MP3/AAC/Opus/Vorbis are re-encoded with the same codec at the
input's bit rate (a lossy codec cannot be kept bit-exact; the samples are what changed).
Vorbis uses FFmpeg's built-in encoder when libvorbis is not in the PyAV build.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..containers import DEFAULT_LIMITS, Limits
from ..errors import CorruptFile, EncodeError, LimitExceeded, UnsupportedFormat

#: carrier name -> (PyAV container format, extension)
_CONTAINER = {"wav": "wav", "mp3": "mp3", "flac": "flac", "ogg": "ogg", "opus": "ogg", "mp4": "ipod"}


@dataclass(frozen=True)
class AudioInfo:
    container: str  # carrier name: wav, mp3, flac, ogg, opus, mp4
    codec: str  # decoder name, e.g. pcm_s16le, mp3float, flac, vorbis, opus, aac
    rate: int
    channels: int
    layout: str
    sample_format: str  # PyAV sample format of the decoder, e.g. s16, s32, fltp
    bit_rate: int | None
    bits: int | None  # bits per raw sample for PCM / FLAC
    tags: tuple[tuple[str, str], ...] = ()  # container and stream tags, carried over on encode


def _open(data: bytes) -> Any:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise CorruptFile(f"cannot open the audio: {exc}") from None


def _cover_art(stream: Any) -> bool:
    """Whether a video stream is only an attached picture (album art), not a video."""
    disp = stream.disposition
    return bool(disp & type(disp).attached_pic)


def decode(
    data: bytes, container: str, limits: Limits = DEFAULT_LIMITS, *, audio_only: bool = False
) -> tuple[np.ndarray, AudioInfo]:
    """All samples of the first audio stream as float32 (frames x channels), at most
    ``limits.max_audio_samples`` per channel and ``limits.max_audio_channels`` channels.
    ``audio_only``: refuse files with other streams (re-encoding them as audio would drop the
    video)."""
    import av

    with _open(data) as f:
        streams = [s for s in f.streams if s.type == "audio"]
        if not streams:
            raise UnsupportedFormat("no audio stream")
        if audio_only and any(s.type == "video" and not _cover_art(s) for s in f.streams):
            raise UnsupportedFormat("a video file: audible prompts and watermarks are for audio files (metadata only here)")
        st = streams[0]
        ctx = st.codec_context
        if ctx is None or not ctx.sample_rate or not ctx.channels:
            raise CorruptFile("the audio stream declares no sample rate or channels")
        if ctx.channels > limits.max_audio_channels:
            raise LimitExceeded(f"{ctx.channels} channels (limit {limits.max_audio_channels})")
        info = AudioInfo(
            container=container,
            codec=ctx.name,
            rate=int(ctx.sample_rate),
            channels=int(ctx.channels),
            layout=ctx.layout.name,
            sample_format=ctx.format.name if ctx.format is not None else "fltp",
            bit_rate=int(ctx.bit_rate) if ctx.bit_rate else (int(f.bit_rate) if f.bit_rate else None),
            bits=int(ctx.bits_per_raw_sample) if getattr(ctx, "bits_per_raw_sample", 0) else None,
            tags=tuple((k, v) for k, v in {**f.metadata, **st.metadata}.items() if _keep_tag(k)),
        )
        resampler = av.AudioResampler(format="flt", layout=ctx.layout, rate=ctx.sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        try:
            for frame in f.decode(st):
                for out in resampler.resample(frame):
                    a = out.to_ndarray().reshape(-1, info.channels)
                    total += len(a)
                    if total > limits.max_audio_samples:
                        raise LimitExceeded(f"more than {limits.max_audio_samples} samples per channel")
                    chunks.append(a)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, info.channels))
        except av.error.FFmpegError as exc:
            if not chunks:
                raise CorruptFile(f"the audio cannot be decoded: {exc}") from None
    if not chunks:
        raise CorruptFile("no audio samples decoded")
    return np.concatenate(chunks).astype(np.float32, copy=False), info


def _keep_tag(name: str) -> bool:
    """Tags carried over by a re-encode: not the label (written afterwards) nor encoder stamps."""
    n = name.lower()
    return "aigc" not in n and n not in ("encoder", "major_brand", "minor_version", "compatible_brands", "creation_time")


def _pcm_codec(info: AudioInfo) -> tuple[str, str]:
    """(encoder, sample format) for a WAV/FLAC output keeping the input's depth."""
    if info.container == "flac":
        # FFmpeg's FLAC decoder gives s16 for 8-16-bit files and s32 for deeper ones (PyAV does
        # not expose bits_per_raw_sample); s32 is encoded as 24-bit FLAC
        deep = (info.bits or 0) > 16 or info.sample_format in ("s32", "s32p")
        return "flac", "s32" if deep else "s16"
    if info.codec.startswith("pcm_"):
        fmt = {
            "pcm_s16le": "s16",
            "pcm_s24le": "s32",
            "pcm_s32le": "s32",
            "pcm_f32le": "flt",
            "pcm_f64le": "dbl",
            "pcm_u8": "u8",
        }.get(info.codec)
        if fmt is not None:
            return info.codec, fmt
    return "pcm_s16le", "s16"


def encode(samples: np.ndarray, info: AudioInfo) -> bytes:
    """Samples (frames x channels, float) written as a file of the same kind as ``info``;
    :class:`~aimark.errors.EncodeError` when the encoder fails."""
    import av

    try:
        return _encode(samples, info)
    except (av.error.FFmpegError, ValueError) as exc:
        raise EncodeError(f"cannot encode the labeled {info.container} audio: {exc}") from None


def _encode(samples: np.ndarray, info: AudioInfo) -> bytes:
    import av

    fmt = _CONTAINER.get(info.container)
    if fmt is None:
        raise UnsupportedFormat(f"cannot write {info.container} audio")
    out_buf = io.BytesIO()
    with av.open(out_buf, mode="w", format=fmt) as out:
        out.metadata.update(dict(info.tags))
        if info.container in ("wav", "flac"):
            codec, sample_fmt = _pcm_codec(info)
        else:
            codec = {"mp3": "libmp3lame", "ogg": "libvorbis", "opus": "libopus", "mp4": "aac"}[info.container]
            sample_fmt = None
        try:
            st = out.add_stream(codec, rate=info.rate)
        except (av.error.FFmpegError, ValueError):
            if codec == "libvorbis":
                st = out.add_stream("vorbis", rate=info.rate)
                st.codec_context.options = {"strict": "experimental"}
            else:
                raise UnsupportedFormat(f"this PyAV build has no {codec} encoder") from None
        ctx = st.codec_context
        ctx.layout = info.layout
        if sample_fmt is None:
            sample_fmt = ctx.codec.audio_formats[0].name if ctx.codec.audio_formats else "fltp"
        ctx.format = sample_fmt
        if info.bits and codec == "pcm_s24le":
            ctx.bits_per_raw_sample = 24
        if info.bit_rate and info.container not in ("wav", "flac"):
            ctx.bit_rate = info.bit_rate
        if codec == "flac" and info.bits:
            ctx.bits_per_raw_sample = info.bits
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(np.clip(samples, -1.0, 1.0).astype(np.float32).reshape(1, -1)),
            format="flt",
            layout=info.layout,
        )
        frame.sample_rate = info.rate
        resampler = av.AudioResampler(format=sample_fmt, layout=info.layout, rate=info.rate, frame_size=ctx.frame_size or None)
        pts = 0
        for piece in [*resampler.resample(frame), *resampler.resample(None)]:
            piece.pts = pts  # explicit timestamps: the native Vorbis encoder needs them
            piece.time_base = Fraction(1, info.rate)
            pts += piece.samples
            for packet in st.encode(piece):
                out.mux(packet)
        for packet in st.encode(None):
            out.mux(packet)
    return out_buf.getvalue()


__all__ = ["AudioInfo", "decode", "encode"]
