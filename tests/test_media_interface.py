"""The media interface, the verify chain, per-file media, deterministic sniffing and installs
that name the missing extra.

A fake media package and a fake check are registered from here, without touching api.py, and
get labeling, verify routing and report fields. Missing extras are simulated in a subprocess
whose import system refuses Pillow, NumPy, OpenCV, fontTools and PyAV (the same failure a
``pip install aimark`` without extras meets).
"""

from __future__ import annotations

import json
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aimark
from aimark import AIGCLabel, ContentOptions, checks, containers, media
from aimark.containers import Carrier, RawLabel, ReadResult
from aimark.errors import InvalidArgument, UnsupportedFormat
from aimark.report import ExplicitReport, WatermarkReport

from .conftest import PRODUCER

MAGIC = b"FAKEMEDIA1\n"


# -- a fake format, media package and check ----------------------------------------------------
def _fake_read(buf: containers.Buffer, limits: containers.Limits) -> ReadResult:
    res = ReadResult()
    for line in bytes(buf).split(b"\n"):
        if line.startswith(b"LABEL:"):
            res.labels.append(RawLabel("fake:LABEL", line[6:].decode()))
    return res


def _fake_write(buf: containers.Buffer, label: AIGCLabel, limits: containers.Limits) -> list[containers.Piece]:
    kept = [ln for ln in bytes(buf).split(b"\n") if not ln.startswith(b"LABEL:")]
    return [b"\n".join(kept) + b"\nLABEL:" + label.to_inner_json().encode()]


def _fake_package() -> types.ModuleType:
    mod = types.ModuleType("aimark_test_fakemedia")
    calls: list[tuple[str, object]] = []

    def apply(carrier: Carrier, buf: containers.Buffer, step: media.ContentStep, limits: containers.Limits) -> bytes:
        calls.append(("apply", step))
        out = bytes(buf)
        if step.explicit:
            out += f"\nEXPLICIT:{step.at}:{step.options['tone']}:{step.wording}".encode()
        if step.payload is not None:
            out += b"\nMARK:" + step.payload.hex().encode()
        return out

    def inspect(
        carrier: Carrier, buf: containers.Buffer, probe: media.Probe, limits: containers.Limits
    ) -> tuple[ExplicitReport | None, WatermarkReport | None]:
        calls.append(("inspect", probe))
        data = bytes(buf)
        found = ExplicitReport(b"\nEXPLICIT:" in data, "start") if probe.explicit else None
        wm = None
        if probe.watermark:
            i = data.find(b"\nMARK:")
            payload = data[i + 6 : i + 22].decode() if i >= 0 else None
            expected = probe.expected.hex() if probe.expected is not None else None
            wm = WatermarkReport(
                "fake-v1", payload is not None, payload, matches_label=None if expected is None else payload == expected
            )
        return found, wm

    mod.apply, mod.inspect, mod.calls = apply, inspect, calls  # type: ignore[attr-defined]
    return mod


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    mod = _fake_package()
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    media.register(media.Media("fakemedia", mod.__name__, wording="AI生成 (fake)", options={"tone": "soft"}))
    containers.register(
        Carrier(
            "fake",
            "application/x-fake",
            (".fake",),
            lambda h: 100 if h.startswith(MAGIC) else 0,
            _fake_read,
            _fake_write,
            media="fakemedia",
        )
    )
    checks.register(
        checks.Check(
            "stamp",
            checks.DECISION,
            lambda ctx: ctx.report.add_section("stamp", {"media": ctx.media, "labels": len(ctx.report.labels)}),
        )
    )
    checks.register(
        checks.Check("needs-missing", checks.C2PA, lambda ctx: None, requires=("aimark_no_such_module",), extra="nothing")
    )
    yield mod
    media.unregister("fakemedia")
    containers.unregister("fake")
    checks.unregister("stamp")
    checks.unregister("needs-missing")


