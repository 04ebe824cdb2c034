"""The metadata label in audio containers, checked with exiftool, ffprobe and mutagen.

Test audio is generated (a two-tone stereo signal with noise) and encoded with Debian's
ffmpeg, which the README's test command installs; ffmpeg also writes the "foreign" labels.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mutagen
import pytest

import aimark
from aimark import AIGCLabel
from aimark.errors import AimarkError, CorruptFile

from .conftest import PRODUCER, ExifTool


@pytest.fixture(autouse=True, scope="module")
def _ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise RuntimeError("ffmpeg and ffprobe are required by the tests (apt-get install -y ffmpeg)")


FORMATS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    "mp3v23": ["-c:a", "libmp3lame", "-id3v2_version", "3"],
    "flac": ["-c:a", "flac"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus"],
    "m4a": ["-c:a", "aac", "-b:a", "96k"],
    "m4a-faststart": ["-c:a", "aac", "-movflags", "+faststart"],
    "m4a-keys": ["-c:a", "aac", "-movflags", "use_metadata_tags"],
    "wav": ["-c:a", "pcm_s16le"],
}


def _ext(fmt: str) -> str:
    return {"mp3v23": "mp3", "m4a-faststart": "m4a", "m4a-keys": "m4a"}.get(fmt, fmt)


def run(*cmd: str | Path) -> bytes:
    res = subprocess.run([str(c) for c in cmd], capture_output=True, timeout=120)
    if res.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed: {res.stderr.decode(errors='replace')[-2000:]}")
    return res.stdout


def encode(src: Path, dst: Path, fmt: str, *extra: str) -> Path:
    tags = ["-metadata", "title=Keep me", "-metadata", "artist=A"]
    run("ffmpeg", "-v", "error", "-y", "-i", src, *FORMATS[fmt], *tags, *extra, dst)
    return dst


def decoded(path: Path) -> bytes:
    return run("ffmpeg", "-v", "error", "-i", path, "-map", "0:a", "-f", "f32le", "-")


def ffprobe_tags(path: Path) -> dict[str, str]:
    out = json.loads(run("ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json", path))
    tags = dict(out.get("format", {}).get("tags", {}))
    for stream in out.get("streams", []):
        tags.update(stream.get("tags", {}))
    return tags


def exiftool_values(exiftool: ExifTool, path: Path) -> list[str]:
    if path.suffix == ".wav":
        # exiftool -b dumps an odd chunk's pad byte too; the chunk's declared size excludes it
        return [exiftool.run("-u", "-b", "-RIFF:Unknown_AIGC", path).rstrip("\x00")]
    data = json.loads(exiftool.run("-j", "-a", "-G1", path))[0]
    return [str(v).removeprefix("(AIGC) ") for v in data.values()]


def mutagen_values(path: Path) -> list[str]:
    f = mutagen.File(path)
    values: list[str] = []
    for key, value in f.tags.items() if f.tags is not None else []:
        items = value if isinstance(value, list) else getattr(value, "text", [value])
        if "AIGC" in str(key).upper() or str(key).startswith("\x00"):
            values += [str(v) for v in items]
    return values


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_label_is_read_by_the_ecosystem_and_samples_are_untouched(
    tmp_path: Path, source_wav: Path, exiftool: ExifTool, fmt: str
) -> None:
    src = encode(source_wav, tmp_path / f"in.{_ext(fmt)}", fmt)
    before = src.read_bytes()
    dst = tmp_path / f"out.{_ext(fmt)}"
    label = AIGCLabel(PRODUCER, f"audio-{fmt}")
    aimark.label_file(src, dst, label)
    want = label.to_inner_json()
    assert src.read_bytes() == before
    assert decoded(dst) == decoded(src)
    assert want in exiftool_values(exiftool, dst)
    if fmt != "wav":  # a bare RIFF chunk is invisible to ffprobe and mutagen (opt-in LIST/INFO mirror below)
        assert ffprobe_tags(dst)["AIGC"] == want
        assert ffprobe_tags(dst)["title"] == "Keep me"
        if fmt in ("m4a", "m4a-faststart"):
            # udta already holds an iTunes (mdir) meta: the mdta meta goes after it, where
            # mutagen (which reads the first meta only) keeps seeing the iTunes tags, not the label
            assert mutagen.File(dst).tags["\xa9nam"] == ["Keep me"]
        else:
            assert want in mutagen_values(dst)
    report = aimark.verify(dst)
    assert report.verdict == "compliant", report.to_dict()
    assert len(report.labels) == 1
    # labeling again replaces, never appends
    again = tmp_path / f"again.{_ext(fmt)}"
    aimark.label_file(dst, again, AIGCLabel(PRODUCER, "second"))
    report = aimark.verify(again)
    assert [r.aigc["ProduceID"] for r in report.labels] == ["second"]
    assert decoded(again) == decoded(src)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".aimark-")]


def test_mp3_keeps_its_id3_version_and_frames(tmp_path: Path, source_wav: Path) -> None:
    src = encode(source_wav, tmp_path / "in.mp3", "mp3v23", "-metadata", "date=2020", "-metadata", "comment=c1")
    dst = tmp_path / "out.mp3"
    aimark.label_file(src, dst, AIGCLabel(PRODUCER, "v23"))
    from mutagen.id3 import ID3

    before, after = ID3(src, translate=False), ID3(dst, translate=False)
    assert after.version == before.version == (2, 3, 0)
    assert after["TYER"].text == before["TYER"].text == ["2020"]
    assert after["TIT2"].text == ["Keep me"]
    assert after["TXXX:AIGC"].text == [AIGCLabel(PRODUCER, "v23").to_inner_json()]


FOREIGN = '{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"ff-1","ReservedCode1":"","ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"ff-1","ReservedCode2":""}'  # noqa: E501


@pytest.mark.parametrize("fmt", ["mp3", "flac", "ogg", "opus", "m4a"])
def test_labels_written_by_ffmpeg_are_read(tmp_path: Path, source_wav: Path, fmt: str) -> None:
    extra = ["-metadata", f"AIGC={FOREIGN}"] + (["-movflags", "use_metadata_tags"] if fmt == "m4a" else [])
    src = encode(source_wav, tmp_path / f"ff.{fmt}", fmt, *extra)
    report = aimark.verify(src)
    assert report.verdict == "compliant", report.to_dict()
    assert report.labels[0].aigc["ProduceID"] == "ff-1"
    # relabeling an ffmpeg-labeled file keeps one label
    dst = tmp_path / f"re.{fmt}"
    aimark.label_file(src, dst, AIGCLabel(PRODUCER, "re-1"))
    assert [r.aigc["ProduceID"] for r in aimark.verify(dst).labels] == ["re-1"]
    assert ffprobe_tags(dst)["AIGC"] == AIGCLabel(PRODUCER, "re-1").to_inner_json()


def test_wav_variants_are_read_and_collapsed_to_one_label(tmp_path: Path, source_wav: Path) -> None:
    from aimark.containers import riff

    info = tmp_path / "info.wav"
    data = bytearray(source_wav.read_bytes())
    payload = b"INFO" + riff.make_chunk(b"AIGC", FOREIGN.encode() + b"\x00") + riff.make_chunk(b"INAM", b"t\x00")
    data += riff.make_chunk(b"LIST", payload)
    data[4:8] = (len(data) - 8).to_bytes(4, "little")
    info.write_bytes(bytes(data))
    assert aimark.verify(info).labels[0].aigc["ProduceID"] == "ff-1"
    assert ffprobe_tags(info)["AIGC"] == FOREIGN  # ffprobe sees LIST/INFO, the reason for the opt-in mirror
    out = tmp_path / "out.wav"
    aimark.label_file(info, out, AIGCLabel(PRODUCER, "w-1"))
    report = aimark.verify(out)
    assert [r.aigc["ProduceID"] for r in report.labels] == ["w-1"]
    assert ffprobe_tags(out).get("title") == "t"  # the other INFO child is kept
    # an id3 chunk written by mutagen is read too
    tagged = tmp_path / "id3.wav"
    shutil.copy(source_wav, tagged)
    from mutagen.wave import WAVE

    w = WAVE(tagged)
    w.add_tags()
    w.tags.add(mutagen.id3.TXXX(encoding=3, desc="AIGC", text=[FOREIGN]))
    w.save()
    assert aimark.verify(tagged).labels[0].aigc["ProduceID"] == "ff-1"
    out2 = tmp_path / "out2.wav"
    aimark.label_file(tagged, out2, AIGCLabel(PRODUCER, "w-2"))
    assert [r.aigc["ProduceID"] for r in aimark.verify(out2).labels] == ["w-2"]
    assert decoded(out2) == decoded(source_wav)


def test_wav_info_mirror_is_opt_in(tmp_path: Path, source_wav: Path) -> None:
    from aimark.containers import riff

    label = AIGCLabel(PRODUCER, "mirror")
    plain = b"".join(riff.write_wav(source_wav.read_bytes(), label))
    mirrored = b"".join(riff.write_wav(source_wav.read_bytes(), label, mirror_info=True))
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.write_bytes(plain)
    b.write_bytes(mirrored)
    assert "AIGC" not in ffprobe_tags(a)
    assert ffprobe_tags(b)["AIGC"] == label.to_inner_json()
    ra, rb = aimark.verify(a), aimark.verify(b)
    assert ra.verdict.value == rb.verdict.value == "compliant"
    assert not any(f.code == "label_mirrored" for f in ra.findings)
    assert [r.mirrors for r in rb.labels] == [["wav:LIST[2]:INFO:AIGC"]]  # one label, its mirror named
    assert [f.code for f in rb.findings] == ["label_mirrored"]
    # the label chunk sits before the sample data, where head-scanning readers find it
    assert 0 < plain.index(b"AIGC") < plain.index(b"data")
    assert decoded(a) == decoded(b) == decoded(source_wav)


@pytest.mark.parametrize("fmt", ["mp3", "flac", "ogg", "opus", "m4a", "wav"])
def test_bad_audio_is_refused_with_typed_errors(tmp_path: Path, source_wav: Path, fmt: str) -> None:
    good = encode(source_wav, tmp_path / f"g.{fmt}", fmt).read_bytes()
    label = AIGCLabel(PRODUCER, "bad")
    cases = {
        "truncated": good[: len(good) // 3] if fmt not in ("mp3",) else good[:40],
        "header-only": good[:16],
        "garbage": good[:12] + bytes(range(256)) * 8,
    }
    if fmt == "wav":
        bogus = bytearray(good)
        bogus[16:20] = (0x7FFFFFF0).to_bytes(4, "little")  # fmt chunk size past the end
        cases["bogus-size"] = bytes(bogus)
    if fmt == "m4a":
        bogus = bytearray(good)
        i = bogus.find(b"moov") - 4
        bogus[i : i + 4] = (0x7FFFFFF0).to_bytes(4, "big")
        cases["bogus-size"] = bytes(bogus)
    for name, data in cases.items():
        path = tmp_path / f"{name}.{fmt}"
        path.write_bytes(data)
        try:
            aimark.label_file(path, tmp_path / f"{name}-out.{fmt}", label)
        except AimarkError:
            pass
        else:  # a cut that leaves a labelable file must still decode as far as it goes
            assert fmt in ("mp3", "flac", "ogg", "opus", "wav") and name == "truncated", name
        assert path.read_bytes() == data
        try:
            report = aimark.verify(path)
        except AimarkError:  # too little left to tell the format: a typed refusal
            continue
        assert report.verdict in ("not_found", "inconclusive", "compliant"), (name, report.to_dict())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".aimark-")]
    empty = tmp_path / f"empty.{fmt}"
    empty.write_bytes(b"")
    with pytest.raises(CorruptFile):
        aimark.label_file(empty, tmp_path / f"e-out.{fmt}", label)


def test_bare_mp3_without_a_tag_gets_one_and_utf16_text_is_not_mp3(tmp_path: Path, source_wav: Path) -> None:
    src = tmp_path / "bare.mp3"
    run("ffmpeg", "-v", "error", "-y", "-i", source_wav, "-c:a", "libmp3lame", "-id3v2_version", "0", "-map_metadata", "-1", src)
    assert src.read_bytes()[:3] != b"ID3"
    dst = tmp_path / "out.mp3"
    label = AIGCLabel(PRODUCER, "bare")
    assert aimark.label_file(src, dst, label).format == "mp3"
    assert ffprobe_tags(dst)["AIGC"] == label.to_inner_json()
    assert decoded(dst) == decoded(src)
    text = tmp_path / "t.md"
    text.write_bytes("# Title\n\ntext\n".encode("utf-16"))  # starts with FF FE, an MPEG sync lookalike
    assert aimark.detect_format(text) != "mp3"
