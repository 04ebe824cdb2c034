"""Independent implementations read what aimark writes, and aimark reads what they write.

The readers run from their own virtual environment, ``.readers/`` (the README's test command
makes it: remove-ai-watermarks 0.47.1, cntc260 0.0.2 with python-xmp-toolkit over Debian's
libexempi8), in a separate process: aimark never imports them, and only remove-ai-watermarks'
label *reader* and its documented ``metadata --remove`` command are used. ``AIMARK_READERS``
may point at another interpreter that has them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import aimark
from aimark import AIGCLabel, ContentOptions, Verdict

from .conftest import PRODUCER

ROOT = Path(__file__).resolve().parents[1]
READERS = Path(os.environ.get("AIMARK_READERS", ROOT / ".readers" / "bin" / "python"))
LABEL = AIGCLabel(PRODUCER, "interop-1")
FIELDS = json.loads(LABEL.to_inner_json())

READ_LABELS = """
import json, sys
from pathlib import Path
from remove_ai_watermarks.metadata import aigc_label
print(json.dumps({p: aigc_label(Path(p)) for p in sys.argv[1:]}))
"""


@pytest.fixture(scope="module", autouse=True)
def _readers() -> None:
    if not READERS.exists():
        raise RuntimeError(f"the independent readers' environment is missing ({READERS}): run the README test command")


def peer(*args: str | Path, code: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [str(READERS), *(["-c", code] if code else []), *map(str, args)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if check and res.returncode != 0:
        raise AssertionError(f"{cmd[:3]} failed: {res.stderr[-2000:]}")
    return res


def rai_labels(paths: list[Path]) -> dict[str, dict[str, str] | None]:
    return json.loads(peer(*paths, code=READ_LABELS).stdout.strip().splitlines()[-1])


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, capture_output=True, timeout=180)


def tone_wav(path: Path, seconds: float, sr: int = 44100) -> Path:
    n = int(seconds * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(3)
    sig = 0.25 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.08 * rng.standard_normal(n)
    pcm = (np.stack([sig, np.roll(sig, 999)], 1) * 32767).clip(-32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small unlabeled file per format remove-ai-watermarks reads, made here."""
    d = tmp_path_factory.mktemp("src")
    photo = Image.fromarray(skdata.astronaut()).resize((384, 384))
    out = {}
    for fmt, ext in [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "gif"), ("TIFF", "tiff")]:
        out[ext] = d / f"src.{ext}"
        (photo.convert("P") if fmt == "GIF" else photo).save(out[ext], fmt)
    out["wav"] = tone_wav(d / "src.wav", 3)
    out["big.wav"] = tone_wav(d / "big.wav", 30)  # 5 MiB: the label must sit in the head
    for ext, codec in [("mp3", "libmp3lame"), ("flac", "flac"), ("ogg", "libvorbis"), ("opus", "libopus"), ("m4a", "aac")]:
        out[ext] = d / f"src.{ext}"
        ffmpeg("-i", out["wav"], "-c:a", codec, out[ext])
    video = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:d=1", "-f", "lavfi", "-i", "sine=d=1", "-shortest"]
    codecs = [("mp4", "libx264"), ("mov", "libx264"), ("mkv", "libx264"), ("webm", "libvpx-vp9")]
    codecs += [("avi", "mpeg4"), ("flv", "flv")]
    for ext, codec in codecs:
        out[ext] = d / f"src.{ext}"
        ffmpeg(*video, "-c:v", codec, out[ext])
    return out


#: the formats whose labels remove-ai-watermarks 0.47.1 reads (the README's "who reads what")
RAI_FORMATS = ["jpg", "png", "webp", "gif", "tiff", "mp4", "mov", "m4a", "mp3", "flac", "ogg", "opus", "wav", "big.wav"]
RAI_FORMATS += ["mkv", "webm", "avi", "flv"]


def test_remove_ai_watermarks_reads_every_aimark_label(sources: dict[str, Path], tmp_path: Path) -> None:
    outs = []
    for ext in RAI_FORMATS:
        out = tmp_path / f"out-{ext}"
        out = out.with_name(f"out-{ext.replace('.', '-')}{sources[ext].suffix}")
        aimark.label_file(sources[ext], out, LABEL)
        outs.append(out)
    assert outs[RAI_FORMATS.index("big.wav")].stat().st_size > 5 << 20
    got = rai_labels(outs)
    wrong = {p: v for p, v in got.items() if v != FIELDS}
    assert not wrong, wrong  # all 7 fields, exact, in every format


def test_remove_ai_watermarks_missed_the_old_wav_layout(sources: dict[str, Path], tmp_path: Path) -> None:
    """The layout aimark wrote before (the chunk after several MiB of samples) is what the head
    scanner misses: the reason the chunk now goes before ``data``."""
    import struct

    wav = sources["big.wav"].read_bytes()
    chunk = b"AIGC" + struct.pack("<I", len(LABEL.to_inner_json())) + LABEL.to_inner_json().encode()
    chunk += b"\x00" * (len(chunk) & 1)
    old = bytearray(wav + chunk)
    struct.pack_into("<I", old, 4, len(old) - 8)
    path = tmp_path / "old-layout.wav"
    path.write_bytes(bytes(old))
    assert aimark.verify(path).labels[0].aigc == FIELDS
    assert rai_labels([path])[str(path)] is None


