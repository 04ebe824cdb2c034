"""aimark writes the label byte-level; real readers (exiftool, Pillow) see exactly what it wrote,
pixels decode identically, EXIF and ICC stay byte-identical, and a file keeps one label."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

import aimark
from aimark import AIGCLabel, Verdict
from aimark.containers import jpeg as jpegc
from aimark.containers import png as pngc
from aimark.containers import riff

from .conftest import PRODUCER2, ExifTool, ImageMaker, pixels

CASES = {
    "jpeg": dict(fmt="jpeg", exif=True, icc=True, quality=90),
    "jpeg-plain": dict(fmt="jpeg"),
    "png": dict(fmt="png", exif=True, icc=True),
    "png-rgba": dict(fmt="png", mode="RGBA"),
    "png-palette": dict(fmt="png", mode="P"),
    "png-gray16": dict(fmt="png", mode="I;16"),
    "webp-lossy-simple": dict(fmt="webp", quality=80),
    "webp-lossless-simple": dict(fmt="webp", lossless=True),
    "webp-lossless-alpha": dict(fmt="webp", lossless=True, mode="RGBA"),
    "webp-extended": dict(fmt="webp", exif=True, icc=True, quality=80),
    "gif": dict(fmt="gif", mode="P"),
    "tiff": dict(fmt="tiff", exif=True, icc=True),
    "tiff-lzw": dict(fmt="tiff", compression="tiff_lzw"),
}


def exif_bytes(data: bytes) -> bytes | None:
    img = Image.open(io.BytesIO(data))
    raw = img.info.get("exif")
    if raw is not None:
        return bytes(raw)
    if img.format == "TIFF":
        return repr(sorted((k, v) for k, v in img.getexif().items() if k not in (700, 273, 279))).encode()
    return None


def info_xmp(img: Image.Image) -> bytes:
    xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or b""
    if isinstance(xmp, str):
        xmp = xmp.encode()
    if not xmp and img.format == "TIFF":
        xmp = bytes(img.tag_v2.get(700, b""))
    return xmp


@pytest.mark.parametrize("case", list(CASES))
def test_label_is_seen_by_exiftool_and_pillow(
    case: str, make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path, label: AIGCLabel
) -> None:
    opts = dict(CASES[case])
    fmt = opts.pop("fmt")
    src = tmp_path / f"in.{fmt}"
    src.write_bytes(make_image(fmt, **opts))
    before = src.read_bytes()
    dst = tmp_path / f"out.{fmt}"

    res = aimark.label_file(src, dst, label)
    assert res.format == fmt
    assert src.read_bytes() == before  # input untouched
    out = dst.read_bytes()

    # exiftool reads the exact JSON, and sees no structural problem
    assert exiftool.aigc(dst) == label.to_inner_json()
    assert "Error" not in exiftool.run("-validate", "-error", "-a", dst)

    # Pillow decodes identical pixels and sees the XMP (GIF: Pillow 13 exposes no XMP for GIF,
    # only the application extension's identifier)
    assert pixels(before) == pixels(out)
    img = Image.open(io.BytesIO(out))
    if fmt == "gif":
        assert img.info["extension"][0].startswith(b"XMP DataXMP")
    else:
        assert b"http://www.tc260.org.cn/ns/AIGC/1.0/" in info_xmp(img)
        assert label.to_inner_json() in img.getxmp()["xmpmeta"]["RDF"]["Description"]["AIGC"]

    # EXIF and ICC byte-identical
    assert exif_bytes(out) == exif_bytes(before)
    assert Image.open(io.BytesIO(out)).info.get("icc_profile") == Image.open(io.BytesIO(before)).info.get("icc_profile")

    # aimark reads it back
    report = aimark.verify(dst)
    assert report.verdict is Verdict.COMPLIANT, report.to_dict()
    assert report.labels[0].aigc == label.fields()
    assert "TC260:AIGC" in report.labels[0].site

    # labeling again (with another label) leaves exactly one, the new one
    relabel = label.with_propagation(PRODUCER2, "platform-77", label="1")
    dst2 = tmp_path / f"out2.{fmt}"
    aimark.label_file(dst, dst2, relabel)
    report2 = aimark.verify(dst2)
    assert report2.verdict is Verdict.COMPLIANT and len(report2.labels) == 1
    assert report2.labels[0].aigc == relabel.fields()
    assert exiftool.aigc(dst2) == relabel.to_inner_json()
    assert pixels(before) == pixels(dst2.read_bytes())
    assert dst2.read_bytes().count(b"tc260.org.cn/ns/AIGC") == 1


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "gif", "tiff"])
def test_existing_xmp_properties_are_kept(
    fmt: str, make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path, label: AIGCLabel
) -> None:
    src = tmp_path / f"in.{fmt}"
    src.write_bytes(make_image(fmt, mode="P" if fmt == "gif" else "RGB"))
    exiftool.write(src, "-XMP-dc:Title=Kept title", "-XMP-dc:Creator=Someone", "-XMP-xmp:CreatorTool=GenTool 1.0")
    dst = tmp_path / f"out.{fmt}"
    aimark.label_file(src, dst, label)
    got = exiftool.run("-s3", "-XMP-dc:Title", "-XMP-dc:Creator", "-XMP-xmp:CreatorTool", dst).splitlines()
    assert got == ["Kept title", "Someone", "GenTool 1.0"]
    assert exiftool.aigc(dst) == label.to_inner_json()
    # and a second pass keeps them too while replacing the label
    aimark.label_file(dst, dst, AIGCLabel(PRODUCER2, "second"), in_place=True)
    assert exiftool.run("-s3", "-XMP-dc:Title", dst).strip() == "Kept title"
    assert exiftool.aigc(dst) == AIGCLabel(PRODUCER2, "second").to_inner_json()
    assert len(aimark.verify(dst).labels) == 1


def test_tiff_multipage_from_scikit_image(exiftool: ExifTool, tmp_path: Path, label: AIGCLabel) -> None:
    """scikit-image's multipage.tif (a real multi-IFD TIFF): every page survives."""
    src = Path(skdata.__file__).with_name("multipage.tif")
    dst = tmp_path / "out.tif"
    aimark.label_file(src, dst, label)
    assert exiftool.aigc(dst) == label.to_inner_json()
    assert pixels(src.read_bytes()) == pixels(dst.read_bytes())
    assert aimark.verify(dst).verdict is Verdict.COMPLIANT


