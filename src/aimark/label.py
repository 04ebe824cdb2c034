"""The AIGC implicit metadata label of GB 45438-2025 Annex E.

Writing is strict (a label that does not conform is refused with :class:`InvalidLabel`);
reading is lenient (:func:`parse_label_text` accepts every serialization seen in real
products and reports each deviation as a :class:`~aimark.report.Finding`, never raising).
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .errors import InvalidLabel
from .report import Finding, LabelRecord, Severity, error, info, warning

#: The seven keys of Annex E, in their normative order.
FIELDS: tuple[str, ...] = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
#: Keys that must be present and non-empty (GB 45438-2025 section 6.1).
MANDATORY: tuple[str, ...] = ("Label", "ContentProducer", "ProduceID", "ContentPropagator", "PropagateID")
RESERVED: tuple[str, ...] = ("ReservedCode1", "ReservedCode2")
WRAPPER_KEY = "AIGC"

#: Upper bound on the text of one label; anything longer is not a label.
MAX_LABEL_TEXT = 64 * 1024


class LabelKind(StrEnum):
    """The ``Label`` field: what the labeler asserts about the content."""

    AI_GENERATED = "1"  # AI-generated / synthesized
    POSSIBLY = "2"  # possibly AI-generated (uploader declared it)
    SUSPECTED = "3"  # suspected AI-generated (traces found)


# -- value charset -------------------------------------------------------------------------
# Annex E allows 0x21, 0x23-0x5B, 0x5D-0x7E in the serialized value, plus the escape \" .
# On the decoded value that is: printable ASCII without space and backslash ('"' is allowed,
# it is always serialized as \").
_BAD_VALUE_CHAR = re.compile(r"[^\x21-\x5b\x5d-\x7e]")


def bad_value_chars(value: str) -> list[str]:
    """Characters of a decoded value that Annex E forbids (deduplicated, in order)."""
    seen: dict[str, None] = {}
    for m in _BAD_VALUE_CHAR.finditer(value):
        seen.setdefault(m.group(0), None)
    return list(seen)


# -- provider codes (TC260-PG-20252A) -------------------------------------------------------
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_CODE_SHAPE = re.compile(r"[0-9A-Z]{27}")


def uscc_check_char(first17: str) -> str | None:
    """GB 32100-2015 check character for the first 17 characters of a unified social credit
    code, or None when they contain a character outside the code's alphabet."""
    if len(first17) != 17:
        return None
    total = 0
    for ch, w in zip(first17, _USCC_WEIGHTS, strict=True):
        idx = _USCC_ALPHABET.find(ch)
        if idx < 0:
            return None
        total += idx * w
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def resident_id_check_char(first17: str) -> str | None:
    """GB 11643-1999 check character of an 18-digit resident identity number."""
    if len(first17) != 17 or not first17.isdigit():
        return None
    total = sum(int(c) * w for c, w in zip(first17, _RID_WEIGHTS, strict=True))
    return _RID_CHECK[total % 11]


@dataclass(frozen=True)
class ProviderCode:
    """A 27-character service provider code, decomposed."""

    code: str
    subject_type: str  # "organization" | "individual" | "unknown"
    binding_method: str  # "1" = unified social credit code / resident ID
    credential: str  # the 18-character USCC or resident ID
    service_type: str | None  # "generation" | "propagation" | None (extension 00000)
    model_code: str | None  # 4-character model/app code, None when no service extension
    check_ok: bool  # the credential's check character is right

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "subject_type": self.subject_type,
            "binding_method": self.binding_method,
            "credential": self.credential,
            "service_type": self.service_type,
            "model_code": self.model_code,
            "check_ok": self.check_ok,
        }


@functools.lru_cache(maxsize=1024)
def parse_provider_code(value: str) -> tuple[ProviderCode | None, tuple[Finding, ...]]:
    """Decompose a provider code; findings say why a value is not a conformant code."""
    pc, findings = _parse_provider_code(value)
    return pc, tuple(findings)


