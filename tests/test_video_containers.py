"""The metadata label in video containers (MP4, MOV, MKV, WebM, AVI, FLV), checked with ffprobe
and exiftool; decoded frames and audio md5-identical after labeling (ffmpeg ``-f framemd5``);
labels written by ffmpeg read and replaced; fragmented MP4 still plays frame for frame; the
offsets that move stay valid. Test clips are made with ffmpeg's test sources."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest

import aimark
from aimark import AIGCLabel
from aimark.containers import bmff, flv, matroska, riff
from aimark.errors import AimarkError

from .conftest import PRODUCER, PRODUCER2, ExifTool

LABEL = AIGCLabel(PRODUCER, "vid-0001")
FOREIGN = AIGCLabel(PRODUCER2, "ffmpeg-0001").to_inner_json()
SRC = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=3", "-f", "lavfi", "-i", "sine=frequency=330:duration=3"]
CODECS = {
    "mp4": ["-c:v", "libx264", "-g", "25", "-c:a", "aac"],
    "mov": ["-c:v", "libx264", "-g", "25", "-c:a", "aac"],
    "mkv": ["-c:v", "libx264", "-g", "25", "-c:a", "aac"],
    "webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"],
    "avi": ["-c:v", "mpeg4", "-c:a", "pcm_s16le"],
    "flv": ["-c:v", "libx264", "-g", "25", "-c:a", "aac", "-flvflags", "add_keyframe_index"],
}
EXIFTOOL_TAG = {
    "mp4": "Keys:AIGC",
    "mov": "Keys:AIGC",
    "mkv": "Matroska:Aigc",
    "webm": "Matroska:Aigc",
    "avi": "RIFF:AIGC",
    "flv": "Flash:AIGC",
}


def ffmpeg(*args: str | Path) -> None:
    res = subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], capture_output=True, timeout=120)
    if res.returncode:
        raise AssertionError(res.stderr.decode(errors="replace")[-1500:])


def ffprobe_tags(path: Path) -> dict[str, str]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(path)], capture_output=True, text=True, timeout=60
    )
    return json.loads(out.stdout)["format"].get("tags", {})


def framemd5(path: Path) -> list[str]:
    """md5 of every decoded video frame and audio packet (ffmpeg's framemd5), timestamps included."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [ln for ln in out.stdout.splitlines() if not ln.startswith("#")]
    assert len(lines) > 50, out.stderr
    return lines


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {}
    for fmt, codec in CODECS.items():
        p = d / f"clip.{fmt}"
        ffmpeg(*SRC, *codec, "-shortest", "-metadata", "title=Keep me", p)
        out[fmt] = p
    return out


@pytest.mark.parametrize("fmt", list(CODECS))
def test_label_read_by_ffprobe_and_exiftool_frames_identical(
    fmt: str, clips: dict[str, Path], tmp_path: Path, exiftool: ExifTool
) -> None:
    src = clips[fmt]
    before = src.read_bytes()
    out = tmp_path / f"out.{fmt}"
    res = aimark.label_file(src, out, LABEL)
    assert res.media == "video" and src.read_bytes() == before
    assert ffprobe_tags(out).get("AIGC") == LABEL.to_inner_json()
    assert ffprobe_tags(out).get("title") == "Keep me"
    assert exiftool.run("-s3", "-u", f"-{EXIFTOOL_TAG[fmt]}", "-b", out) == LABEL.to_inner_json()
    assert framemd5(out) == framemd5(src)
    rep = aimark.verify(out)
    assert rep.verdict.value == "compliant" and rep.media == "video" and len(rep.labels) == 1
    again = tmp_path / f"again.{fmt}"
    aimark.label_file(out, again, AIGCLabel(PRODUCER2, "second"))
    labels = aimark.read_labels(again)
    assert [r.aigc["ProduceID"] for r in labels] == ["second"] and framemd5(again) == framemd5(src)
    assert not list(tmp_path.glob(".aimark-*"))


@pytest.mark.parametrize("fmt", ["mp4", "mkv", "flv"])
def test_labels_written_by_ffmpeg_are_read_and_replaced(fmt: str, clips: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / f"ff.{fmt}"
    extra = ["-movflags", "use_metadata_tags"] if fmt == "mp4" else []
    ffmpeg("-i", clips[fmt], "-c", "copy", *extra, "-metadata", f"AIGC={FOREIGN}", src)
    assert [r.aigc["ProduceID"] for r in aimark.read_labels(src)] == ["ffmpeg-0001"]
    out = tmp_path / f"out.{fmt}"
    aimark.label_file(src, out, LABEL)
    assert [r.aigc["ProduceID"] for r in aimark.read_labels(out)] == ["vid-0001"]
    assert ffprobe_tags(out)["AIGC"] == LABEL.to_inner_json()
    assert framemd5(out) == framemd5(src)


@pytest.mark.parametrize("flags", ["frag_keyframe+empty_moov", "frag_keyframe+empty_moov+default_base_moof", "dash+global_sidx"])
def test_fragmented_mp4_still_plays_frame_for_frame(flags: str, tmp_path: Path) -> None:
    src = tmp_path / "frag.mp4"
    ffmpeg(*SRC, *CODECS["mp4"], "-shortest", "-movflags", flags, src)
    out = tmp_path / "out.mp4"
    aimark.label_file(src, out, LABEL)
    assert ffprobe_tags(out)["AIGC"] == LABEL.to_inner_json()
    assert framemd5(out) == framemd5(src)
    data = out.read_bytes()
    top = bmff.top_level(data, aimark.DEFAULT_LIMITS)
    moofs = {b.start for b in top if b.type == b"moof"}
    for box in top:  # tfra (the random-access index) points at moof boxes
        if box.type == b"mfra":
            for tfra in bmff.boxes(data, box.data, box.end, aimark.DEFAULT_LIMITS):
                if tfra.type == b"tfra":
                    version, n = data[tfra.data], struct.unpack_from(">I", data, tfra.data + 12)[0]
                    wide = 8 if version else 4
                    sizes = struct.unpack_from(">I", data, tfra.data + 8)[0]
                    entry = 2 * wide + (((sizes >> 4) & 3) + 1) + (((sizes >> 2) & 3) + 1) + ((sizes & 3) + 1)
                    for k in range(n):
                        off = struct.unpack_from(">Q" if version else ">I", data, tfra.data + 16 + k * entry + wide)[0]
                        assert off in moofs


def test_a_free_box_after_moov_absorbs_the_label(clips: dict[str, Path], tmp_path: Path) -> None:
    src = tmp_path / "faststart.mp4"
    ffmpeg("-i", clips["mp4"], "-c", "copy", "-movflags", "+faststart", src)
    data = src.read_bytes()
    top = bmff.top_level(data, aimark.DEFAULT_LIMITS)
    moov = next(b for b in top if b.type == b"moov")
    pad = 4096
    shifted = bytearray(data[moov.start : moov.end])
    bmff._shift_offsets(shifted, moov.start, pad, aimark.DEFAULT_LIMITS)
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(data[: moov.start] + bytes(shifted) + bmff.make_box(b"free", b"\x00" * (pad - 8)) + data[moov.end :])
    assert framemd5(padded) == framemd5(src)
    out = tmp_path / "out.mp4"
    aimark.label_file(padded, out, LABEL)
    assert out.stat().st_size == padded.stat().st_size  # the free box gave the room: nothing moved
    assert framemd5(out) == framemd5(src) and ffprobe_tags(out)["AIGC"] == LABEL.to_inner_json()


def test_matroska_cues_and_seekhead_stay_valid(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    aimark.label_file(clips["mkv"], out, LABEL)
    data = out.read_bytes()
    lay = matroska.layout(data, aimark.DEFAULT_LIMITS)
    base = lay.segment.data
    starts = {el.start - base: el.id for el in lay.top}
    count = [0]
    seekhead = next(el for el in lay.top if el.id == matroska.SEEKHEAD)
    for seek in matroska._children(data, seekhead, aimark.DEFAULT_LIMITS, count):
        if seek.id == matroska.SEEK:
            kids = {k.id: k for k in matroska._children(data, seek, aimark.DEFAULT_LIMITS, count)}
            sid = int.from_bytes(data[kids[matroska.SEEK_ID].data : kids[matroska.SEEK_ID].end], "big")
            assert starts[matroska._uint(data, kids[matroska.SEEK_POS])] == sid
    cues = next(el for el in lay.top if el.id == matroska.CUES)

    def positions(el: matroska.Element) -> list[int]:
        if el.id == matroska.CUECLUSTERPOS:
            return [matroska._uint(data, el)]
        if el.id in (matroska.CUES, matroska.CUEPOINT, matroska.CUETRACKPOS):
            return [p for k in matroska._children(data, el, aimark.DEFAULT_LIMITS, count) for p in positions(k)]
        return []

    found = positions(cues)
    assert found and all(starts.get(p) == matroska.CLUSTER for p in found)
    seek = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "2", "-i", str(out), "-frames:v", "1", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
    )
    ref = subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "2", "-i", str(clips["mkv"]), "-frames:v", "1", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
    )
    assert seek.stdout == ref.stdout and seek.stdout


def test_avi_without_padding_moves_movi_and_stays_valid(clips: dict[str, Path], tmp_path: Path) -> None:
    data = clips["avi"].read_bytes()
    r = riff.walk(data, aimark.DEFAULT_LIMITS)
    kept = b"".join(data[c.start : c.end] for c in r.chunks if c.fourcc != b"JUNK")
    tight = tmp_path / "tight.avi"
    tight.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(kept)) + b"AVI " + kept)
    assert framemd5(tight) == framemd5(clips["avi"])
    out = tmp_path / "out.avi"
    aimark.label_file(tight, out, LABEL)
    assert out.stat().st_size > tight.stat().st_size
    assert framemd5(out) == framemd5(clips["avi"]) and ffprobe_tags(out)["AIGC"] == LABEL.to_inner_json()


