"""Bad input: a typed error or a finding, never a crash or a hang; memory bounded; the input
byte-identical afterwards; no partial output left behind."""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

import aimark
from aimark import AIGCLabel, AimarkError, CorruptFile, Verdict
from aimark.checks import METADATA_ONLY, VerifyOptions
from aimark.containers import png as pngc

from .conftest import ImageMaker

FORMATS = ["jpeg", "png", "webp", "gif", "tiff"]
NO_OCR = VerifyOptions(explicit=False)


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def label_and_verify(path: Path, label: AIGCLabel) -> tuple[aimark.Report | AimarkError, AimarkError | None]:
    """Run both journeys on ``path``; assert the input is untouched and nothing is left over."""
    before = digest(path)
    listing = sorted(p.name for p in path.parent.iterdir())
    try:
        report: aimark.Report | AimarkError = aimark.verify(path)
        assert isinstance(report, aimark.Report)
        report.to_dict()
    except AimarkError as exc:
        report = exc
    out = path.parent / ("out-" + path.name)
    try:
        aimark.label_file(path, out, label)
        lab_err = None
        assert len(aimark.verify(out).labels) == 1
        out.unlink()
    except AimarkError as exc:
        lab_err = exc
        assert not out.exists()
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == listing  # no temp or partial files
    return report, lab_err


def png_with(chunks: list[bytes], width: int = 8, height: int = 8) -> bytes:
    ihdr = pngc.make_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return pngc.SIGNATURE + ihdr + b"".join(chunks)


def test_zero_length(tmp_path: Path, label: AIGCLabel) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(CorruptFile):
        aimark.verify(path)
    report, err = label_and_verify(path, label)
    assert isinstance(report, CorruptFile) and isinstance(err, CorruptFile)
    with pytest.raises(CorruptFile):
        aimark.label_bytes(b"", label)