def test_tiff_xmp_grows_and_shrinks(make_image: ImageMaker, exiftool: ExifTool, tmp_path: Path) -> None:
    """TIFF: a packet that no longer fits is moved to the end; the old bytes are zeroed."""
    src = tmp_path / "in.tif"
    src.write_bytes(make_image("tiff"))
    small = AIGCLabel(PRODUCER2, "a")
    big = AIGCLabel(PRODUCER2, "b" * 3000)
    for i, lab in enumerate([small, big, small, big]):
        aimark.label_file(src, src, lab, in_place=True)
        assert exiftool.aigc(src) == lab.to_inner_json(), i
        raw = src.read_bytes()
        assert raw.count(b"tc260.org.cn") == 1
        assert pixels(raw) == pixels(make_image("tiff"))


def test_animated_webp_and_gif(photo: np.ndarray, exiftool: ExifTool, tmp_path: Path, label: AIGCLabel) -> None:
    frames = [Image.fromarray(np.roll(photo, 10 * i, axis=1)) for i in range(3)]
    for fmt, kw in [("webp", {"lossless": True}), ("gif", {})]:
        buf = io.BytesIO()
        frames[0].save(buf, fmt.upper(), save_all=True, append_images=frames[1:], duration=100, loop=0, **kw)
        src = tmp_path / f"anim.{fmt}"
        src.write_bytes(buf.getvalue())
        dst = tmp_path / f"anim-out.{fmt}"
        aimark.label_file(src, dst, label)
        assert exiftool.aigc(dst) == label.to_inner_json()
        assert pixels(src.read_bytes()) == pixels(dst.read_bytes())
        assert Image.open(dst).n_frames == 3