def test_flv_keyframe_positions_follow_the_label(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.flv"
    aimark.label_file(clips["flv"], out, LABEL)
    data = out.read_bytes()
    found, complete = flv.tags(data, aimark.DEFAULT_LIMITS)
    assert complete
    props = dict((k, v) for k, v, _ in flv._metadata(data, found[0], aimark.DEFAULT_LIMITS) or [])
    positions = dict((k, v) for k, v, _ in props["keyframes"])["filepositions"]
    video = {t.start for t in found if t.type == 9}
    assert positions and all(int(p) in video and data[int(p) + 11] >> 4 == 1 for p in positions)  # keyframe video tags
    assert props["filesize"] == len(data)


def test_bad_video_input_is_typed_and_leaves_nothing(clips: dict[str, Path], tmp_path: Path) -> None:
    cases: dict[str, bytes] = {}
    mp4 = clips["mp4"].read_bytes()
    top = bmff.top_level(mp4, aimark.DEFAULT_LIMITS)
    moov = next(b for b in top if b.type == b"moov")
    cases["truncated-moov.mp4"] = mp4[: moov.start + (moov.end - moov.start) // 2]
    fast = tmp_path / "fast.mp4"  # moov first: labeling must shift its chunk offsets
    ffmpeg("-i", clips["mp4"], "-c", "copy", "-movflags", "+faststart", fast)
    huge = bytearray(fast.read_bytes())
    i = huge.find(b"stco")
    struct.pack_into(">I", huge, i + 8, 10**9)  # an stco that declares 10^9 chunk offsets
    cases["huge-stco.mp4"] = bytes(huge)
    mkv = bytearray(clips["mkv"].read_bytes())
    lay = matroska.layout(bytes(mkv), aimark.DEFAULT_LIMITS)
    tracks = next(el for el in lay.top if el.id == matroska.TRACKS)
    mkv[tracks.start + 4] = 0x01  # a size field that declares far more than the file holds
    mkv[tracks.start + 5 : tracks.start + 12] = b"\x7f" * 7
    cases["ebml-past-eof.mkv"] = bytes(mkv)
    cases["empty.mp4"] = b""
    cases["truncated.flv"] = clips["flv"].read_bytes()[:200]
    cases["not-a-video.avi"] = b"RIFF\x10\x00\x00\x00AVI junk that is not an avi"
    for name, data in cases.items():
        p = tmp_path / name
        p.write_bytes(data)
        out = tmp_path / f"out-{name}"
        with pytest.raises(AimarkError):
            aimark.label_file(p, out, LABEL)
        assert p.read_bytes() == data and not out.exists()
        if data:
            rep = aimark.verify(p)
            assert rep.verdict.value in ("inconclusive", "not_found", "noncompliant"), (name, rep.to_dict())
    assert not list(tmp_path.glob(".aimark-*"))
