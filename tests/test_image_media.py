"""Issue 5: the visible image label, the blind image watermark, and the image journey.

Photographs come from scikit-image's bundled data (astronaut: NASA, public domain; coffee: Rachel
Michetti, CC0; camera: public domain per scikit-image; chelsea: Stefan van der Walt, CC0).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
from PIL import Image, ImageOps

from aimark import AIGCLabel, api
from aimark.errors import AimarkError, InputError, InvalidArgument, LimitExceeded, UnsupportedFormat
from aimark.image import explicit, watermark
from aimark.watermark import derive_payload

from .conftest import PRODUCER, ExifTool, exif_block

PAYLOAD = bytes.fromhex("0123456789abcdef")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / mse)


def _ink_height(labeled: Image.Image) -> int:
    """Rows holding white text ink (at least half covered), measured on the drawn pixels of a
    mid-grey image: the plate there is 128 x 0.4 = 51, full ink 255."""
    a = np.asarray(labeled.convert("L"))
    rows = np.flatnonzero((a >= 153).any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _encode(im: Image.Image, fmt: str, **save: object) -> Image.Image:
    b = io.BytesIO()
    im.save(b, fmt, **save)
    return Image.open(io.BytesIO(b.getvalue())).convert(im.mode)


def _jpeg(im: Image.Image, q: int) -> Image.Image:
    return _encode(im, "JPEG", quality=q)


# -- explicit label ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(600, 600), (1280, 720), (720, 1280), (64, 64), (8000, 6000)])
def test_drawn_glyph_height_is_at_least_5_percent(size: tuple[int, int]) -> None:
    im = Image.new("RGB", size, (128, 128, 128))
    out = explicit.add_label(im)
    assert out.size == im.size and out.mode == "RGB"
    assert _ink_height(out) >= 0.05 * min(size)


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right", "top", "bottom", "left", "right"])
def test_label_sits_at_the_requested_corner_or_edge(position: str) -> None:
    im = Image.new("L", (400, 300), 128)
    a = np.asarray(explicit.add_label(im, position=position))
    ys, xs = np.nonzero(a != 128)
    cy, cx = (ys.min() + ys.max()) / 2 / 300, (xs.min() + xs.max()) / 2 / 400
    want_y = 0.2 if position.startswith("top") else 0.8 if position.startswith("bottom") else 0.5
    want_x = 0.2 if position.endswith("left") else 0.8 if position.endswith("right") else 0.5
    assert abs(cy - want_y) < 0.3 and abs(cx - want_x) < 0.3


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "I;16", "1", "CMYK"])
def test_every_mode_keeps_mode_and_size(mode: str) -> None:
    base = Image.fromarray(skdata.astronaut()[:200, :300])
    im = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257) if mode == "I;16" else base.convert(mode)
    out = explicit.add_label(im)
    assert (out.mode, out.size) == (im.mode, im.size)
    assert np.asarray(out).tobytes() != np.asarray(im).tobytes()


@pytest.mark.parametrize("style", ["plate", "outline"])
@pytest.mark.parametrize("background", [0, 255])
def test_label_contrasts_with_black_and_white_backgrounds(style: str, background: int) -> None:
    im = Image.new("L", (400, 400), background)
    a = np.asarray(explicit.add_label(im, style=style), np.int16)
    ys, xs = np.nonzero(a != background)
    box = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    assert ys.size > 100 and int(box.max()) - int(box.min()) >= 150  # text against plate or outline


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_label_is_upright_in_the_displayed_orientation(orientation: int) -> None:
    photo = Image.fromarray(skdata.coffee())
    exif = Image.Exif()
    exif[0x0112] = orientation
    b = io.BytesIO()
    photo.save(b, "PNG", exif=exif.tobytes())
    stored = Image.open(io.BytesIO(b.getvalue()))
    stored.load()
    labeled = explicit.add_label(stored)
    assert labeled.size == stored.size
    displayed = ImageOps.exif_transpose(_with_exif(labeled, stored))
    reference = explicit.add_label(ImageOps.exif_transpose(stored))  # drawn on the upright picture
    assert np.array_equal(np.asarray(displayed), np.asarray(reference))


def _with_exif(im: Image.Image, src: Image.Image) -> Image.Image:
    im.info["exif"] = src.info["exif"]
    im.getexif()[0x0112] = src.getexif()[0x0112]
    return im


def test_wording_without_both_elements_is_refused_and_unknown_glyphs_need_a_font() -> None:
    im = Image.new("RGB", (300, 300))
    with pytest.raises(InvalidArgument, match="lacks the AI element"):
        explicit.add_label(im, "Generated")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        explicit.add_label(im, "人工智能合成")
    with pytest.raises(InvalidArgument, match="glyph"):
        explicit.add_label(im, "AI生成 🤖")
    out = explicit.add_label(im, "AI生成", font=explicit.default_font_path())
    assert _ink_height(out) >= 15


# -- watermark --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def marked() -> dict[str, tuple[Image.Image, Image.Image]]:
    out = {}
    for name in ("astronaut", "coffee", "camera"):
        im = Image.fromarray(getattr(skdata, name)())
        out[name] = (im, watermark.embed(im, PAYLOAD))
    return out


def test_watermark_round_trip_quality_and_bound(marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    for im, m in marked.values():
        assert (m.mode, m.size) == (im.mode, im.size)
        assert _psnr(np.asarray(im), np.asarray(m)) >= 40.0
        r = watermark.detect(m, expected=PAYLOAD)
        assert r.found and r.payload == PAYLOAD.hex() and r.matches_label is True
        assert r.p_value <= 1e-9


ATTACKS = {
    "jpeg50": lambda im, rng: _jpeg(im, 50),
    "crop25_random": lambda im, rng: _crop(im, 0.25, rng),
    "resize0.5": lambda im, rng: im.resize((im.width // 2, im.height // 2), Image.BICUBIC),
    "rotate1": lambda im, rng: im.rotate(1, Image.BICUBIC),
    "rotate5": lambda im, rng: im.rotate(5, Image.BICUBIC),
    "resize0.75": lambda im, rng: im.resize((round(im.width * 0.75), round(im.height * 0.75)), Image.BICUBIC),
    "flip": lambda im, rng: im.transpose(Image.FLIP_LEFT_RIGHT),
    "screenshot": lambda im, rng: _jpeg(im.resize((round(im.width * 0.8), round(im.height * 0.8)), Image.BICUBIC), 70),
}


def _crop(im: Image.Image, frac: float, rng: np.random.Generator) -> Image.Image:
    s = np.sqrt(frac)
    w, h = round(im.width * s), round(im.height * s)
    x, y = int(rng.integers(0, im.width - w + 1)), int(rng.integers(0, im.height - h + 1))
    return im.crop((x, y, x + w, y + h))


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_watermark_survives(attack: str, marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    rng = np.random.default_rng(7)
    for name in ("astronaut", "coffee"):
        r = watermark.detect(ATTACKS[attack](marked[name][1], rng))
        assert r.found and r.payload == PAYLOAD.hex(), (name, r.detail)


def test_downscaled_screenshots_are_found_by_the_lattice_scan(marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    """Shown at 0.7 and saved as JPEG 65: no single autocorrelation peak of the mark stands out,
    the summed lattice scan finds the scale."""
    for name in ("coffee", "camera"):
        m = marked[name][1]
        shot = _jpeg(m.resize((round(m.width * 0.7), round(m.height * 0.7)), Image.BICUBIC), 65)
        r = watermark.detect(shot)
        assert r.found and r.payload == PAYLOAD.hex(), (name, r.detail)
        assert r.detail["transform"].startswith("scale 0.7"), r.detail


def test_flat_pictures_get_a_weaker_mark_within_the_ssim_limit() -> None:
    """The moon (smooth, dark): the SSIM limit keeps structural similarity above 0.97 where a mark
    of full strength would bring it to about 0.95, and the weaker mark is still found."""
    from skimage.metrics import structural_similarity

    im = Image.fromarray(skdata.moon())
    m = watermark.embed(im, PAYLOAD)
    a, b = np.asarray(im), np.asarray(m)
    assert structural_similarity(a, b, data_range=255) >= 0.97
    assert _psnr(a, b) >= 43.0  # well under the default strength: the limit took most of it
    assert watermark.detect(_jpeg(m, 75)).found
    cap = watermark.ssim_cap(np.zeros((32, 32), np.float32), 0.02)  # a flat area: C2 alone
    assert np.allclose(cap, np.sqrt(0.02 * watermark.SSIM_C2))


def test_wrong_key_and_clean_images_find_nothing(marked: dict[str, tuple[Image.Image, Image.Image]]) -> None:
    im, m = marked["astronaut"]
    assert not watermark.detect(m, key="another service's key").found
    other = watermark.embed(im, PAYLOAD, key="private")
    r = watermark.detect(other, key="private")
    assert r.found and r.payload == PAYLOAD.hex()
    rng = np.random.default_rng(3)
    for clean, _ in marked.values():
        assert not watermark.detect(clean).found
        for _ in range(30):
            assert not watermark.detect(_crop(clean, 0.3, rng)).found


def _large_photo() -> Image.Image:
    """1536 x 1536 (over LARGE_AREA): the astronaut upscaled, as generated pictures often are."""
    return Image.fromarray(skdata.astronaut()).resize((1536, 1536), Image.BICUBIC)


LARGE_ATTACKS = {
    "webp40": lambda im: _encode(im, "WEBP", quality=40),
    "jpeg30": lambda im: _jpeg(im, 30),
    "screenshot0.6": lambda im: _jpeg(im.resize((round(im.width * 0.6), round(im.height * 0.6)), Image.BICUBIC), 65),
    "resize0.5": lambda im: im.resize((im.width // 2, im.height // 2), Image.BICUBIC),
}


def test_large_pictures_get_the_mark_at_twice_the_scale() -> None:
    im = _large_photo()
    assert watermark.chip_scale(1024, 1024) == 1 and watermark.chip_scale(im.height, im.width) == 2
    m = watermark.embed(im, PAYLOAD)
    assert _psnr(np.asarray(im), np.asarray(m)) >= 40.0
    r = watermark.detect(m, expected=PAYLOAD)
    assert r.found and r.matches_label is True and r.detail["chip"] == 4
    assert r.p_value <= 1e-9
    for name, attack in LARGE_ATTACKS.items():
        r = watermark.detect(attack(m))
        assert r.found and r.payload == PAYLOAD.hex(), (name, r.detail)
    assert not watermark.detect(im).found
    with pytest.raises(InvalidArgument):
        watermark.embed(im, PAYLOAD, scale=3)


def test_watermark_accepts_arrays_and_16_bit() -> None:
    a = skdata.astronaut()
    m = watermark.embed(a, PAYLOAD)
    assert isinstance(m, np.ndarray) and m.shape == a.shape and m.dtype == np.uint8
    assert watermark.detect(m).payload == PAYLOAD.hex()
    g16 = Image.fromarray(skdata.camera().astype(np.uint16) * 257)
    m16 = watermark.embed(g16, PAYLOAD)
    assert m16.mode == g16.mode and watermark.detect(m16).payload == PAYLOAD.hex()
    with pytest.raises(InputError):
        watermark.embed(np.zeros((20, 20), np.uint8), PAYLOAD)
    with pytest.raises(InputError):
        watermark.embed(Image.new("P", (100, 100)), PAYLOAD)


# -- the journey ------------------------------------------------------------------------------
def _photo_file(tmp: Path, fmt: str, **save: object) -> Path:
    im = Image.fromarray(skdata.astronaut())
    p = tmp / f"in.{fmt.lower().replace('jpeg', 'jpg')}"
    im.save(p, fmt, **save)
    return p


@pytest.mark.parametrize(
    ("fmt", "save"),
    [
        ("JPEG", {"quality": 85, "subsampling": 1}),
        ("PNG", {}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"quality": 80}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_label_with_watermark_and_explicit_label(
    tmp_path: Path, exiftool: ExifTool, icc_profile: bytes, fmt: str, save: dict[str, object]
) -> None:
    src = _photo_file(tmp_path, fmt, exif=exif_block(), icc_profile=icc_profile, **save)
    before = src.read_bytes()
    dst = tmp_path / ("out" + src.suffix)
    label = AIGCLabel(PRODUCER, "img-0001")
    opts = api.ContentOptions(explicit=True, watermark=True)
    api.label_file(src, dst, label, content=opts)
    assert src.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".aimark-")]
    with Image.open(src) as a, Image.open(dst) as b:
        assert (a.format, a.mode, a.size) == (b.format, b.mode, b.size)
        assert b.info.get("icc_profile") == icc_profile
        assert b.getexif().get(0x010F) == "aimark-test-camera"
        if fmt == "JPEG":
            assert a.quantization == b.quantization
            assert a.layer == b.layer  # same chroma subsampling
    assert json.loads(exiftool.aigc(dst)) == json.loads(label.to_inner_json())
    report = api.verify(dst)
    assert report.verdict == "compliant"
    wm = report.watermark
    assert wm is not None and wm.found and wm.matches_label is True
    assert wm.payload == derive_payload(label).hex()
    assert report.to_dict()["watermark"]["found"] is True
    assert api.verify(dst, options=api.VerifyOptions(watermark=False)).watermark is None


def test_watermark_only_and_mismatch_findings(tmp_path: Path) -> None:
    src = _photo_file(tmp_path, "PNG")
    dst = tmp_path / "out.png"
    api.label_file(src, dst, AIGCLabel(PRODUCER, "a"), content=api.ContentOptions(watermark=True))
    other = tmp_path / "other.png"
    api.label_file(dst, other, AIGCLabel(PRODUCER, "b"))  # relabeled: the watermark still says "a"
    codes = {f.code for f in api.verify(other).findings}
    assert "watermark_mismatch" in codes
    stripped = tmp_path / "stripped.png"
    Image.open(dst).save(stripped)  # re-saved by Pillow: metadata gone, pixels kept
    rep = api.verify(stripped)
    assert rep.verdict == "not_found" and "watermark_only" in {f.code for f in rep.findings}


def test_refusals_are_typed_and_leave_nothing(tmp_path: Path) -> None:
    label = AIGCLabel(PRODUCER, "x")
    gif = tmp_path / "in.gif"
    Image.fromarray(skdata.astronaut()).convert("P").save(gif)
    with pytest.raises(UnsupportedFormat, match="palette"):
        api.label_file(gif, tmp_path / "o.gif", label, content=api.ContentOptions(watermark=True))
    api.label_file(gif, tmp_path / "o.gif", label, content=api.ContentOptions(explicit=True))
    assert api.verify(tmp_path / "o.gif").verdict == "compliant"
    anim = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (64, 64), (80 * i, 0, 0)) for i in range(3)]
    frames[0].save(anim, save_all=True, append_images=frames[1:])
    with pytest.raises(UnsupportedFormat, match="animated"):
        api.label_file(anim, tmp_path / "o2.gif", label, content=api.ContentOptions(explicit=True))
    jpg = _photo_file(tmp_path, "JPEG")
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(jpg.read_bytes()[: len(jpg.read_bytes()) // 2])
    with pytest.raises(AimarkError):
        api.label_file(trunc, tmp_path / "o3.jpg", label, content=api.ContentOptions(watermark=True))
    big = tmp_path / "big.png"
    Image.new("L", (12000, 11000)).save(big)
    with pytest.raises(LimitExceeded):
        api.label_file(big, tmp_path / "o4.png", label, content=api.ContentOptions(watermark=True))
    assert not (tmp_path / "o3.jpg").exists() and not (tmp_path / "o4.png").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".aimark-")]


def test_cli_label_and_verify_an_image(tmp_path: Path) -> None:
    src = _photo_file(tmp_path, "JPEG", quality=90)
    dst = tmp_path / "out.jpg"
    run = [sys.executable, "-m", "aimark"]
    res = subprocess.run(
        [*run, "label", src, "-o", dst, "--producer", PRODUCER, "--produce-id", "cli-1", "--explicit", "--watermark",
         "--position", "top-left", "--text", "人工智能生成"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*run, "verify", "--json", dst], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout.splitlines()[0])
    assert rep["watermark"]["found"] is True and rep["watermark"]["matches_label"] is True
    assert len(rep["watermark"]["payload"]) == 16 and rep["watermark"]["p_value"] <= 1e-9
    res = subprocess.run([*run, "verify", "--json", "--no-watermark", dst], capture_output=True, text=True, timeout=120)
    assert json.loads(res.stdout.splitlines()[0]).get("watermark") is None
