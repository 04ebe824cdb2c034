"""Findings, label records and reports: the data every journey returns.

The JSON shape (``Report.to_dict()``) is a public contract that platforms parse::

    {"path": ..., "format": ..., "media": ..., "verdict": ...,
     "labels": [{"site": ..., "form": ..., "aigc": {...}, "findings": [...]}],
     "findings": [{"code": ..., "severity": ..., "message": ..., "site": ...}],
     "explicit": {...}, "watermark": {...},     # when looked for
     ...}                                       # one key per section a verify check adds

Fields are only ever added, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How much a finding weighs in the verdict."""

    ERROR = "error"  # the file does not conform
    WARNING = "warning"  # worth a look; does not change the verdict by itself
    INFO = "info"  # context only


class Verdict(StrEnum):
    """SPEC section 8 verdicts, plus ``error`` when a file could not be examined at all."""

    COMPLIANT = "compliant"
    NONCOMPLIANT = "noncompliant"
    NOT_FOUND = "not_found"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    """One observation about a file or a label."""

    code: str
    severity: Severity
    message: str
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "site": self.site,
        }


def error(code: str, message: str, site: str | None = None) -> Finding:
    return Finding(code, Severity.ERROR, message, site)


def warning(code: str, message: str, site: str | None = None) -> Finding:
    return Finding(code, Severity.WARNING, message, site)


def info(code: str, message: str, site: str | None = None) -> Finding:
    return Finding(code, Severity.INFO, message, site)


@dataclass
class LabelRecord:
    """One AIGC label as found at one metadata site, with what was wrong with it."""

    site: str
    aigc: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)
    form: str = "inner"  # wrapped | inner | bare | unparsed
    empty: bool = False  # every field empty: a label shell, possibly wiped
    mirrors: list[str] = field(default_factory=list)  # sites holding an identical copy (known mirrors)

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "site": self.site,
            "form": self.form,
            "aigc": dict(self.aigc),
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.mirrors:
            out["mirrors"] = list(self.mirrors)
        return out


@dataclass
class WatermarkReport:
    """What a watermark detector found in the content (shared by every media type)."""

    method: str  # e.g. "text-vs1"
    found: bool
    payload: str | None = None  # 16 hex digits when found
    p_value: float = 1.0  # bound on the chance that unmarked content gives this result
    matches_label: bool | None = None  # payload == derive_payload(label); None without a label
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "found": self.found,
            "payload": self.payload,
            "p_value": self.p_value,
            "matches_label": self.matches_label,
            **self.detail,
        }


@dataclass
class ExplicitReport:
    """An explicit (human-perceivable) label found in the content, or not."""

    found: bool
    position: str | None = None  # start | end | middle
    text: str | None = None  # the label text as found
    positions: list[str] = field(default_factory=list)
    # what text recognition measured in a picture (images, video frames); None elsewhere
    box: tuple[int, int, int, int] | None = None  # left, top, right, bottom in displayed pixels
    glyph_height: float | None = None  # ink height as a share of the shortest side
    complete: bool | None = None  # the text holds both label elements (SPEC section 1)
    score: float | None = None  # the recogniser's confidence in the text
    frame_time: float | None = None  # video: presentation time (s) of the frame it was read in

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "found": self.found,
            "position": self.position,
            "text": self.text,
            "positions": list(self.positions),
        }
        for k in ("box", "glyph_height", "complete", "score", "frame_time"):
            v = getattr(self, k)
            if v is not None:
                out[k] = list(v) if k == "box" else v
        return out


@dataclass(frozen=True)
class Reason:
    """One piece of evidence behind a platform decision (SPEC section 6)."""

    evidence: str  # metadata_label | declaration | explicit_label | watermark | c2pa | label_site | conflict | ...
    message: str
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"evidence": self.evidence, "message": self.message, "site": self.site}


@dataclass
class Decision:
    """What a platform shows and writes for one upload (Measures Art. 6, SPEC section 6):
    ``label`` "1" (the metadata label says AI-generated), "2" (the uploader declares it), "3"
    (generation traces found) or None, with the notice to show and the reasons."""

    label: str | None
    notice: str | None
    notice_en: str | None
    reasons: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "notice": self.notice,
            "notice_en": self.notice_en,
            "reasons": [r.to_dict() for r in self.reasons],
        }


@dataclass
class Report:
    """The result of verifying one file."""

    path: str | None
    format: str | None
    labels: list[LabelRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True  # False when the container walk stopped early (corrupt/truncated)
    examined: bool = True  # False when the file could not be examined at all (verdict "error")
    metadata_site: bool = True  # False for formats with no metadata (plain text): see decide_verdict
    explicit: ExplicitReport | None = None  # present when explicit labels were looked for
    watermark: WatermarkReport | None = None  # present when a watermark was looked for
    media: str | None = None  # text | image | audio | video, decided per file
    #: what registered verify checks add, by key (``to_dict()`` gives each its own top-level key)
    sections: dict[str, Any] = field(default_factory=dict)

    def add_section(self, key: str, value: Any) -> None:
        """Attach a check's result: a value with ``to_dict()`` or plain JSON data."""
        if key in _CORE_KEYS:
            raise ValueError(f"{key!r} is a core report field")
        self.sections[key] = value

    @property
    def verdict(self) -> Verdict:
        """Derived from labels and findings every time (SPEC section 8, :func:`decide_verdict`)."""
        return decide_verdict(self)

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for rec in self.labels:
            out.extend(rec.findings)
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "format": self.format,
            "media": self.media,
            "verdict": self.verdict.value,
            "labels": [rec.to_dict() for rec in self.labels],
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.explicit is not None:
            out["explicit"] = self.explicit.to_dict()
        if self.watermark is not None:
            out["watermark"] = self.watermark.to_dict()
        for key, value in self.sections.items():
            out[key] = value.to_dict() if hasattr(value, "to_dict") else value
        return out


_CORE_KEYS = frozenset({"path", "format", "media", "verdict", "labels", "findings", "explicit", "watermark"})


def decide_verdict(report: Report) -> Verdict:
    """SPEC section 8, in this order:

    1. a file that could not be examined (unsupported, unreadable) -> ``error``;
    2. no label at any site -> ``not_found``, or ``inconclusive`` when the container walk
       stopped early (the label may sit in the part that could not be read);
    3. more than one label -> ``noncompliant`` (exactly one label per file);
    4. any error finding on the file or the label -> ``noncompliant``;
    5. the only label is an empty shell -> ``inconclusive`` (possible wipe);
    6. otherwise ``compliant``.

    A format with no metadata site (plain text) cannot carry the implicit label; there the
    explicit label is the label: found -> ``compliant``, absent -> ``not_found``.
    """
    if not report.examined:
        return Verdict.ERROR
    if not report.metadata_site and not report.labels:
        if any(f.severity is Severity.ERROR for f in report.findings):
            return Verdict.NONCOMPLIANT
        return Verdict.COMPLIANT if report.explicit is not None and report.explicit.found else Verdict.NOT_FOUND
    if not report.labels:
        return Verdict.NOT_FOUND if report.complete else Verdict.INCONCLUSIVE
    if len(report.labels) > 1:
        return Verdict.NONCOMPLIANT
    rec = report.labels[0]
    if rec.empty:
        return Verdict.INCONCLUSIVE
    if any(f.severity is Severity.ERROR for f in report.all_findings()):
        return Verdict.NONCOMPLIANT
    return Verdict.COMPLIANT