def test_simple_webp_becomes_vp8x_with_canvas_and_alpha(make_image: ImageMaker, label: AIGCLabel) -> None:
    for mode, lossless, alpha in [("RGB", False, False), ("RGB", True, False), ("RGBA", True, True)]:
        data = make_image("webp", mode=mode, lossless=lossless)
        assert riff.walk(data, aimark.DEFAULT_LIMITS).chunks[0].fourcc in (b"VP8 ", b"VP8L")
        out = aimark.label_bytes(data, label)
        chunks = riff.walk(out, aimark.DEFAULT_LIMITS).chunks
        assert chunks[0].fourcc == b"VP8X" and chunks[-1].fourcc == b"XMP "
        vp8x = out[chunks[0].data : chunks[0].data + 10]
        assert vp8x[0] & riff.XMP_FLAG and bool(vp8x[0] & riff.ALPHA_FLAG) == alpha
        w = int.from_bytes(vp8x[4:7], "little") + 1
        h = int.from_bytes(vp8x[7:10], "little") + 1
        assert (w, h) == Image.open(io.BytesIO(data)).size
        assert struct.unpack_from("<I", out, 4)[0] == len(out) - 8


def test_jpeg_xmp_goes_after_app0_app1_run(make_image: ImageMaker, label: AIGCLabel) -> None:
    out = aimark.label_bytes(make_image("jpeg", exif=True, icc=True), label)
    segs, complete, _ = jpegc.walk(out, aimark.DEFAULT_LIMITS)
    assert complete
    kinds = ["xmp" if out[s.data : s.data + len(jpegc.XMP_ID)] == jpegc.XMP_ID else f"{s.marker:02X}" for s in segs]
    assert kinds[:3] == ["E0", "E1", "xmp"]  # JFIF, EXIF, then XMP; ICC (E2) follows
    assert kinds.count("xmp") == 1


def test_png_xmp_goes_before_idat(make_image: ImageMaker, label: AIGCLabel) -> None:
    out = aimark.label_bytes(make_image("png", icc=True), label)
    chunks, complete, _ = pngc.walk(out, aimark.DEFAULT_LIMITS)
    types = [c.type for c in chunks]
    assert complete and types.index(b"iTXt") < types.index(b"IDAT")
    assert all(pngc._crc_ok(c, out) for c in chunks)


def test_bytes_and_file_journeys_agree(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    data = make_image("png")
    src = tmp_path / "a.png"
    src.write_bytes(data)
    aimark.label_file(src, tmp_path / "b.png", label)
    assert (tmp_path / "b.png").read_bytes() == aimark.label_bytes(data, label)


def test_final_step_runs_last(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    """The signing slot receives the complete labeled file, and what it returns is written."""
    seen: list[tuple[int, str]] = []

    def sign(data: bytes, fmt: str) -> bytes:
        seen.append((len(data), fmt))
        assert label.to_inner_json().encode() in data
        return data + b"SIGNED"

    src = tmp_path / "a.jpg"
    src.write_bytes(make_image("jpeg"))
    aimark.label_file(src, tmp_path / "b.jpg", label, final_step=sign)
    assert seen and seen[0][1] == "jpeg"
    assert (tmp_path / "b.jpg").read_bytes().endswith(b"SIGNED")


def test_format_is_sniffed_by_content_not_extension(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    src = tmp_path / "actually-a-png.jpg"
    src.write_bytes(make_image("png"))
    res = aimark.label_file(src, tmp_path / "out.gif", label)
    assert res.format == "png" and aimark.detect_format(tmp_path / "out.gif") == "png"
    assert aimark.verify(tmp_path / "out.gif").verdict is Verdict.COMPLIANT
