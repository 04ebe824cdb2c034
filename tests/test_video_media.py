"""Video content: the opening label measured on decoded frames (displayed orientation, >= 2 s,
glyph height >= 5%), audio packets copied unchanged, the frame watermark's quality and its
survival of real ffmpeg attacks, verify's report, the CLI, and hostile streams.

Test clips: a synthetic camera pan over scikit-image's ``coffee`` photograph (Rachel Michetti,
CC0), encoded with ffmpeg, with a generated tone as the audio track.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from skimage import data as skdata

import aimark
from aimark import AIGCLabel, ContentOptions
from aimark.cli import main
from aimark.errors import AimarkError
from aimark.video import watermark

from .conftest import PRODUCER

LABEL = AIGCLabel(PRODUCER, "vid-0001")


def pan_frames(w: int, h: int, n: int) -> np.ndarray:
    """``n`` RGB frames of a camera panning across the photograph."""
    photo = skdata.coffee()  # 400 x 600
    import cv2

    scale = max(1.6, 1.5 * w / photo.shape[1], 1.3 * h / photo.shape[0])
    big = cv2.resize(photo, (int(photo.shape[1] * scale), int(photo.shape[0] * scale)))
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        x = int((big.shape[1] - w) * i / max(1, n - 1))
        y = int((big.shape[0] - h) * (0.5 + 0.3 * np.sin(i / 9)) * 0.9)
        out[i] = big[y : y + h, x : x + w]
    return out


def make_clip(path: Path, w: int = 480, h: int = 272, seconds: float = 3.0, fps: int = 25, *extra: str) -> Path:
    n = int(seconds * fps)
    frames = pan_frames(w, h, n)
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-"]
    cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-shortest", *extra, str(path)]
    subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True, timeout=120)
    return path


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, capture_output=True, timeout=180)


def decoded(path: Path) -> list[tuple[float, np.ndarray, int]]:
    """(time, luma as displayed, rotation) of every frame."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(c.streams.video[0]):
            y = f.to_ndarray(format="gray")
            rot = round(f.rotation) % 360 if f.rotation else 0
            out.append((float(f.time), np.rot90(y, rot // 90), rot))
    return out


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("v") / "pan.mp4", 960, 540, 3.0, 25, "-c:v", "libx264", "-crf", "18", "-c:a", "aac")


def _label(y: np.ndarray, y0: np.ndarray, position: str = "bottom-right") -> int:
    """The label's glyph height in rows, measured on a decoded frame ``y`` against the same frame
    unlabeled ``y0`` (both as displayed) inside the box the layout gives this frame size; 0 when
    there is no label there."""
    from aimark.image import explicit as image_explicit

    h, w = y.shape
    x0, b0, x1, b1 = image_explicit.plan((w, h), "AI生成", position=position, height=0.055).box
    box, ref = y[b0:b1, x0:x1].astype(np.float32), y0[b0:b1, x0:x1].astype(np.float32)
    if np.abs(box - ref).mean() < 15:  # no plate darkened this box
        return 0
    ink = (box >= 180) & (box - 0.4 * ref > 60)  # white glyph pixels on the darkened plate
    rows = np.flatnonzero(ink.sum(axis=1) >= 2)
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


@pytest.mark.parametrize("rotation", [0, 90])
def test_opening_label_lasts_2s_at_5_percent_and_audio_is_copied(rotation: int, clip: Path, tmp_path: Path) -> None:
    src = clip
    if rotation:
        src = tmp_path / "rot.mp4"
        ffmpeg("-i", clip, "-c", "copy", "-metadata:s:v:0", f"rotate={rotation}", src)
    out = tmp_path / "out.mp4"
    res = aimark.label_file(src, out, LABEL, content=ContentOptions(explicit=True))
    assert res.media == "video" and res.placement == "start"
    before, after = decoded(src), decoded(out)
    assert len(after) == len(before) and [round(t, 3) for t, _, _ in after] == [round(t, 3) for t, _, _ in before]
    short = min(after[0][1].shape)
    for (t, y, rot), (_, y0, _) in zip(after, before, strict=True):
        assert rot == rotation
        if t < 2.0:
            assert _label(y, y0) >= 0.05 * short, t  # measured on the decoded frame, as displayed
        elif t > 2.2:
            assert _label(y, y0) == 0 and np.abs(y.astype(int) - y0.astype(int)).mean() < 4, t
    assert audio_packets(out) == audio_packets(src)
    rep = aimark.verify(out)
    assert rep.verdict.value == "compliant"
    ex = rep.explicit  # read back by text recognition as displayed: upright, at the bottom-right
    assert ex is not None and ex.found and ex.position == "bottom-right" and ex.frame_time is not None, ex
    assert ex.glyph_height is not None and ex.glyph_height >= 0.05


def test_end_card_badge_and_short_clips(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "short.mkv", 320, 240, 1.2, 25, "-c:v", "libx264", "-c:a", "aac")
    out = tmp_path / "out.mkv"
    aimark.label_file(src, out, LABEL, content=ContentOptions(explicit=True))
    pairs = zip(decoded(out), decoded(src), strict=True)
    assert all(_label(y, y0) >= 12 for (_, y, _), (_, y0, _) in pairs)  # a clip under 2 s: every frame (5% of 240)
    long = make_clip(tmp_path / "long.webm", 320, 240, 5.0, 20, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus")
    ref = decoded(long)
    end = tmp_path / "end.webm"
    aimark.label_file(long, end, LABEL, content=ContentOptions(explicit=True, at="start,end"))
    frames = decoded(end)
    dur = frames[-1][0]
    for (t, y, _), (_, y0, _) in zip(frames, ref, strict=True):
        if t < 2.0 or t > dur - 1.9:
            assert _label(y, y0) >= 12, t
        elif 2.3 < t < dur - 2.3:
            assert _label(y, y0) == 0, t
    badge = tmp_path / "badge.webm"
    aimark.label_file(long, badge, LABEL, content=ContentOptions(explicit=True, options={"badge": True}))
    assert all(_label(y, y0) >= 12 for (_, y, _), (_, y0, _) in zip(decoded(badge), ref, strict=True))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_watermark_quality_on_frames() -> None:
    from skimage.metrics import structural_similarity

    frames = pan_frames(640, 360, 12)
    emb = watermark.Embedder(b"\x01\x02\x03\x04\x05\x06\x07\x08", None, 640, 360)  # the default strength
    ps, ss = [], []
    for f in frames:
        import cv2

        y = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        m = y.copy()
        emb(m)
        ps.append(_psnr(y, m))
        ss.append(structural_similarity(y, m, data_range=255))
    assert np.mean(ps) >= 40 and np.mean(ss) >= 0.98, (np.mean(ps), np.mean(ss))


def test_the_mark_follows_the_camera() -> None:
    """On a pan the tile moves with the picture (to within a couple of pixels), so that the
    encoder predicts it with the content; each frame still reads alone."""
    import cv2

    w, h, n = 640, 360, 12
    photo = skdata.coffee()
    big = cv2.resize(photo, (int(photo.shape[1] * 2.2), int(photo.shape[0] * 2.2)))
    emb = watermark.Embedder(b"\x01\x02\x03\x04\x05\x06\x07\x08", None, w, h)
    for i in range(n):
        x, y = 7 * i, 3 * i  # the camera moves right and down: the picture moves left and up
        frame = cv2.cvtColor(np.ascontiguousarray(big[y : y + h, x : x + w]), cv2.COLOR_RGB2GRAY)
        emb(frame)
        assert abs(emb.offset[0] + x) <= 2 and abs(emb.offset[1] + y) <= 2, (i, emb.offset)
    rep = watermark.detect([frame])
    assert rep.found and rep.payload == "0102030405060708"


@pytest.fixture(scope="module")
def marked(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("m") / "marked.mp4"
    aimark.label_file(clip, out, LABEL, content=ContentOptions(watermark=True))
    return out


ATTACKS = {
    "h264-crf30": ["-c:v", "libx264", "-crf", "30"],
    "h265-crf28": ["-c:v", "libx265", "-crf", "28", "-x265-params", "log-level=error"],
    "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "600k"],
    "scale-0.5": ["-vf", "scale=iw/2:ih/2", "-c:v", "libx264", "-crf", "20"],
    "crop-80%": ["-vf", "crop=iw*0.894:ih*0.894:13:7", "-c:v", "libx264", "-crf", "20"],
    "crop-50%": ["-vf", "crop=iw*0.707:ih*0.707:41:29", "-c:v", "libx264", "-crf", "20"],
    "fps-15": ["-vf", "fps=15", "-c:v", "libx264", "-crf", "20"],
    "hflip": ["-vf", "hflip", "-c:v", "libx264", "-crf", "20"],
    "brightness": ["-vf", "eq=brightness=0.08:contrast=1.2", "-c:v", "libx264", "-crf", "20"],
    "excerpt-2s": ["-ss", "0.7", "-t", "2", "-c:v", "libx264", "-crf", "20"],
    "combined": ["-vf", "crop=iw*0.85:ih*0.85:9:5,eq=brightness=0.06", "-c:v", "libx264", "-crf", "30"],
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_watermark_survives(attack: str, marked: Path, tmp_path: Path) -> None:
    out = tmp_path / f"{attack}.mp4"
    args = ATTACKS[attack]
    if attack == "excerpt-2s":
        ffmpeg(args[0], args[1], "-i", marked, *args[2:], "-an", out)
    else:
        ffmpeg("-i", marked, *args, "-an", out)
    rep = aimark.verify(out)
    assert rep.watermark is not None and rep.watermark.found, (attack, rep.watermark.to_dict() if rep.watermark else None)
    assert rep.watermark.payload == aimark.watermark.derive_payload(LABEL).hex()
    assert rep.watermark.detail["frames"] >= 4 and "watermark_only" in [f.code for f in rep.findings]


def test_clean_video_and_wrong_key_find_nothing(clip: Path, marked: Path) -> None:
    assert not aimark.verify(clip).watermark.found  # type: ignore[union-attr]
    rep = aimark.verify(marked, options=aimark.VerifyOptions(key="another key"))
    assert rep.watermark is not None and not rep.watermark.found


def test_cli_label_and_verify_json(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli.mp4"
    args = ["label", str(clip), "-o", str(out), "--producer", PRODUCER, "--produce-id", "cli-1"]
    assert main([*args, "--explicit", "--at", "start,end", "--badge", "--watermark", "--position", "top-left"]) == 0
    assert "+ explicit label at start,end" in capsys.readouterr().out
    assert main(["verify", "--json", "--frames", "6", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["media"] == "video" and rep["watermark"]["found"] and rep["watermark"]["frames"] == 6
    assert rep["watermark"]["matches_label"] is True
    # the opening label (badge at top-left) is read by text recognition in the first frames
    ex = rep["explicit"]
    assert ex["found"] and ex["text"] == "AI生成" and ex["position"] == "top-left" and ex["frame_time"] < 2.0
    assert ex["glyph_height"] >= 0.05
    assert main([*args[:3], str(tmp_path / "x.mp4"), *args[4:], "--explicit", "--at", "middle"]) == 2
    assert "goes at start, end" in capsys.readouterr().err


def test_hostile_video_streams(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    mdat = data.find(b"mdat")
    rng = np.random.default_rng(4)
    for i in rng.integers(mdat + 1000, len(data) - 1000, 60):
        data[int(i)] ^= 0xFF  # a corrupt H.264 stream (the container stays valid)
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out.mp4"
    try:
        aimark.label_file(bad, out, LABEL, content=ContentOptions(watermark=True))
        assert aimark.verify(out).labels
    except AimarkError:
        assert not out.exists()
    assert bad.read_bytes() == bytes(data)
    aimark.verify(bad)  # no crash: findings at most
    audio_only = tmp_path / "tone.mkv"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=6", "-c:a", "libopus", audio_only)
    assert aimark.verify(audio_only).media == "audio"
    assert not list(tmp_path.glob(".aimark-*"))
    buf = io.BytesIO()
    assert buf.getvalue() == b""
