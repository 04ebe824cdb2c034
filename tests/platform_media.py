"""Uploads for the platform tests: a labeled and watermarked photo, the same photo after a
re-encode that dropped the metadata (the watermark is all that is left), a clean photo, a
labeled WAV, documents. Photos: scikit-image's ``astronaut`` (NASA, public domain) and
``coffee`` (Rachel Michetti, CC0).
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import httpx
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(d: Path, token: str, max_mb: float = 100) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``aimark serve`` in a subprocess on a free loopback port: (base URL, process, its TMPDIR)."""
    token_file = d / "token"
    token_file.write_text(token + "\n")
    spool = d / "tmp"
    spool.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(spool)}
    env.pop("AIMARK_TOKEN", None)
    cmd = [
        sys.executable,
        "-m",
        "aimark",
        "serve",
        "--port",
        str(port),
        "--token-file",
        str(token_file),
        "--max-upload-mb",
        str(max_mb),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                raise RuntimeError(f"aimark serve did not start: {out}")
            time.sleep(0.1)
        yield base, proc, spool
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


__all__ = ["PLATFORM", "free_port", "jpeg_bytes", "make_uploads", "photo", "running_server"]
