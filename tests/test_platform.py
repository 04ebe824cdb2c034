"""The Article 6 decision, propagation and the moderation hook (SPEC section 6), on real files,
with exiftool reading what propagation wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aimark
from aimark import AIGCLabel, checks
from aimark.cli import main
from aimark.errors import InvalidLabel
from aimark.platform import decide, moderate, propagate, propagate_bytes

from .conftest import PRODUCER, PRODUCER2, ExifTool
from .platform_media import PLATFORM, make_uploads


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_uploads(tmp_path_factory.mktemp("uploads"))


def _evidence(decision: aimark.Decision) -> list[str]:
    return [r.evidence for r in decision.reasons]


# -- the decision: every case of SPEC section 6 --------------------------------------------------
def test_case1_metadata_label_says_ai_generated(uploads: dict[str, Path]) -> None:
    d = decide(aimark.verify(uploads["labeled"]))
    assert (d.label, d.notice, d.notice_en) == ("1", "人工智能生成合成内容", "AI-generated content")
    assert _evidence(d) == ["metadata_label", "watermark"]  # the watermark matches: no conflict
    assert decide(aimark.verify(uploads["labeled"]), declared_ai=True).label == "1"


def test_case2_declared_without_a_label(uploads: dict[str, Path]) -> None:
    report = aimark.verify(uploads["clean"])
    assert decide(report).label is None
    d = decide(report, declared_ai=True)
    assert (d.label, d.notice_en) == ("2", "Possibly AI-generated content") and _evidence(d) == ["declaration"]
    assert decide(report, declared_ai=False).label is None


def test_case3_watermark_only_and_explicit_label_only(uploads: dict[str, Path]) -> None:
    d = decide(aimark.verify(uploads["watermark_only"]))
    assert (d.label, d.notice) == ("3", "疑似人工智能生成合成内容") and _evidence(d) == ["watermark"]
    # a declaration wins over traces (case 2 before case 3) and the traces stay as reasons
    d2 = decide(aimark.verify(uploads["watermark_only"]), declared_ai=True)
    assert d2.label == "2" and _evidence(d2) == ["declaration", "watermark"]
    d3 = decide(aimark.verify(uploads["text_explicit"]))
    assert d3.label == "3" and _evidence(d3) == ["explicit_label"] and "本内容由人工智能生成" in d3.reasons[0].message


def test_nothing_found_is_no_decision(uploads: dict[str, Path]) -> None:
    for key in ("clean", "markdown"):
        d = decide(aimark.verify(uploads[key]))
        assert d.label is None and d.notice is None and d.reasons == []


def _jpeg_with(tmp_path: Path, exiftool: ExifTool, uploads: dict[str, Path], *assignments: str) -> Path:
    p = tmp_path / "x.jpg"
    p.write_bytes(uploads["clean"].read_bytes())
    exiftool.write(p, *assignments)
    return p


def test_conflicting_and_duplicate_labels(tmp_path: Path, exiftool: ExifTool, uploads: dict[str, Path]) -> None:
    one = AIGCLabel(PRODUCER, "a").to_inner_json()
    three = AIGCLabel(PRODUCER2, "b", label="3").to_wrapped_json()
    p = _jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={one}", f"-EXIF:UserComment={three}")
    d = decide(aimark.verify(p))
    assert d.label == "1"  # the strongest claim of the two
    conflict = [r for r in d.reasons if r.evidence == "conflict"]
    assert len(conflict) == 1 and "disagree (Label 1, 3)" in conflict[0].message
    same = AIGCLabel(PRODUCER, "a").to_wrapped_json()
    p2 = _jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={one}", f"-EXIF:UserComment={same}")
    d2 = decide(aimark.verify(p2))
    assert d2.label == "1" and [r.message for r in d2.reasons if r.evidence == "conflict"] == [
        "2 AIGC labels in one file; exactly one is allowed"
    ]


def test_a_propagated_label_keeps_its_value_and_odd_labels_are_traces(
    tmp_path: Path, exiftool: ExifTool, uploads: dict[str, Path]
) -> None:
    three = AIGCLabel(PRODUCER, "a", label="3").to_inner_json()
    d = decide(aimark.verify(_jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={three}")))
    assert d.label == "3" and _evidence(d) == ["metadata_label"] and "Label=3" in d.reasons[0].message
    odd = '{"Label":"AIGC","ContentProducer":"doubao","ProduceID":"x"}'
    d2 = decide(aimark.verify(_jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={odd}")))
    assert d2.label == "3" and _evidence(d2) == ["label_site"]
    empty = json.dumps(dict.fromkeys(aimark.FIELDS, ""), separators=(",", ":"))
    d3 = decide(aimark.verify(_jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={empty}")))
    assert d3.label is None and _evidence(d3) == ["empty_label"]


def test_watermark_of_another_label_is_a_conflict(tmp_path: Path, uploads: dict[str, Path]) -> None:
    other = tmp_path / "other.jpg"
    aimark.label_file(uploads["watermark_only"], other, AIGCLabel(PRODUCER2, "someone-else"))
    d = decide(aimark.verify(other))
    assert d.label == "1"
    assert [r.evidence for r in d.reasons] == ["metadata_label", "conflict", "watermark"]


def test_a_c2pa_claim_is_a_trace(uploads: dict[str, Path]) -> None:
    def fake_c2pa(ctx: checks.VerifyContext) -> None:
        ctx.report.add_section(
            "c2pa", {"present": True, "digital_source_type": aimark.platform.decision.TRAINED_ALGORITHMIC_MEDIA}
        )

    checks.register(checks.Check("fake-c2pa", checks.C2PA, fake_c2pa))
    try:
        d = decide(aimark.verify(uploads["clean"]))
    finally:
        checks.unregister("fake-c2pa")
    assert d.label == "3" and _evidence(d) == ["c2pa"]


def test_verify_decide_in_the_cli(uploads: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    main(["verify", "--json", "--decide", str(uploads["watermark_only"]), str(uploads["clean"])])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["decision"]["label"] for r in lines] == ["3", None]
    assert (
        lines[0]["decision"]["notice"] == "疑似人工智能生成合成内容"
        and lines[0]["decision"]["reasons"][0]["evidence"] == "watermark"
    )
    main(["verify", "--json", "--decide", "--declared-ai", str(uploads["clean"])])
    assert json.loads(capsys.readouterr().out)["decision"]["label"] == "2"
    main(["verify", "--json", str(uploads["clean"])])
    assert "decision" not in json.loads(capsys.readouterr().out)


# -- propagation -------------------------------------------------------------------------------
def test_propagate_keeps_the_producer_fields(tmp_path: Path, uploads: dict[str, Path], exiftool: ExifTool) -> None:
    out = tmp_path / "p.jpg"
    before = uploads["labeled"].read_bytes()
    res = propagate(uploads["labeled"], out, PLATFORM, "upload-77")
    assert res.written and res.decision.label == "1"
    assert uploads["labeled"].read_bytes() == before
    report = aimark.verify(out)
    assert report.verdict.value == "compliant" and len(report.labels) == 1
    aigc = report.labels[0].aigc
    assert aigc == {
        "Label": "1",
        "ContentProducer": PRODUCER,
        "ProduceID": "gen-0001",
        "ReservedCode1": "producer-integrity-data",
        "ContentPropagator": PLATFORM,
        "PropagateID": "upload-77",
        "ReservedCode2": "",
    }
    assert json.loads(exiftool.aigc(out)) == aigc
    assert report.watermark is not None and report.watermark.matches_label is True  # the producer's payload still matches


def test_propagate_without_a_label(tmp_path: Path, uploads: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    # no evidence, no declaration: left alone, exit 1, nothing written
    assert (
        main(
            ["propagate", str(uploads["clean"]), "-o", str(tmp_path / "n.jpg"), "--propagator", PLATFORM, "--propagate-id", "u1"]
        )
        == 1
    )
    assert not (tmp_path / "n.jpg").exists() and "left alone" in capsys.readouterr().out
    # declared: Label 2, the platform is the first to label it
    assert (
        main(
            [
                "propagate",
                str(uploads["clean"]),
                "-o",
                str(tmp_path / "d.jpg"),
                "--propagator",
                PLATFORM,
                "--propagate-id",
                "u2",
                "--declared-ai",
            ]
        )
        == 0
    )
    aigc = aimark.verify(tmp_path / "d.jpg").labels[0].aigc
    assert (aigc["Label"], aigc["ContentProducer"], aigc["ProduceID"], aigc["ContentPropagator"]) == (
        "2",
        PLATFORM,
        "u2",
        PLATFORM,
    )
    # a watermark only: Label 3; the uploader's producer can be passed
    res = propagate(uploads["watermark_only"], tmp_path / "w.jpg", PLATFORM, "u3", producer=PRODUCER, produce_id="gen-0001")
    rep = aimark.verify(tmp_path / "w.jpg")
    assert res.decision.label == "3" and rep.labels[0].aigc["Label"] == "3" and rep.labels[0].aigc["ContentProducer"] == PRODUCER
    assert rep.watermark is not None and rep.watermark.matches_label is True


def test_propagate_collapses_duplicates_and_refuses_bad_codes(
    tmp_path: Path, exiftool: ExifTool, uploads: dict[str, Path]
) -> None:
    one = AIGCLabel(PRODUCER, "a").to_inner_json()
    three = AIGCLabel(PRODUCER2, "b", label="3").to_wrapped_json()
    p = _jpeg_with(tmp_path, exiftool, uploads, f"-XMP-TC260:AIGC={one}", f"-EXIF:UserComment={three}")
    propagate(p, tmp_path / "one.jpg", PLATFORM, "u9")
    report = aimark.verify(tmp_path / "one.jpg")
    assert (
        len(report.labels) == 1 and report.labels[0].aigc["ContentProducer"] == PRODUCER and report.labels[0].aigc["Label"] == "1"
    )
    with pytest.raises(InvalidLabel, match="ContentPropagator"):
        propagate(uploads["labeled"], tmp_path / "bad.jpg", "my-platform", "u1")
    assert not (tmp_path / "bad.jpg").exists()


def test_propagate_bytes_and_the_hook(uploads: dict[str, Path]) -> None:
    data = uploads["watermark_only"].read_bytes()
    res, out = propagate_bytes(data, PLATFORM, "u5", filename="up.jpg")
    assert res.decision.label == "3" and out is not None
    assert aimark.verify_bytes(out).labels[0].aigc["PropagateID"] == "u5"
    m = moderate(data, filename="up.jpg", propagate_as=(PLATFORM, "u6"))
    assert m.decision.label == "3" and m.data is not None and m.report.path == "up.jpg"
    assert aimark.verify_bytes(m.data).labels[0].aigc["Label"] == "3"
    m2 = moderate(uploads["clean"], propagate_as=(PLATFORM, "u7"))
    assert m2.decision.label is None and m2.data is None
    bad = moderate(b"\x00\x01 not a format", filename="x.bin")
    assert bad.report.verdict.value == "error" and bad.decision.label is None
    d = m.to_dict()
    assert d["decision"]["label"] == "3" and d["propagated"] is True and d["verdict"] == "not_found"