def _parse_provider_code(value: str) -> tuple[ProviderCode | None, list[Finding]]:
    findings: list[Finding] = []
    if not _CODE_SHAPE.fullmatch(value):
        findings.append(
            error(
                "provider_not_code",
                f"{value!r} is not a 27-character provider code (digits and uppercase letters); "
                "names are not allowed, use the code of TC260-PG-20252A",
            )
        )
        return None, findings
    fmt, subject, binding, cred, ext = value[:2], value[2], value[3], value[4:22], value[22:]
    if fmt != "00":
        findings.append(error("provider_code_format", f"code format {fmt!r} is not '00'"))
    subject_type = {"1": "organization", "2": "individual"}.get(subject, "unknown")
    if subject_type == "unknown":
        findings.append(error("provider_code_subject", f"subject type {subject!r} is neither 1 nor 2"))
    if binding != "1":
        findings.append(warning("provider_code_binding", f"binding method {binding!r} is not 1 (USCC / resident ID)"))
    check = resident_id_check_char if subject_type == "individual" else uscc_check_char
    expected = check(cred[:17])
    check_ok = expected is not None and expected == cred[17]
    if not check_ok:
        findings.append(
            error(
                "provider_code_check",
                f"credential {cred} fails its check character (expected {expected or 'a valid credential'})",
            )
        )
    service_type: str | None
    model_code: str | None
    if ext == "00000":
        service_type, model_code = None, None
    else:
        service_type = {"1": "generation", "2": "propagation"}.get(ext[0])
        model_code = ext[1:]
        if service_type is None:
            findings.append(error("provider_code_service", f"service type {ext[0]!r} is neither 1 nor 2"))
    pc = ProviderCode(value, subject_type, binding, cred, service_type, model_code, check_ok)
    return pc, findings


# -- the label ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AIGCLabel:
    """One AIGC metadata label. Propagator fields default to the producer's (first write)."""

    content_producer: str
    produce_id: str
    label: LabelKind = LabelKind.AI_GENERATED
    reserved_code1: str = ""
    content_propagator: str = ""
    propagate_id: str = ""
    reserved_code2: str = ""
    extra: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.label, LabelKind):
            try:
                object.__setattr__(self, "label", LabelKind(str(self.label)))
            except ValueError:
                raise InvalidLabel(f"Label must be 1, 2 or 3, not {self.label!r}") from None
        if not self.content_propagator:
            object.__setattr__(self, "content_propagator", self.content_producer)
        if not self.propagate_id:
            object.__setattr__(self, "propagate_id", self.produce_id)

    # -- serialization --
    def fields(self) -> dict[str, str]:
        """The seven fields in Annex E order, as strings."""
        return {
            "Label": self.label.value,
            "ContentProducer": self.content_producer,
            "ProduceID": self.produce_id,
            "ReservedCode1": self.reserved_code1,
            "ContentPropagator": self.content_propagator,
            "PropagateID": self.propagate_id,
            "ReservedCode2": self.reserved_code2,
        }

    def to_inner_json(self) -> str:
        """``{"Label":"1",...}``: the form stored under a key already named AIGC (XMP, MP4, OOXML)."""
        return json.dumps(self.fields(), ensure_ascii=True, separators=(",", ":"))

    def to_wrapped_json(self) -> str:
        """``{"AIGC":{...}}``: the Annex E sample form (EXIF UserComment, PNG tEXt)."""
        return json.dumps({WRAPPER_KEY: self.fields()}, ensure_ascii=True, separators=(",", ":"))

    def to_dict(self) -> dict[str, str]:
        return self.fields()

    # -- validation --
    def validate(self, *, strict_codes: bool = True) -> list[Finding]:
        """Annex E checks. Provider names instead of codes are errors when ``strict_codes``."""
        out: list[Finding] = []
        for key, value in self.fields().items():
            if not isinstance(value, str):
                out.append(error("value_type", f"{key} must be a string"))
                continue
            if key in MANDATORY and not value:
                out.append(error("empty_field", f"{key} is mandatory and empty"))
            bad = bad_value_chars(value)
            if bad:
                out.append(error("value_charset", f"{key} contains characters Annex E forbids: {bad!r}"))
        for key in ("ContentProducer", "ContentPropagator"):
            value = self.fields()[key]
            if value and not bad_value_chars(value):
                _, code_findings = parse_provider_code(value)
                for f in code_findings:
                    sev = f.severity if strict_codes else Severity.WARNING
                    out.append(Finding(f.code, sev, f"{key}: {f.message}"))
        return out

    def check(self, *, strict_codes: bool = True) -> AIGCLabel:
        """Raise :class:`InvalidLabel` unless the label can be written; return self."""
        errs = [f for f in self.validate(strict_codes=strict_codes) if f.severity is Severity.ERROR]
        if errs:
            raise InvalidLabel("; ".join(f.message for f in errs))
        return self

    def with_propagation(
        self,
        propagator: str,
        propagate_id: str,
        *,
        label: LabelKind | str | None = None,
        reserved_code2: str = "",
    ) -> AIGCLabel:
        """The label a propagation platform writes back: producer fields kept (SPEC section 6)."""
        return replace(
            self,
            content_propagator=propagator,
            propagate_id=propagate_id,
            label=LabelKind(str(label)) if label is not None else self.label,
            reserved_code2=reserved_code2,
        )

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> AIGCLabel:
        """Build from the seven Annex E keys (e.g. ``LabelRecord.aigc``); raises InvalidLabel."""
        try:
            return cls(
                label=LabelKind(str(fields.get("Label", ""))),
                content_producer=str(fields.get("ContentProducer", "")),
                produce_id=str(fields.get("ProduceID", "")),
                reserved_code1=str(fields.get("ReservedCode1", "")),
                content_propagator=str(fields.get("ContentPropagator", "")),
                propagate_id=str(fields.get("PropagateID", "")),
                reserved_code2=str(fields.get("ReservedCode2", "")),
            )
        except ValueError as exc:
            raise InvalidLabel(f"not a valid label: {exc}") from None


