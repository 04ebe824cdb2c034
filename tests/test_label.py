"""The AIGC label: fields, canonical JSON, strict validation, lenient parsing, provider codes."""

from __future__ import annotations

import json

import pytest

from aimark import AIGCLabel, InvalidLabel, LabelKind, parse_label_text, parse_provider_code
from aimark.label import FIELDS, resident_id_check_char, uscc_check_char

from .conftest import PRODUCER, PRODUCER2


def codes(rec) -> list[str]:
    return [f.code for f in rec.findings]


def test_canonical_json_is_compact_ordered_and_defaults_propagator() -> None:
    lab = AIGCLabel(PRODUCER, "req-42")
    assert lab.to_inner_json() == (
        '{"Label":"1","ContentProducer":"001191110102MACQD9K64010000","ProduceID":"req-42","ReservedCode1":"",'
        '"ContentPropagator":"001191110102MACQD9K64010000","PropagateID":"req-42","ReservedCode2":""}'
    )
    assert lab.to_wrapped_json() == '{"AIGC":' + lab.to_inner_json() + "}"
    assert list(json.loads(lab.to_inner_json())) == list(FIELDS)


def test_label_kind_from_string_and_propagation_keeps_producer() -> None:
    lab = AIGCLabel(PRODUCER, "p1", label="2")  # type: ignore[arg-type]
    assert lab.label is LabelKind.POSSIBLY
    prop = lab.with_propagation(PRODUCER2, "up-9", label=LabelKind.SUSPECTED)
    assert (prop.content_producer, prop.produce_id) == (PRODUCER, "p1")
    assert (prop.content_propagator, prop.propagate_id, prop.label.value) == (PRODUCER2, "up-9", "3")


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"content_producer": PRODUCER, "produce_id": "has space"}, "value_charset"),
        ({"content_producer": PRODUCER, "produce_id": "back\\slash"}, "value_charset"),
        ({"content_producer": PRODUCER, "produce_id": "中文"}, "value_charset"),
        ({"content_producer": PRODUCER, "produce_id": ""}, "empty_field"),
        ({"content_producer": "doubao", "produce_id": "x"}, "provider_not_code"),
        ({"content_producer": "001191110102MACQD9K64110000", "produce_id": "x"}, "provider_code_check"),
    ],
)
def test_invalid_labels_are_refused(kwargs: dict[str, str], code: str) -> None:
    lab = AIGCLabel(**kwargs)
    assert code in [f.code for f in lab.validate()]
    with pytest.raises(InvalidLabel):
        lab.check()


def test_bad_label_value_and_names_allowed_when_not_strict() -> None:
    with pytest.raises(InvalidLabel):
        AIGCLabel(PRODUCER, "x", label="4")  # type: ignore[arg-type]
    AIGCLabel("doubao", "x").check(strict_codes=False)


def test_quote_in_value_is_escaped_and_allowed() -> None:
    lab = AIGCLabel(PRODUCER, "x", reserved_code1='{"SecurityData":{"Type":"TC260PG"}}').check()
    assert '\\"SecurityData\\"' in lab.to_inner_json()
    rec = parse_label_text(lab.to_wrapped_json(), "t")
    assert rec.ok and rec.aigc["ReservedCode1"] == '{"SecurityData":{"Type":"TC260PG"}}'


def test_provider_code_vectors_from_spec() -> None:
    pc, findings = parse_provider_code(PRODUCER)
    assert findings == () and pc is not None
    assert (pc.subject_type, pc.credential, pc.service_type, pc.model_code) == (
        "organization",
        "91110102MACQD9K640",
        "generation",
        "0000",
    )
    pc2, findings2 = parse_provider_code(PRODUCER2)
    assert findings2 == () and pc2 is not None and pc2.model_code == "XGW3" and pc2.check_ok
    assert uscc_check_char("91440300708461136") == "T"
    assert uscc_check_char("91110102MACQD9K64") == "0"


def test_provider_code_rejections() -> None:
    for value, code in [
        ("doubao", "provider_not_code"),
        ("001191110102MACQD9K6401000099", "provider_not_code"),  # 29 characters, seen in the wild
        ("001191110102MACQD9K64310000", "provider_code_check"),
        ("011191110102MACQD9K64010000", "provider_code_format"),
        ("003191110102MACQD9K64010000", "provider_code_subject"),
        ("001191110102MACQD9K64090000", "provider_code_service"),
    ]:
        _, findings = parse_provider_code(value)
        assert code in [f.code for f in findings], value


def test_individual_code_uses_resident_id_check() -> None:
    rid17 = "11010519491231002"
    rid = rid17 + resident_id_check_char(rid17)  # type: ignore[operator]
    assert rid == "11010519491231002X"
    pc, findings = parse_provider_code("0021" + rid + "00000")
    assert pc is not None and pc.subject_type == "individual" and pc.check_ok and findings == ()


# -- lenient parsing ----------------------------------------------------------------------------
GOOD = AIGCLabel(PRODUCER, "id-1")


@pytest.mark.parametrize(
    ("text", "form", "expected"),
    [
        (GOOD.to_wrapped_json(), "wrapped", []),
        (GOOD.to_inner_json(), "inner", []),
        ("AIGC" + GOOD.to_inner_json(), "bare", ["bare_form"]),
        ("  AIGC:" + GOOD.to_inner_json() + "\x00\x00", "bare", ["bare_form"]),
        (GOOD.to_wrapped_json().replace('"', "&quot;"), "wrapped", ["escaped_json"]),
        (json.dumps({"AIGC": GOOD.to_inner_json()}), "wrapped", ["double_encoded"]),
    ],
)
def test_parser_accepts_every_real_world_form(text: str, form: str, expected: list[str]) -> None:
    rec = parse_label_text(text, "site")
    assert rec.form == form
    assert rec.aigc == GOOD.fields()
    assert [c for c in codes(rec) if c != "key_order"] == expected
    assert rec.ok


def test_parser_reports_every_deviation_without_raising() -> None:
    text = (
        '{"AIGC":{"Label":1,"ContentProducer":"doubao","ProduceID":"a b","ProduceID":"dup","contentPropagator":"x","Extra":"y"}}'
    )
    rec = parse_label_text(text, "s")
    found = set(codes(rec))
    assert {"label_not_string", "provider_not_code", "duplicate_key", "key_case", "unknown_key", "missing_key"} <= found
    assert not rec.ok


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"AIGC":{"Label":"AIGC"}}', "label_value"),
        ('{"AIGC":{"Label":"1","ContentProducer":"' + PRODUCER + '","ProduceID":"中"}}', "value_charset"),
        ("not json at all", "label_not_json"),
        ('["AIGC"]', "label_not_object"),
        ('{"AIGC":[1,2]}', "label_not_object"),
        ("[" * 50_000 + "]" * 50_000, "label_too_large"),
        ("{" * 20_000, "label_not_json"),
        (b"\xff\xfe{bad", "label_encoding"),
    ],
)
def test_parser_survives_garbage(text: str | bytes, code: str) -> None:
    rec = parse_label_text(text, "s")
    assert code in codes(rec)
    assert not rec.ok


def test_empty_label_shell_is_flagged() -> None:
    shell = json.dumps({"AIGC": dict.fromkeys(FIELDS, "")}, separators=(",", ":"))
    rec = parse_label_text(shell, "s")
    assert rec.empty and "empty_label" in codes(rec)
