"""Shared fixtures: real test images made with Pillow from scikit-image's bundled photos,
and the real exiftool as an independent reader and writer.

Photos: scikit-image ``data.chelsea()`` (Stefan van der Walt, CC0) and ``data.astronaut()``
(NASA, public domain); see scikit-image's data/README.txt.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from skimage import data as skdata

import aimark
from aimark import AIGCLabel

PRODUCER = "001191110102MACQD9K64010000"  # SPEC section 4 (Doubao), valid GB 32100 check
PRODUCER2 = "001191440300708461136T1XGW3"  # SPEC section 4, valid


@pytest.fixture
def label() -> AIGCLabel:
    return AIGCLabel(PRODUCER, "test-0001")


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 96x128 RGB crop of a real photograph."""
    return np.ascontiguousarray(skdata.chelsea()[100:196, 150:278])


@pytest.fixture(scope="session")
def icc_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_block() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "aimark-test-camera"  # Make
    exif[0x0110] = "model-7"  # Model
    exif[0x0131] = "tests/conftest.py"  # Software
    return exif.tobytes()


ImageMaker = Callable[..., bytes]


@pytest.fixture(scope="session")
def make_image(photo: np.ndarray, icc_profile: bytes) -> ImageMaker:
    """Encode the photo with Pillow: fmt in jpeg/png/webp/gif/tiff; options for EXIF/ICC/mode."""

    def make(fmt: str, *, exif: bool = False, icc: bool = False, mode: str = "RGB", **save: object) -> bytes:
        img = Image.fromarray(photo)
        if mode == "RGBA":
            alpha = np.linspace(0, 255, photo.shape[1], dtype=np.uint8)[None, :].repeat(photo.shape[0], 0)
            img = Image.fromarray(np.dstack([photo, alpha]))
        elif mode != "RGB":
            img = img.convert(mode)
        kwargs: dict[str, object] = dict(save)
        if exif:
            kwargs["exif"] = exif_block()
        if icc:
            kwargs["icc_profile"] = icc_profile
        buf = io.BytesIO()
        img.save(buf, {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF", "tiff": "TIFF"}[fmt], **kwargs)
        return buf.getvalue()

    return make


class ExifTool:
    """The real exiftool, with a config that defines the TC260 namespace."""

    def __init__(self, config: Path) -> None:
        exe = shutil.which("exiftool")
        if exe is None:
            raise RuntimeError("exiftool is required by the tests (apt-get install -y libimage-exiftool-perl)")
        self.exe, self.config = exe, config

    def run(self, *args: str | Path) -> str:
        cmd = [self.exe, "-config", str(self.config), *map(str, args)]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise AssertionError(f"exiftool failed: {' '.join(cmd)}\n{res.stderr}")
        return res.stdout

    def aigc(self, path: Path) -> str:
        """The TC260 AIGC property exactly as exiftool reads it."""
        return self.run("-XMP-TC260:AIGC", "-b", path)

    def write(self, path: Path, *assignments: str) -> None:
        self.run("-overwrite_original", "-m", *assignments, path)


@pytest.fixture(scope="session")
def exiftool() -> ExifTool:
    return ExifTool(aimark.exiftool_config())


def pixels(data: bytes) -> list[tuple[str, tuple[int, int], bytes]]:
    """Decoded pixels of every frame: (mode, size, raw bytes); palette images keep indices."""
    img = Image.open(io.BytesIO(data))
    frames = []
    for i in range(getattr(img, "n_frames", 1)):
        img.seek(i)
        frame = img.copy()
        frames.append((frame.mode, frame.size, frame.tobytes()))
    return frames


@pytest.fixture(scope="session")
def source_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of generated stereo audio (two tones and noise), 16-bit 44.1 kHz WAV."""
    sr, n = 44100, 44100 * 2
    t = np.arange(n) / sr
    rng = np.random.default_rng(7)
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)
    right = 0.3 * np.sin(2 * np.pi * 660 * t) + 0.05 * rng.standard_normal(n)
    pcm = (np.stack([left, right], 1) * 32767).astype("<i2")
    path = tmp_path_factory.mktemp("audio") / "src.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path