# -- lenient parsing ------------------------------------------------------------------------
_BARE_PREFIX = re.compile(r"\A\s*AIGC\s*[:=]?\s*(?=\{)", re.IGNORECASE)
_ESCAPED = re.compile(r"&(quot|amp|lt|gt|apos|#\d+|#x[0-9a-fA-F]+);")


class _DupKeys:
    """object_pairs_hook that remembers duplicate keys at any depth."""

    def __init__(self) -> None:
        self.duplicates: list[str] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                self.duplicates.append(k)
            out[k] = v
        return out


def looks_like_label(text: str) -> bool:
    """Cheap test used by readers of free-text sites (comments, tEXt): does it mention AIGC
    or Annex E keys?"""
    return "AIGC" in text.upper() or "ContentProducer" in text or "ProduceID" in text


def label_start(head: bytes) -> bool:
    """Whether bytes that open a site could open a label (``{`` or ``AIGC``, after padding):
    a cheap look before decoding a segment that is usually something else."""
    h = head.lstrip(b"\x00 \t\r\n")
    return h.startswith(b"{") or h[:4].upper() == b"AIGC"


def is_label_payload(text: str) -> bool:
    """Whether a site that is not a label site holds nothing but a label. Products write the
    bare ``AIGC{...}``, the wrapped ``{"AIGC":{...}}`` or the inner object into comments, image
    descriptions and APP segments; a description that merely mentions AIGC is not a label."""
    t = text.strip().strip("\x00").strip()
    if not t.endswith("}"):
        return False
    return bool(_BARE_PREFIX.match(t)) or (t.startswith("{") and looks_like_label(t))


