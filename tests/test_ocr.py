"""Visible labels read back by text recognition (the ``ocr`` extra: RapidOCR and its bundled
PP-OCR models) on aimark-labeled pictures, after re-encoding and downscaling, and not on
photographs without one.

Photos: scikit-image ``data.astronaut()`` (NASA, public domain), ``data.coffee()`` (Rachel
Michetti, CC0), ``data.chelsea()`` (Stefan van der Walt, CC0), ``data.rocket()`` (SpaceX,
public domain); see scikit-image's data/README.txt.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from skimage import data as skdata

import aimark
from aimark import AIGCLabel, ContentOptions, VerifyOptions
from aimark.image import explicit as image_explicit
from aimark.image import ocr

from .conftest import PRODUCER

LOOK = VerifyOptions(watermark=False, c2pa=False, security=False)


def _jpeg(im: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def astronaut_jpeg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("ocr") / "astronaut.jpg"
    p.write_bytes(_jpeg(Image.fromarray(skdata.astronaut()), 92))
    return p


@pytest.mark.parametrize("style", image_explicit.STYLES)
def test_every_position_is_read_with_its_glyph_height(astronaut_jpeg: Path, tmp_path: Path, style: str) -> None:
    size = Image.open(astronaut_jpeg).size
    for position in image_explicit.POSITIONS:
        out = tmp_path / f"{position}.jpg"
        content = ContentOptions(explicit=True, options={"position": position, "style": style})
        aimark.label_file(astronaut_jpeg, out, AIGCLabel(PRODUCER, f"ocr-{position}"), content=content)
        ex = aimark.verify(out, options=LOOK).explicit
        drawn = image_explicit.plan(size, position=position, style=style).glyph_fraction
        assert ex is not None and ex.found and ex.complete, (position, ex)
        assert ex.text == "AI生成" and ex.position == position, (position, ex)
        assert ex.glyph_height is not None and abs(ex.glyph_height - drawn) <= 0.01, (position, ex.glyph_height, drawn)
        x0, y0, x1, y1 = ex.box or (0, 0, 0, 0)
        plan = image_explicit.plan(size, position=position, style=style).box
        assert x0 <= plan[2] and x1 >= plan[0] and y0 <= plan[3] and y1 >= plan[1]  # the box is on the drawn label


def test_read_after_jpeg_50_and_half_size(tmp_path: Path) -> None:
    for name in ("coffee", "rocket"):
        im = Image.fromarray(getattr(skdata, name)())
        for position in ("top-left", "bottom", "right"):
            lab = image_explicit.add_label(im, position=position)
            for variant, img in (
                ("jpeg50", Image.open(io.BytesIO(_jpeg(lab, 50)))),
                ("half", lab.resize((lab.width // 2, lab.height // 2), Image.Resampling.LANCZOS)),
            ):
                p = tmp_path / f"{name}-{position}-{variant}.png"
                img.save(p)
                rep = aimark.verify(p, options=LOOK)
                assert rep.explicit is not None and rep.explicit.found, (name, position, variant, rep.explicit)
                assert rep.explicit.position == position


def test_photographs_without_a_label_and_text_without_both_elements(tmp_path: Path) -> None:
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        p = tmp_path / f"{name}.png"
        Image.fromarray(getattr(skdata, name)()).save(p)
        rep = aimark.verify(p, options=LOOK)
        assert rep.explicit is not None and not rep.explicit.found, (name, rep.explicit)
    # text that lacks an element is read and reported, but is not a label
    font = image_explicit._font(None, 40)
    for text, is_label in (("AI智能", False), ("人工生成", False), ("内容由人工智能合成", True)):
        im = Image.new("RGB", (480, 200), (235, 235, 230))
        ImageDraw.Draw(im).text((30, 70), text, font=font, fill=(20, 20, 20))
        p = tmp_path / "text.png"
        im.save(p)
        ex = aimark.verify(p, options=LOOK).explicit
        assert ex is not None and ex.text == text and ex.found is is_label and ex.complete is is_label, ex


def test_the_misreading_of_ai_is_mended_only_beside_a_generation_element() -> None:
    assert ocr.normalize("Al生成") == "AI生成" and ocr.normalize("合成A1") == "合成AI"
    assert ocr.normalize("Ａ Ｉ 生成") == "AI生成"  # full width and spaces
    assert ocr.normalize("Algebra生成") == "Algebra生成" and ocr.normalize("Al助手") == "Al助手"


def test_exif_rotated_picture_is_read_as_displayed(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    src = tmp_path / "rot.jpg"
    Image.fromarray(skdata.coffee()).save(src, "JPEG", quality=92, exif=exif.tobytes())
    out = tmp_path / "rot-l.jpg"
    aimark.label_file(src, out, AIGCLabel(PRODUCER, "rot"), content=ContentOptions(explicit=True))
    ex = aimark.verify(out, options=LOOK).explicit
    assert ex is not None and ex.found and ex.position == "bottom-right"


def test_visible_label_is_evidence_for_the_decision(tmp_path: Path) -> None:
    lab = image_explicit.add_label(Image.fromarray(skdata.chelsea()))
    p = tmp_path / "no-metadata.png"  # the metadata is gone, the drawn label is not
    lab.save(p)
    rep = aimark.verify(p, options=VerifyOptions(decide=True, c2pa=False))
    decision = rep.sections["decision"]
    assert rep.verdict.value == "not_found" and decision.label == "3"
    assert "explicit_label" in [r.evidence for r in decision.reasons]


def test_without_the_extra_verify_says_what_it_needs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "x.png"
    image_explicit.add_label(Image.fromarray(skdata.chelsea())).save(p)
    monkeypatch.setattr(ocr, "available", lambda: False)
    rep = aimark.verify(p, options=LOOK)
    notes = [f for f in rep.findings if f.code == "explicit_not_checked"]
    assert rep.explicit is None and len(notes) == 1 and "aimark[ocr]" in notes[0].message


def test_bad_arrays_are_refused() -> None:
    with pytest.raises(ValueError):
        ocr.find_label(np.zeros((10, 10), np.uint8))
    assert not ocr.find_label(np.zeros((2, 2, 3), np.uint8)).found


def test_a_recogniser_that_cannot_load_keeps_the_watermark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(skdata.coffee()).save(src)
    out = tmp_path / "out.png"
    aimark.label_file(src, out, AIGCLabel(PRODUCER, "broken-ocr"), content=ContentOptions(explicit=True, watermark=True))
    # as when the extra is installed but its OpenCV build finds no libGL
    monkeypatch.setattr(ocr, "_BROKEN", "reading visible labels needs the ocr extra (libGL.so.1: cannot open shared object file)")
    rep = aimark.verify(out, options=VerifyOptions(c2pa=False))
    assert rep.explicit is None and "explicit_not_checked" in [f.code for f in rep.findings]
    assert rep.watermark is not None and rep.watermark.found and rep.watermark.matches_label
