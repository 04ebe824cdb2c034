"""aimark reads labels written by other tools, in every form seen in real files, and relabeling
such a file leaves exactly one label."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

import aimark
from aimark import AIGCLabel, Verdict

from .conftest import PRODUCER, PRODUCER2, ExifTool, ImageMaker

INNER = AIGCLabel(PRODUCER, "foreign-1").to_inner_json()
WRAPPED = AIGCLabel(PRODUCER, "foreign-1").to_wrapped_json()
FIELDS = json.loads(INNER)
NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"


def packet(description_body: str, attrs: str = "") -> str:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:TC260="{NS}" {attrs}>'
        f'{description_body}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


def pillow_save(make_image: ImageMaker, fmt: str, **kw: object) -> bytes:
    img = Image.open(io.BytesIO(make_image("png")))
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "gif", "tiff"])
def test_tc260_tag_written_by_exiftool(fmt: str, make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path) -> None:
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(make_image(fmt, mode="P" if fmt == "gif" else "RGB"))
    exiftool.write(path, f"-XMP-TC260:AIGC={INNER}")
    report = aimark.verify(path)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert report.labels[0].aigc == FIELDS


def test_attribute_form_written_by_pillow(make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path) -> None:
    escaped = INNER.replace('"', "&quot;")
    xmp = packet("<dc:format>image/jpeg</dc:format>", attrs=f'TC260:AIGC="{escaped}"').encode()
    for fmt in ("JPEG", "WEBP"):
        path = tmp_path / f"attr.{fmt.lower()}"
        path.write_bytes(pillow_save(make_image, fmt, xmp=xmp))
        report = aimark.verify(path)
        assert report.verdict is Verdict.COMPLIANT and report.labels[0].site.endswith("TC260:AIGC@attr")
        assert report.labels[0].aigc == FIELDS
        assert exiftool.aigc(path) == INNER  # exiftool agrees on what is there
        # relabel keeps the attribute form, one label, dc:format kept
        aimark.label_file(path, path, AIGCLabel(PRODUCER2, "next"), in_place=True)
        assert exiftool.aigc(path) == AIGCLabel(PRODUCER2, "next").to_inner_json()
        assert exiftool.run("-s3", "-XMP-dc:Format", path).strip() == "image/jpeg"
        assert len(aimark.verify(path).labels) == 1


def test_html_escaped_json_in_xmp(make_image: ImageMaker, tmp_path: Path) -> None:
    doubly = INNER.replace('"', "&amp;quot;")  # the element text itself reads &quot;...
    path = tmp_path / "esc.jpg"
    path.write_bytes(pillow_save(make_image, "JPEG", xmp=packet(f"<TC260:AIGC>{doubly}</TC260:AIGC>").encode()))
    report = aimark.verify(path)
    assert report.labels[0].aigc == FIELDS
    assert "escaped_json" in [f.code for f in report.labels[0].findings]
    assert report.verdict is Verdict.COMPLIANT  # a warning, not an error


@pytest.mark.parametrize(("text", "form"), [(INNER, "inner"), (WRAPPED, "wrapped"), ("AIGC" + INNER, "bare")])
def test_png_text_chunk_written_by_pillow(
    text: str, form: str, make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path
) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "keep me")
    info.add_text("AIGC", text)
    path = tmp_path / "t.png"
    path.write_bytes(pillow_save(make_image, "PNG", pnginfo=info))
    report = aimark.verify(path)
    assert len(report.labels) == 1 and report.labels[0].form == form
    assert report.labels[0].aigc == FIELDS
    assert report.labels[0].site.endswith(":AIGC")
    # zTXt variant
    info2 = PngImagePlugin.PngInfo()
    info2.add_text("AIGC", text, zip=True)
    path2 = tmp_path / "z.png"
    path2.write_bytes(pillow_save(make_image, "PNG", pnginfo=info2))
    assert aimark.verify(path2).labels[0].aigc == FIELDS
    # relabeling moves the label to XMP: the tEXt chunk is gone, other text kept
    out = tmp_path / "relabeled.png"
    aimark.label_file(path, out, AIGCLabel(PRODUCER2, "moved"))
    report2 = aimark.verify(out)
    assert report2.verdict is Verdict.COMPLIANT and len(report2.labels) == 1
    assert "XMP" in report2.labels[0].site
    assert Image.open(out).text.get("Comment") == "keep me"
    assert "AIGC" not in Image.open(out).text


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "tiff"])
@pytest.mark.parametrize("text", [WRAPPED, "AIGC" + INNER])
def test_exif_user_comment_written_by_exiftool(
    fmt: str, text: str, make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path
) -> None:
    path = tmp_path / f"uc.{fmt}"
    path.write_bytes(make_image(fmt, exif=True))
    exiftool.write(path, f"-EXIF:UserComment={text}")
    report = aimark.verify(path)
    assert len(report.labels) == 1, report.to_dict()
    assert report.labels[0].site.endswith("ExifIFD:UserComment")
    assert report.labels[0].aigc == FIELDS
    # relabel: the comment is blanked in place, the label now lives in XMP, EXIF otherwise intact
    out = tmp_path / f"uc-out.{fmt}"
    aimark.label_file(path, out, AIGCLabel(PRODUCER2, "moved"))
    report2 = aimark.verify(out)
    assert report2.verdict is Verdict.COMPLIANT and len(report2.labels) == 1 and "XMP" in report2.labels[0].site
    assert exiftool.run("-s3", "-EXIF:UserComment", out).strip() == ""
    assert exiftool.run("-s3", "-EXIF:Make", out).strip() == "aimark-test-camera"
    assert "Error" not in exiftool.run("-validate", "-error", "-a", out)


def test_user_comment_in_ifd0_written_by_pillow(make_image: ImageMaker, tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x9286] = b"ASCII\x00\x00\x00" + WRAPPED.encode()
    path = tmp_path / "ifd0.jpg"
    path.write_bytes(pillow_save(make_image, "JPEG", exif=exif.tobytes()))
    report = aimark.verify(path)
    assert report.labels[0].site.endswith("IFD0:UserComment") and report.labels[0].aigc == FIELDS


def test_two_sites_are_a_duplicate(make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path) -> None:
    path = tmp_path / "dup.jpg"
    path.write_bytes(make_image("jpeg", exif=True))
    exiftool.write(path, f"-XMP-TC260:AIGC={INNER}", f"-EXIF:UserComment={AIGCLabel(PRODUCER2, 'other').to_wrapped_json()}")
    report = aimark.verify(path)
    assert report.verdict is Verdict.NONCOMPLIANT
    assert {"duplicate_label", "labels_disagree"} <= {f.code for f in report.findings}


def test_empty_shell_is_inconclusive_and_other_namespace_is_flagged(make_image: ImageMaker, tmp_path: Path) -> None:
    shell = json.dumps(dict.fromkeys(FIELDS, ""), separators=(",", ":"))
    path = tmp_path / "shell.jpg"
    path.write_bytes(pillow_save(make_image, "JPEG", xmp=packet(f"<TC260:AIGC>{shell}</TC260:AIGC>").encode()))
    assert aimark.verify(path).verdict is Verdict.INCONCLUSIVE

    other = packet(f'<ai:AIGC xmlns:ai="http://example.com/ai/">{INNER}</ai:AIGC>').encode()
    path2 = tmp_path / "other-ns.jpg"
    path2.write_bytes(pillow_save(make_image, "JPEG", xmp=other))
    report = aimark.verify(path2)
    assert report.labels[0].aigc == FIELDS and "xmp_namespace" in [f.code for f in report.findings]
    # relabeling replaces it with the TC260 property: one label
    aimark.label_file(path2, path2, AIGCLabel(PRODUCER, "fixed"), in_place=True)
    report2 = aimark.verify(path2)
    assert len(report2.labels) == 1 and "TC260:AIGC" in report2.labels[0].site


def test_sloppy_real_world_label_is_noncompliant_not_a_crash(make_image: ImageMaker, tmp_path: Path) -> None:
    sloppy = '{"AIGC":{"Label":"AIGC","ContentProducer":"doubao","ProduceID":"x"}}'
    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", sloppy)
    path = tmp_path / "sloppy.png"
    path.write_bytes(pillow_save(make_image, "PNG", pnginfo=info))
    report = aimark.verify(path)
    assert report.verdict is Verdict.NONCOMPLIANT
    assert {"label_value", "provider_not_code", "missing_key"} <= {f.code for f in report.labels[0].findings}