CNTC260_WRITE = """
import json, sys
from cntc260.tc260 import GBxmp
w = GBxmp(sys.argv[1])
w.setDCDic({"title": "cnTC260 test", "creator": "aimark tests"})
w.setAIGC(json.loads(sys.argv[2]))
ok, _ = w.writeXmp()
sys.exit(0 if ok == 1 else 1)
"""


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_cntc260_writes_xmp_labels_aimark_reads(sources: dict[str, Path], tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"cntc.{ext}"
    path.write_bytes(sources[ext].read_bytes())
    fields = {k: v for k, v in FIELDS.items() if k != "ReservedCode1"}
    peer(path, json.dumps(fields), code=CNTC260_WRITE)
    report = aimark.verify(path)
    assert len(report.labels) == 1 and report.labels[0].site.endswith("TC260:AIGC@attr")  # the attribute form
    label = report.labels[0]
    for key, value in fields.items():
        assert label.aigc[key] == value
    # cntc260 stores Python's hash() of its Dublin Core values in ReservedCode1: a number, not a string
    assert isinstance(label.aigc["ReservedCode1"], int)
    assert report.verdict is Verdict.NONCOMPLIANT and any(f.code == "value_type" for f in label.findings), report.to_dict()
    # relabeling keeps cntc260's Dublin Core properties and leaves one conformant label
    out = tmp_path / f"relabeled.{ext}"
    aimark.label_file(path, out, LABEL)
    again = aimark.verify(out)
    assert again.verdict is Verdict.COMPLIANT and again.labels[0].aigc == FIELDS
    assert b"cnTC260 test" in out.read_bytes()
    assert rai_labels([out])[str(out)] == FIELDS


RAW = ["-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p"]


def _marked(sources: dict[str, Path], d: Path) -> dict[str, Path]:
    out = {}
    for ext in ("jpg", "png", "webp"):
        out[ext] = d / f"wm.{ext}"
        aimark.label_file(sources[ext], out[ext], LABEL, content=ContentOptions(watermark=True))
    long = tone_wav(d / "long.wav", 8)
    for ext, codec in [("flac", "flac"), ("mp3", "libmp3lame")]:
        ffmpeg("-i", long, "-c:a", codec, d / f"long.{ext}")
    for ext in ("wav", "flac", "mp3"):
        out[ext] = d / f"wm.{ext}"
        aimark.label_file(d / f"long.{ext}", out[ext], LABEL, content=ContentOptions(watermark=True))
    clip = d / "clip.mp4"
    pan = np.asarray(Image.fromarray(skdata.coffee()).resize((1280, 854)))
    frames = np.stack([pan[100 + i : 100 + i + 540, 60 + 2 * i : 60 + 2 * i + 960] for i in range(50)])
    proc = subprocess.Popen(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "960x540", "-r", "25", *RAW, str(clip)],
        stdin=subprocess.PIPE,
    )
    proc.communicate(frames.tobytes(), timeout=120)
    out["mp4"] = d / "wm.mp4"
    aimark.label_file(clip, out["mp4"], LABEL, content=ContentOptions(watermark=True))
    return out


def test_metadata_removed_by_remove_ai_watermarks_leaves_the_watermark(sources: dict[str, Path], tmp_path: Path) -> None:
    marked = _marked(sources, tmp_path)
    for ext, path in marked.items():
        assert aimark.verify(path).verdict is Verdict.COMPLIANT, (ext, aimark.verify(path).to_dict())
        stripped = tmp_path / f"stripped-{ext}{path.suffix}"
        peer("-m", "remove_ai_watermarks.cli", "metadata", "--remove", path, "-o", stripped)
        assert rai_labels([stripped])[str(stripped)] is None
        report = aimark.verify(stripped)
        assert report.verdict is Verdict.NOT_FOUND and not report.labels, (ext, report.to_dict())
        assert report.watermark is not None and report.watermark.found, (ext, report.to_dict())
        assert report.watermark.payload == aimark.verify(path).watermark.payload
        assert any(f.code == "watermark_only" for f in report.findings), (ext, report.to_dict())


def test_text_is_not_handled_by_its_removal_and_survives_ours(tmp_path: Path) -> None:
    """remove-ai-watermarks refuses text documents; stripping the Markdown front matter by hand
    (what a metadata remover would do) leaves the text watermark and the visible label."""
    body = " ".join(["The model wrote this paragraph about rivers, rain and the sea, and it goes on."] * 40)
    src = tmp_path / "note.md"
    src.write_text(body + "\n", encoding="utf-8")
    out = tmp_path / "note-aigc.md"
    aimark.label_file(src, out, LABEL, content=ContentOptions(watermark=True))
    refused = peer("-m", "remove_ai_watermarks.cli", "metadata", "--remove", out, "-o", tmp_path / "x.md", check=False)
    assert refused.returncode != 0 and not (tmp_path / "x.md").exists()
    text = out.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    stripped = tmp_path / "stripped.md"
    stripped.write_text(text.split("\n---\n", 1)[1], encoding="utf-8")
    report = aimark.verify(stripped)
    assert not report.labels and report.watermark is not None and report.watermark.found
    assert any(f.code == "watermark_only" for f in report.findings), report.to_dict()


def test_readers_run_apart_from_aimark() -> None:
    """The peers are not importable from aimark's environment, and aimark not from theirs."""
    mine = subprocess.run([sys.executable, "-c", "import remove_ai_watermarks"], capture_output=True)
    theirs = peer(code="import aimark", check=False)
    assert mine.returncode != 0 and theirs.returncode != 0
