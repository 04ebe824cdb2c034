"""Labels as other implementations and products lay them out (hand-built fixtures of the layouts
documented by gtkit/aigc and by remove-ai-watermarks' catalogue of real files), read by aimark
with the finding the README documents, and relabeled to one standard label."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import mutagen.id3
import pytest
from PIL import Image, PngImagePlugin

import aimark
from aimark import AIGCLabel, Verdict
from aimark.containers import riff

from .conftest import PRODUCER, ExifTool, ImageMaker, pixels
from .test_audio_containers import _ffmpeg, decoded, ffprobe_tags, run  # noqa: F401  (_ffmpeg: the tool check)

LABEL = AIGCLabel(PRODUCER, "prod-1")
INNER = LABEL.to_inner_json()
WRAPPED = LABEL.to_wrapped_json()
FIELDS = json.loads(INNER)


def codes(report: aimark.Report) -> list[str]:
    return [f.code for f in report.findings] + [f.code for r in report.labels for f in r.findings]


def relabel_once(src: Path, tmp_path: Path) -> aimark.Report:
    out = tmp_path / f"relabeled{src.suffix}"
    aimark.label_file(src, out, AIGCLabel(PRODUCER, "relabeled"))
    report = aimark.verify(out)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert [r.aigc["ProduceID"] for r in report.labels] == ["relabeled"]
    assert "label_nonstandard_site" not in codes(report) and "label_mirrored" not in codes(report)
    return report


# -- WAV: gtkit/aigc appends an AIGC chunk and an identical LIST/INFO copy -------------------------
def chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def gtkit_wav(wav: bytes, first: str, second: str) -> bytes:
    extra = chunk(b"AIGC", first.encode()) + chunk(b"LIST", b"INFO" + chunk(b"AIGC", second.encode()))
    out = bytearray(wav + extra)
    struct.pack_into("<I", out, 4, struct.unpack_from("<I", out, 4)[0] + len(extra))
    return bytes(out)


def test_gtkit_wav_mirror_is_one_label(tmp_path: Path, source_wav: Path) -> None:
    path = tmp_path / "gtkit.wav"
    path.write_bytes(gtkit_wav(source_wav.read_bytes(), WRAPPED, WRAPPED))
    assert ffprobe_tags(path)["AIGC"] == WRAPPED  # ffprobe sees the INFO copy
    report = aimark.verify(path)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert len(report.labels) == 1 and report.labels[0].aigc == FIELDS
    assert report.labels[0].site.startswith("wav:AIGC[") and report.labels[0].mirrors[0].endswith(":INFO:AIGC")
    assert codes(report) == ["label_mirrored"]
    assert report.to_dict()["labels"][0]["mirrors"] == report.labels[0].mirrors
    out = relabel_once(path, tmp_path)
    data = (tmp_path / "relabeled.wav").read_bytes()
    assert data.count(b"AIGC") == 1 and data.index(b"AIGC") < data.index(b"data")
    assert out.labels[0].mirrors == []
    assert decoded(tmp_path / "relabeled.wav") == decoded(source_wav)


def test_wav_copies_that_differ_are_two_labels(tmp_path: Path, source_wav: Path) -> None:
    other = AIGCLabel(PRODUCER, "someone-else").to_wrapped_json()
    path = tmp_path / "drift.wav"
    path.write_bytes(gtkit_wav(source_wav.read_bytes(), WRAPPED, other))
    report = aimark.verify(path)
    assert report.verdict is Verdict.NONCOMPLIANT
    assert {"duplicate_label", "labels_disagree"} <= set(codes(report)) and "label_mirrored" not in codes(report)
    relabel_once(path, tmp_path)


def test_aimark_mirror_option_keeps_copies_identical(tmp_path: Path, source_wav: Path) -> None:
    path = tmp_path / "gtkit.wav"
    path.write_bytes(gtkit_wav(source_wav.read_bytes(), WRAPPED, WRAPPED))
    new = AIGCLabel(PRODUCER, "mirrored-again")
    out = tmp_path / "m.wav"
    out.write_bytes(b"".join(riff.write_wav(path.read_bytes(), new, mirror_info=True)))
    report = aimark.verify(out)
    assert report.verdict is Verdict.COMPLIANT and codes(report) == ["label_mirrored"]
    assert report.labels[0].aigc["ProduceID"] == "mirrored-again"
    assert json.loads(ffprobe_tags(out)["AIGC"])["ProduceID"] == "mirrored-again"
    assert out.read_bytes().count(b"AIGC") == 2  # exactly the chunk and its one INFO copy


# -- MP3: gtkit/aigc prepends an ID3v2.4 tag with one UTF-8 TXXX:AIGC --------------------------------
def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def gtkit_tag(value: str) -> bytes:
    body = b"\x03AIGC\x00" + value.encode()
    frame = b"TXXX" + syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + syncsafe(len(frame)) + frame


@pytest.mark.parametrize("before", ["bare", "tagged"])
def test_gtkit_mp3_layout(tmp_path: Path, source_wav: Path, before: str) -> None:
    mp3 = tmp_path / "in.mp3"
    extra = ["-id3v2_version", "0"] if before == "bare" else ["-id3v2_version", "3", "-metadata", "title=Keep me"]
    run("ffmpeg", "-v", "error", "-y", "-i", source_wav, "-c:a", "libmp3lame", "-write_xing", "0", *extra, mp3)
    path = tmp_path / "gtkit.mp3"
    path.write_bytes(gtkit_tag(WRAPPED) + mp3.read_bytes())  # prepended, never merged
    assert mutagen.id3.ID3(path)["TXXX:AIGC"].text == [WRAPPED]
    report = aimark.verify(path)
    assert report.verdict is Verdict.COMPLIANT and report.labels[0].aigc == FIELDS and report.labels[0].form == "wrapped"
    relabel_once(path, tmp_path)
    out = tmp_path / "relabeled.mp3"
    assert decoded(out) == decoded(mp3)
    if before == "tagged":  # the old tag behind the new one keeps its title; no label is left in it
        assert b"Keep me" in out.read_bytes()
        # a label hidden in the second tag is found, and removed on relabeling
        hidden = tmp_path / "hidden.mp3"
        tagged = mutagen.id3.ID3(mp3)
        tagged.add(mutagen.id3.TXXX(encoding=3, desc="AIGC", text=[AIGCLabel(PRODUCER, "old").to_inner_json()]))
        tagged.save(mp3)
        hidden.write_bytes(gtkit_tag(WRAPPED) + mp3.read_bytes())
        report = aimark.verify(hidden)
        assert [r.site for r in report.labels] == ["mp3:ID3v2:TXXX:AIGC", "mp3:ID3v2[1]:TXXX:AIGC"]
        assert report.verdict is Verdict.NONCOMPLIANT and "duplicate_label" in codes(report)
        relabel_once(hidden, tmp_path)


# -- images: product forms at sites the standard does not name ------------------------------------
def jpeg_with_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    seg = bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + seg + jpeg[2:]


@pytest.mark.parametrize(("marker", "name"), [(0xE9, "APP9"), (0xEB, "APP11")])
@pytest.mark.parametrize("text", ["AIGC" + INNER, WRAPPED])
def test_label_in_a_jpeg_app_segment(
    make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path, marker: int, name: str, text: str
) -> None:
    src = make_image("jpeg")
    path = tmp_path / "app.jpg"
    path.write_bytes(jpeg_with_segment(src, marker, text.encode()))
    report = aimark.verify(path)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert report.labels[0].site == f"jpeg:{name}[0]" and report.labels[0].aigc == FIELDS
    found = [f for f in report.findings if f.code == "label_nonstandard_site"]
    assert len(found) == 1 and found[0].site == f"jpeg:{name}[0]" and found[0].severity.value == "warning"
    relabel_once(path, tmp_path)
    out = (tmp_path / "relabeled.jpg").read_bytes()
    assert bytes([0xFF, marker]) not in out[:200] and exiftool.aigc(tmp_path / "relabeled.jpg")
    assert pixels(out) == pixels(src)


def test_app_segments_that_are_not_labels(make_image: ImageMaker, tmp_path: Path) -> None:
    src = make_image("jpeg")
    jumbf = b"JP\x00\x01\x00\x00\x00\x01" + b'{"AIGC":' + INNER.encode() + b"}"  # a C2PA box mentioning it
    prose = b"Made with AIGC tools {not json}"
    path = tmp_path / "not.jpg"
    path.write_bytes(jpeg_with_segment(jpeg_with_segment(src, 0xEB, jumbf), 0xE9, prose))
    report = aimark.verify(path)
    assert report.verdict is Verdict.NOT_FOUND and not report.labels, report.to_dict()


@pytest.mark.parametrize("chunk_kind", ["tEXt", "iTXt", "zTXt"])
def test_wrapped_label_in_png_description(make_image: ImageMaker, tmp_path: Path, chunk_kind: str) -> None:
    img = Image.open(io.BytesIO(make_image("png")))
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", WRAPPED, zip=chunk_kind == "zTXt") if chunk_kind != "iTXt" else info.add_itxt(
        "Description", WRAPPED
    )
    info.add_text("Comment", "AIGC-assisted retouching, see {the notes}")  # mentions AIGC, not a label
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    path = tmp_path / "desc.png"
    path.write_bytes(buf.getvalue())
    report = aimark.verify(path)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert len(report.labels) == 1 and report.labels[0].site.endswith(":Description")
    assert report.labels[0].form == "wrapped" and report.labels[0].aigc == FIELDS
    assert "label_nonstandard_site" in codes(report)
    relabel_once(path, tmp_path)
    out = Image.open(tmp_path / "relabeled.png")
    assert "Description" not in out.info and out.info["Comment"].startswith("AIGC-assisted")
    assert pixels((tmp_path / "relabeled.png").read_bytes()) == pixels(buf.getvalue())


TENCENT = json.dumps({"AIGC": {"ServiceProvider": "tencent-cloud", "ServiceUser": "u-1", "ContentId": "c-1"}})


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
@pytest.mark.parametrize(("text", "verdict"), [(WRAPPED, Verdict.COMPLIANT), (TENCENT, Verdict.NONCOMPLIANT)])
def test_label_in_exif_image_description(make_image: ImageMaker, tmp_path: Path, fmt: str, text: str, verdict: Verdict) -> None:
    img = Image.open(io.BytesIO(make_image("png")))
    exif = Image.Exif()
    exif[0x010E] = text
    exif[0x0131] = "KeepSoftware"
    buf = io.BytesIO()
    img.save(buf, fmt.upper(), exif=exif.tobytes())
    path = tmp_path / f"desc.{fmt}"
    path.write_bytes(buf.getvalue())
    report = aimark.verify(path)
    assert report.verdict is verdict, report.to_dict()
    assert len(report.labels) == 1 and report.labels[0].site.endswith("IFD0:ImageDescription")
    assert "label_nonstandard_site" in codes(report)
    if verdict is Verdict.NONCOMPLIANT:  # the service-provider variant: found, its fields are not Annex E's
        assert "missing_field" in codes(report) or "unknown_key" in codes(report)
    relabel_once(path, tmp_path)
    out = Image.open(tmp_path / f"relabeled.{fmt}")
    assert out.getexif().get(0x0131) == "KeepSoftware" and "AIGC" not in str(out.getexif().get(0x010E, ""))


def test_image_description_prose_is_not_a_label(make_image: ImageMaker, tmp_path: Path) -> None:
    img = Image.open(io.BytesIO(make_image("png")))
    exif = Image.Exif()
    exif[0x010E] = "An AIGC demo picture"
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    path = tmp_path / "prose.jpg"
    path.write_bytes(buf.getvalue())
    assert aimark.verify(path).verdict is Verdict.NOT_FOUND
