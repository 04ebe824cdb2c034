"""Uploads for the platform tests: a labeled and watermarked photo, the same photo after a
re-encode that dropped the metadata (the watermark is all that is left), a clean photo, a
labeled WAV, documents. Photos: scikit-image's ``astronaut`` (NASA, public domain) and
``coffee`` (Rachel Michetti, CC0).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data as skdata

import aimark
from aimark import AIGCLabel, ContentOptions

from .conftest import PRODUCER

PLATFORM = "001191440300708461136T1XGW3"


def photo(name: str = "astronaut", size: int = 256) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(getattr(skdata, name)()[:size, :size]))


def jpeg_bytes(im: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_uploads(d: Path) -> dict[str, Path]:
    """Write the uploads into ``d``; returns them by role."""
    d.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    clean = d / "clean.jpg"
    clean.write_bytes(jpeg_bytes(photo("coffee")))
    out["clean"] = clean
    src = d / "src.jpg"
    src.write_bytes(jpeg_bytes(photo()))
    labeled = d / "labeled.jpg"
    label = AIGCLabel(PRODUCER, "gen-0001", reserved_code1="producer-integrity-data")
    aimark.label_file(src, labeled, label, content=ContentOptions(watermark=True))
    out["labeled"] = labeled
    stripped = d / "watermark-only.jpg"
    stripped.write_bytes(jpeg_bytes(Image.open(labeled), quality=90))  # Pillow drops the XMP label
    out["watermark_only"] = stripped
    wav = d / "tone.wav"
    sr = 16000
    t = np.arange(sr * 2) / sr
    pcm = (0.2 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    labeled_wav = d / "labeled.wav"
    aimark.label_file(wav, labeled_wav, AIGCLabel(PRODUCER, "gen-wav"))
    out["wav"] = labeled_wav
    md = d / "notes.md"
    md.write_text("# Notes\n\nA paragraph written by a person.\n", "utf-8")
    out["markdown"] = md
    txt = d / "story.txt"
    txt.write_text("Once upon a time.\n\n本内容由人工智能生成\n", "utf-8")
    out["text_explicit"] = txt
    return out


__all__ = ["PLATFORM", "jpeg_bytes", "make_uploads", "photo"]