def test_not_an_image(tmp_path: Path, label: AIGCLabel) -> None:
    path = tmp_path / "notes.jpg"  # the extension lies; sniffing is by content
    path.write_text("just some text, not a picture\n" * 10)
    report, err = label_and_verify(path, label)
    # sniffed by content: it is plain text, which has no metadata site to write
    assert isinstance(report, aimark.Report) and report.format == "txt" and report.verdict == "not_found"
    assert isinstance(err, aimark.UnsupportedFormat) and "no metadata site" in err.message
    path.write_bytes(b"\x00\x01\x02\x03binary" * 10)
    report, err = label_and_verify(path, label)
    assert isinstance(report, aimark.UnsupportedFormat) and isinstance(err, aimark.UnsupportedFormat)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(fmt: str, make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    full = aimark.label_bytes(make_image(fmt, exif=fmt != "gif", mode="P" if fmt == "gif" else "RGB"), label)
    for cut in sorted({3, 8, 12, 20, 40, 100, 300, len(full) // 2, len(full) - 10, len(full) - 1}):
        path = tmp_path / f"cut{cut}.{fmt}"
        path.write_bytes(full[:cut])
        report, _ = label_and_verify(path, label)
        if isinstance(report, aimark.Report) and report.verdict is Verdict.COMPLIANT:
            assert report.complete or fmt == "jpeg"  # a JPEG cut inside its scan data still has its label
        path.unlink()


def test_png_chunk_declaring_one_gigabyte(tmp_path: Path, label: AIGCLabel) -> None:
    data = png_with([struct.pack(">I", 1 << 30) + b"tEXt" + b"AIGC\x00" + b"x" * 100])
    path = tmp_path / "huge-chunk.png"
    path.write_bytes(data)
    report, err = label_and_verify(path, label)
    assert isinstance(report, aimark.Report) and report.verdict is Verdict.INCONCLUSIVE
    assert "corrupt_container" in [f.code for f in report.findings]
    assert isinstance(err, CorruptFile)


def test_riff_and_tiff_and_jpeg_bogus_sizes(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    webp = bytearray(make_image("webp"))
    webp[4:8] = struct.pack("<I", 0xFFFFFFF0)
    jpeg = bytearray(make_image("jpeg"))
    jpeg[4:6] = b"\xff\xff"  # APP0 length past the end
    tiff = bytearray(make_image("tiff"))
    ifd0 = struct.unpack_from("<I", tiff, 4)[0]
    tiff[ifd0 : ifd0 + 2] = struct.pack("<H", 60000)  # 60,000 IFD entries
    for name, data in [("a.webp", webp), ("b.jpg", jpeg), ("c.tif", tiff)]:
        path = tmp_path / name
        path.write_bytes(bytes(data))
        report, err = label_and_verify(path, label)
        assert isinstance(err, AimarkError), name
        assert not isinstance(report, aimark.Report) or report.verdict is not Verdict.COMPLIANT


def test_exif_user_comment_with_huge_count(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    exif = Image.Exif()
    exif[0x9286] = b"ASCII\x00\x00\x00" + AIGCLabel("001191110102MACQD9K64010000", "x").to_wrapped_json().encode()
    img = Image.open(io.BytesIO(make_image("jpeg")))
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    data = bytearray(buf.getvalue())
    i = data.find(b"\x92\x86", data.find(b"Exif\x00\x00MM"))  # the UserComment entry (Pillow: big-endian)
    assert i > 0
    data[i + 4 : i + 8] = struct.pack(">I", 0x7FFFFFFF)
    path = tmp_path / "uc.jpg"
    path.write_bytes(bytes(data))
    report, err = label_and_verify(path, label)
    assert isinstance(report, aimark.Report) and report.verdict is Verdict.NOT_FOUND
    assert "exif_corrupt" in [f.code for f in report.findings]
    assert err is None  # the broken comment is left alone; the label goes to XMP


@pytest.mark.parametrize(
    "payload",
    [
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><r>&lol2;</r></x:xmpmeta>',
        '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x:xmpmeta xmlns:x="adobe:ns:meta/">&xxe;</x:xmpmeta>',
    ],
)
def test_xmp_with_doctype_or_entity(payload: str, make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    img = Image.open(io.BytesIO(make_image("png")))
    for fmt, kw in [("JPEG", {"xmp": payload.encode()}), ("PNG", {})]:
        buf = io.BytesIO()
        if fmt == "PNG":
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", payload)
            kw = {"pnginfo": info}
        img.save(buf, fmt, **kw)
        path = tmp_path / f"xxe.{fmt.lower()}"
        path.write_bytes(buf.getvalue())
        report, err = label_and_verify(path, label)
        assert isinstance(report, aimark.Report) and report.verdict is Verdict.INCONCLUSIVE
        assert "unsafe_content" in [f.code for f in report.findings]
        assert isinstance(err, aimark.UnsafeContent)


def test_oversized_xmp_and_zip_bomb(tmp_path: Path, label: AIGCLabel) -> None:
    big_xmp = pngc.make_chunk(b"iTXt", pngc.XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + b" " * (2 << 20))
    bomb = pngc.make_chunk(b"zTXt", b"AIGC\x00\x00" + zlib.compress(b"\x00" * (200 << 20), 9))
    idat = pngc.make_chunk(b"IDAT", zlib.compress(b"\x00" * (8 * 25)))
    iend = pngc.make_chunk(b"IEND", b"")
    for name, chunk in [("big-xmp.png", big_xmp), ("bomb.png", bomb)]:
        path = tmp_path / name
        path.write_bytes(png_with([chunk, idat, iend]))
        tracemalloc.start()
        report, err = label_and_verify(path, label)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 40 << 20, f"{name}: peak {peak / 1e6:.1f} MB"
        assert isinstance(report, aimark.Report)
        assert "limit_exceeded" in [f.code for f in report.findings]
        assert name != "big-xmp.png" or isinstance(err, aimark.LimitExceeded)


def test_png_declaring_50000_square_pixels(tmp_path: Path, label: AIGCLabel) -> None:
    idat = pngc.make_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    path = tmp_path / "bomb-header.png"
    path.write_bytes(png_with([idat, pngc.make_chunk(b"IEND", b"")], 50_000, 50_000))
    tracemalloc.start()
    report, err = label_and_verify(path, label)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 << 20
    assert isinstance(report, aimark.Report) and report.verdict is Verdict.NOT_FOUND
    assert "huge_dimensions" in [f.code for f in report.findings]
    assert err is None  # metadata labeling never decodes pixels, so the header is no threat


def test_output_errors(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    src = tmp_path / "a.png"
    src.write_bytes(make_image("png"))
    before = digest(src)
    for dst in [tmp_path / "missing-dir" / "b.png", src, tmp_path]:
        with pytest.raises(aimark.OutputError):
            aimark.label_file(src, dst, label)
    with pytest.raises(aimark.OutputError):
        aimark.label_file(src, None, label)
    with pytest.raises(aimark.InputError):
        aimark.label_file(tmp_path / "nope.png", tmp_path / "o.png", label)
    assert digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutation_fuzz(fmt: str, make_image: ImageMaker, label: AIGCLabel) -> None:
    """Seeded random damage to labeled files: only typed errors, never another exception."""
    base = aimark.label_bytes(make_image(fmt, exif=fmt != "gif", mode="P" if fmt == "gif" else "RGB"), label)
    rng = random.Random(f"aimark-{fmt}")
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            op = rng.random()
            pos = rng.randrange(len(data))
            if op < 0.6:
                data[pos] = rng.randrange(256)
            elif op < 0.75:
                data[pos : pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff"])
            elif op < 0.9:
                del data[pos : pos + rng.randint(1, 64)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        blob = bytes(data)
        # every parser and the pixel decoder; text recognition only reads the decoded pixels
        with contextlib.suppress(AimarkError):
            aimark.verify_bytes(blob, options=NO_OCR).to_dict()
        try:
            out = aimark.label_bytes(blob, label)
        except AimarkError:
            continue
        # the damaged input went through every check above; this one only counts labels
        assert len(aimark.verify_bytes(out, options=METADATA_ONLY).labels) == 1


def test_embedded_exif_with_an_unsupported_tiff_header(make_image: ImageMaker, tmp_path: Path, label: AIGCLabel) -> None:
    """A JPEG/WebP whose EXIF block claims BigTIFF is still a readable JPEG/WebP, not an unsupported file."""
    for fmt in ("jpeg", "webp"):
        data = bytearray(make_image(fmt, exif=True))
        i = data.find(b"MM\x00*") if b"MM\x00*" in data else data.find(b"II*\x00")
        assert i > 0
        data[i + 2 : i + 4] = b"\x00+" if data[i] == ord("M") else b"+\x00"  # magic 43
        path = tmp_path / f"bigtiff-exif.{fmt}"
        path.write_bytes(bytes(data))
        report, err = label_and_verify(path, label)
        assert isinstance(report, aimark.Report) and report.verdict is Verdict.NOT_FOUND, report
        assert "exif_corrupt" in [f.code for f in report.findings]
        assert err is None