def test_a_registered_media_and_check_plug_in_without_touching_api(fake: types.ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "a.fake"
    src.write_bytes(MAGIC + b"content\n")
    dst = tmp_path / "b.fake"
    content = ContentOptions(explicit=True, at="end", watermark=True, options={"tone": "loud"})
    res = aimark.label_file(src, dst, AIGCLabel(PRODUCER, "p-1"), content=content)
    assert (res.format, res.media, res.explicit, res.placement) == ("fake", "fakemedia", True, "end")
    data = dst.read_bytes()
    assert "EXPLICIT:end:loud:AI生成 (fake)".encode() in data and data.endswith(
        b"LABEL:" + AIGCLabel(PRODUCER, "p-1").to_inner_json().encode()
    )
    assert res.watermark == aimark.watermark.derive_payload(AIGCLabel(PRODUCER, "p-1")).hex()
    assert b"MARK:" + res.watermark.encode() in data

    report = aimark.verify(dst)
    assert report.media == "fakemedia" and report.verdict.value == "compliant"
    assert report.explicit is not None and report.explicit.found
    assert report.watermark is not None and report.watermark.matches_label is True
    d = report.to_dict()
    assert d["stamp"] == {"media": "fakemedia", "labels": 1}
    skipped = [f for f in report.findings if f.code == "needs-missing_skipped"]
    assert len(skipped) == 1 and skipped[0].severity.value == "info" and "aimark[nothing]" in skipped[0].message
    # the check chain runs in stage order: metadata before the content check before the decision
    names = [c.name for c in checks.chain()]
    assert names.index("metadata") < names.index("needs-missing") < names.index("watermark") < names.index("stamp")
    probes = [p for kind, p in fake.calls if kind == "inspect"]
    assert probes and probes[-1].read is not None and probes[-1].expected == bytes.fromhex(res.watermark)


def test_options_a_media_does_not_take_are_refused_before_any_work(fake: types.ModuleType, tmp_path: Path) -> None:
    src = tmp_path / "a.fake"
    src.write_bytes(MAGIC)
    label = AIGCLabel(PRODUCER, "p")
    with pytest.raises(InvalidArgument, match=r"fakemedia does not take the option 'position' \(it takes: tone\)"):
        aimark.label_file(src, tmp_path / "o.fake", label, content=ContentOptions(explicit=True, options={"position": "top"}))
    with pytest.raises(InvalidArgument, match="lacks the generation element"):
        aimark.label_file(src, tmp_path / "o.fake", label, content=ContentOptions(explicit=True, wording="AI made"))
    with pytest.raises(InvalidArgument, match="goes at start, end, middle"):
        aimark.label_file(src, tmp_path / "o.fake", label, content=ContentOptions(explicit=True, at="sideways"))
    with pytest.raises(InvalidArgument, match="key"):
        aimark.label_file(src, tmp_path / "o.fake", label, content=ContentOptions(watermark=True, key=b""))
    with pytest.raises(InvalidArgument, match="no watermark"):
        aimark.label_file(src, tmp_path / "o.fake", label, content=ContentOptions(explicit=True, payload=1))
    assert not fake.calls and not (tmp_path / "o.fake").exists()


def test_each_media_validates_its_own_options(tmp_path: Path, make_image, label: AIGCLabel) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "a.png"
    png.write_bytes(make_image("png"))
    with pytest.raises(InvalidArgument, match="no start/end placement"):
        aimark.label_file(png, tmp_path / "o.png", label, content=ContentOptions(explicit=True, at="end"))
    with pytest.raises(InvalidArgument, match="position is one of"):
        aimark.label_file(png, tmp_path / "o.png", label, content=ContentOptions(explicit=True, options={"position": "middle"}))
    with pytest.raises(InvalidArgument, match="image does not take the option 'prompt'"):
        aimark.label_file(png, tmp_path / "o.png", label, content=ContentOptions(explicit=True, options={"prompt": "voice"}))
    # the same wording rule for images as for text
    with pytest.raises(InvalidArgument, match="lacks the AI element"):
        aimark.label_file(png, tmp_path / "o.png", label, content=ContentOptions(explicit=True, wording="Generated"))
    txt = tmp_path / "a.txt"
    txt.write_text("Some text.\n")
    with pytest.raises(InvalidArgument, match="lacks the AI element"):
        aimark.label_file(txt, tmp_path / "o.txt", label, content=ContentOptions(explicit=True, wording="Generated"))
    with pytest.raises(InvalidArgument, match="text does not take the option 'position'"):
        aimark.label_file(txt, tmp_path / "o.txt", label, content=ContentOptions(explicit=True, options={"position": "top"}))
    assert not list(tmp_path.glob("o.*"))


def test_default_wordings_match_the_packages() -> None:
    from aimark.image import explicit as image_explicit
    from aimark.text import explicit as text_explicit

    assert media.get("text").wording == text_explicit.DEFAULT_TEXT  # type: ignore[union-attr]
    assert media.get("image").wording == image_explicit.DEFAULT_TEXT  # type: ignore[union-attr]
    assert media.get("image").options["position"] == "bottom-right"  # type: ignore[union-attr]


# -- the media is decided per file -------------------------------------------------------------
def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def test_mp4_with_video_and_m4a_are_different_media(tmp_path: Path, label: AIGCLabel) -> None:
    mp4, m4a = tmp_path / "v.mp4", tmp_path / "a.m4a"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-shortest",
        mp4,
    )
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", m4a)
    v, a = aimark.verify(mp4), aimark.verify(m4a)
    assert (v.format, v.media) == ("mp4", "video") and (a.format, a.media) == ("m4a", "audio")
    assert v.watermark is not None and v.watermark.method.startswith("video")  # the video package ran
    assert v.explicit is not None and not v.explicit.found  # text recognition read the opening frames
    assert a.watermark is not None and a.watermark.method.startswith("aimark-audio")  # the audio package ran
    # content steps go to each file's own media: the video is re-encoded, the audio gets a prompt
    out = aimark.label_file(mp4, tmp_path / "o.mp4", label, content=ContentOptions(explicit=True))
    assert out.media == "video" and aimark.verify(out.path).verdict.value == "compliant"
    assert aimark.label_file(m4a, tmp_path / "o.m4a", label, content=ContentOptions(explicit=True)).media == "audio"
    assert aimark.verify(tmp_path / "o.m4a").explicit.found  # type: ignore[union-attr]