def parse_label_text(text: str | bytes, site: str, *, max_len: int = MAX_LABEL_TEXT) -> LabelRecord:
    """Parse one label as stored at ``site`` (at most ``max_len`` characters, the
    ``Limits.max_label_text`` of the journey). Never raises: every deviation is a finding."""
    findings: list[Finding] = []
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            text = text.decode("latin-1")
            findings.append(error("label_encoding", "label bytes are not UTF-8", site))
    if len(text) > max_len:
        findings.append(error("label_too_large", f"label text is {len(text)} characters (limit {max_len})", site))
        return LabelRecord(site, {}, findings, form="unparsed")
    t = text.strip().strip("\x00").strip()
    if _ESCAPED.search(t) and not t.lstrip().startswith('{"'):
        t = html.unescape(t)
        findings.append(warning("escaped_json", "label JSON was XML/HTML-escaped once more than the container needs", site))
    form = "inner"
    m = _BARE_PREFIX.match(t)
    if m and not t.startswith("{"):
        t = t[m.end() :]
        form = "bare"
        findings.append(warning("bare_form", "label is written as AIGC{...}, not as JSON", site))
    hook = _DupKeys()
    try:
        obj = json.loads(t, object_pairs_hook=hook)
    except (ValueError, RecursionError) as exc:
        findings.append(error("label_not_json", f"label is not valid JSON: {str(exc)[:120]}", site))
        return LabelRecord(site, {}, findings, form="unparsed")

    inner: Any = obj
    if isinstance(obj, dict):
        wrapper = [k for k in obj if k.upper() == WRAPPER_KEY]
        if wrapper and not any(k in obj for k in FIELDS):
            if form != "bare":
                form = "wrapped"
            key = wrapper[0]
            if key != WRAPPER_KEY:
                findings.append(error("key_case", f"wrapper key is {key!r}, not 'AIGC'", site))
            if len(obj) > 1:
                extra = [k for k in obj if k != key]
                findings.append(error("unknown_key", f"unexpected keys beside AIGC: {extra}", site))
            inner = obj[key]
            if isinstance(inner, str):
                try:
                    inner = json.loads(inner, object_pairs_hook=hook)
                    findings.append(warning("double_encoded", "the AIGC value is a JSON string holding JSON", site))
                except (ValueError, RecursionError):
                    pass
    if not isinstance(inner, dict):
        findings.append(error("label_not_object", "label is not a JSON object of Annex E fields", site))
        return LabelRecord(site, {}, findings, form="unparsed")
    for dup in sorted(set(hook.duplicates)):
        findings.append(error("duplicate_key", f"key {dup!r} appears more than once", site))

    aigc: dict[str, Any] = {}
    lower = {k.lower(): k for k in inner}
    for key in FIELDS:
        if key in inner:
            aigc[key] = inner[key]
        elif key.lower() in lower:
            actual = lower[key.lower()]
            aigc[key] = inner[actual]
            findings.append(error("key_case", f"key {actual!r} should be {key!r} (keys are case-sensitive)", site))
        elif key in RESERVED:
            findings.append(warning("missing_key", f"optional key {key} is missing (write all 7 keys)", site))
        else:
            findings.append(error("missing_key", f"mandatory key {key} is missing", site))
    known = {k.lower() for k in FIELDS}
    unknown = [k for k in inner if k.lower() not in known]
    if unknown:
        findings.append(error("unknown_key", f"keys not in Annex E: {unknown}", site))
    present = [k for k in inner if k.lower() in known]
    if present != [k for k in FIELDS if k in aigc] and not any(f.code == "key_case" for f in findings):
        findings.append(info("key_order", "keys are not in Annex E order", site))

    # a shell: nothing but empty Annex E fields (another schema's keys make it a label, not a shell)
    empty = not unknown and all(v in ("", None) for v in aigc.values())
    if empty:
        findings.append(warning("empty_label", "every label field is empty: a label shell, possibly wiped", site))
        return LabelRecord(site, aigc, findings, form=form, empty=True)

    for key, value in aigc.items():
        if key == "Label":
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                findings.append(error("label_value", f"Label is {value!r}, not '1', '2' or '3'", site))
                continue
            if isinstance(value, int):
                findings.append(error("label_not_string", f"Label is the number {value}, not the string '{value}'", site))
                value = str(value)
            if value not in ("1", "2", "3"):
                findings.append(error("label_value", f"Label is {value!r}, not '1', '2' or '3'", site))
            continue
        if not isinstance(value, str):
            findings.append(error("value_type", f"{key} is a {type(value).__name__}, not a string", site))
            continue
        if key in MANDATORY and not value:
            findings.append(error("empty_field", f"{key} is mandatory and empty", site))
        bad = bad_value_chars(value)
        if bad:
            shown = "".join(bad[:8])
            findings.append(error("value_charset", f"{key} contains characters Annex E forbids: {shown!r}", site))
        elif key in ("ContentProducer", "ContentPropagator") and value:
            _, code_findings = parse_provider_code(value)
            findings.extend(Finding(f.code, f.severity, f"{key}: {f.message}", site) for f in code_findings)
    return LabelRecord(site, aigc, findings, form=form)