def test_mp3_with_cover_art_is_still_audio(tmp_path: Path, label: AIGCLabel) -> None:
    cover = tmp_path / "cover.png"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(cover)
    mp3 = tmp_path / "a.mp3"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=6",
        "-i",
        cover,
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c:a",
        "libmp3lame",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
        mp3,
    )
    out = aimark.label_file(mp3, tmp_path / "o.mp3", label, content=ContentOptions(watermark=True))
    assert out.media == "audio" and out.watermark
    assert aimark.verify(out.path).watermark.matches_label is True  # type: ignore[union-attr]


def test_heic_and_avif_are_images_not_mp4(tmp_path: Path, label: AIGCLabel) -> None:
    png = tmp_path / "a.png"
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(png)
    heic = tmp_path / "a.heic"
    subprocess.run(["heif-enc", "-q", "50", "-o", str(heic), str(png)], check=True, capture_output=True, timeout=60)
    avif = tmp_path / "a.avif"
    Image.open(png).save(avif)
    for path, name in ((heic, "heif"), (avif, "avif")):
        assert aimark.detect_format(path) == name
        report = aimark.verify(path)
        assert (report.format, report.media) == (name, "image")
        assert report.verdict.value == "inconclusive" and "format_not_read" in [f.code for f in report.findings]
        before = path.read_bytes()
        with pytest.raises(UnsupportedFormat, match=f"{name.upper()} images is not supported yet"):
            aimark.label_file(path, tmp_path / f"o.{name}", label)
        assert path.read_bytes() == before and not (tmp_path / f"o.{name}").exists()


def test_sniff_ties_follow_a_rule_not_registration_order() -> None:
    def carrier(name: str, ext: str) -> Carrier:
        return Carrier(name, "x/y", (ext,), lambda h: 55 if h.startswith(b"TIE!") else 0, _fake_read, _fake_write)

    try:
        for order in (("tie-b", "tie-a"), ("tie-a", "tie-b")):
            for n in order:
                containers.register(carrier(n, f".{n[-1]}"))
            assert containers.sniff(b"TIE!...").name == "tie-a"  # alphabetical
            assert containers.sniff(b"TIE!...", ".b").name == "tie-b"  # the carrier naming the extension
            for n in order:
                containers.unregister(n)
    finally:
        containers.unregister("tie-a")
        containers.unregister("tie-b")


# -- installs that say what is missing ---------------------------------------------------------
_BLOCKER = """
import importlib.abc, sys
BLOCKED = {"PIL", "numpy", "cv2", "fontTools", "av"}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Block())
import importlib.util
_find = importlib.util.find_spec
def find_spec(name, package=None):
    if name.split(".")[0] in BLOCKED:
        return None
    return _find(name, package)
importlib.util.find_spec = find_spec
from aimark.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def _bare(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _BLOCKER, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_missing_extras_are_one_line_naming_the_extra(tmp_path: Path, make_image) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "x.png"
    png.write_bytes(make_image("png"))
    wav = tmp_path / "x.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=6", "-c:a", "pcm_s16le", wav)
    common = ["--producer", PRODUCER, "--produce-id", "x"]
    for src, flag, extra in ((png, "--explicit", "image"), (png, "--watermark", "image"), (wav, "--watermark", "audio")):
        res = _bare("label", src, "-o", tmp_path / f"out{src.suffix}", *common, flag)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and f"pip install 'aimark[{extra}]'" in lines[0] and "internal error" not in lines[0], res.stderr
        assert not (tmp_path / f"out{src.suffix}").exists()
    # metadata-only labeling and verify need no extra; verify says what it skipped
    res = _bare("label", png, "-o", tmp_path / "meta.png", *common)
    assert res.returncode == 0, res.stderr
    res = _bare("verify", "--json", tmp_path / "meta.png")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.splitlines()[0])
    skipped = [f for f in report["findings"] if f["code"] == "watermark_skipped"]
    assert report["verdict"] == "compliant" and len(skipped) == 1 and "aimark[image]" in skipped[0]["message"]


def test_read_labels_does_not_decode_content(
    tmp_path: Path, make_image, label: AIGCLabel, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "x.png"
    png.write_bytes(make_image("png"))
    aimark.label_file(png, tmp_path / "o.png", label)
    from aimark import image as image_package

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("content decoded")

    monkeypatch.setattr(image_package, "inspect", boom)
    assert [r.aigc["ProduceID"] for r in aimark.read_labels(tmp_path / "o.png")] == ["test-0001"]
