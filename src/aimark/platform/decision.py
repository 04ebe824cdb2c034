"""The Article 6 decision (SPEC section 6): what a platform shows for an upload and which Label
it writes.

In this order::

    the metadata label says Label 1 (or 2, 3)      -> that Label, its notice
    else the uploader declares it AI-generated      -> Label "2", "possibly AI-generated"
    else an explicit label, a watermark, a C2PA     -> Label "3", "suspected AI-generated"
         trainedAlgorithmicMedia claim or another
         generation trace was found
    else                                            -> None: no notice, nothing written

Choices where SPEC is silent (documented in the README):

* A metadata label that says "2" or "3" (written upstream by another platform) keeps its
  value: the file's own label is the strongest evidence there is. Two labels that disagree
  decide for the strongest claim ("1" before "2" before "3"), with a ``conflict`` reason.
* A label shell with every field empty is not a label (a possible wipe); a label site whose
  Label is not 1, 2 or 3 ("AIGC", a number out of range) is a generation trace (case 3).
* Plain text has no metadata site; its explicit label is a trace (case 3), as for any media.
* A watermark whose payload belongs to another label is a ``conflict`` reason; it does not
  change the decision.
"""

from __future__ import annotations

from typing import Any

from .. import checks
from ..report import Decision, Reason, Report, Severity

NOTICES: dict[str, tuple[str, str]] = {
    "1": ("人工智能生成合成内容", "AI-generated content"),
    "2": ("可能为人工智能生成合成内容", "Possibly AI-generated content"),
    "3": ("疑似人工智能生成合成内容", "Suspected AI-generated content"),
}
_MEANING = {"1": "AI-generated", "2": "possibly AI-generated", "3": "suspected AI-generated"}
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def decide(report: Report, declared_ai: bool | None = None) -> Decision:
    """The decision for the file ``report`` describes (run verify with the content checks for
    case 3 evidence) and what the uploader declared (``None``: nothing)."""
    reasons: list[Reason] = []
    said: list[tuple[str, str]] = []  # (Label value, site)
    traces: list[Reason] = []
    for rec in report.labels:
        value = rec.aigc.get("Label")
        if rec.empty:
            reasons.append(Reason("empty_label", "a label with every field empty (possibly wiped) is not a label", rec.site))
        elif isinstance(value, str) and value in NOTICES:
            said.append((value, rec.site))
            msg = f"the metadata label says Label={value} ({_MEANING[value]})"
            if not rec.ok:
                codes = ", ".join(sorted({f.code for f in rec.findings if f.severity is Severity.ERROR}))
                msg += f"; the label does not conform ({codes})"
            reasons.append(Reason("metadata_label", msg, rec.site))
        else:
            traces.append(Reason("label_site", f"an AIGC label site whose Label is {value!r}, not 1, 2 or 3", rec.site))
    if len(report.labels) > 1:
        values = sorted({v for v, _ in said})
        detail = f" that disagree (Label {', '.join(values)})" if len(values) > 1 else ""
        reasons.append(Reason("conflict", f"{len(report.labels)} AIGC labels in one file{detail}; exactly one is allowed"))
    wm = report.watermark
    if wm is not None and wm.found:
        if wm.matches_label is False:
            reasons.append(
                Reason("conflict", f"the watermark payload {wm.payload} belongs to another label than the metadata label")
            )
        traces.append(Reason("watermark", f"an aimark watermark ({wm.method}, payload {wm.payload}, p <= {wm.p_value:.1e})"))
    ex = report.explicit
    if ex is not None and ex.found:
        traces.append(Reason("explicit_label", f"an explicit label {ex.text!r} at the {ex.position}"))
    claim = _c2pa_claim(report)
    if claim:
        traces.append(Reason("c2pa", f"a C2PA manifest declares digitalSourceType {claim}"))
    if declared_ai:
        reasons.append(Reason("declaration", "the uploader declares the content AI-generated"))
    if said:
        label = min(v for v, _ in said)
        reasons += traces
    elif declared_ai:
        label = "2"
        reasons += traces
    elif traces:
        label = "3"
        reasons += traces
    else:
        return Decision(None, None, None, reasons)
    notice, notice_en = NOTICES[label]
    return Decision(label, notice, notice_en, reasons)


def _c2pa_claim(report: Report) -> str | None:
    """The digital source type a C2PA check found, when it says trained algorithmic media."""
    section: Any = report.sections.get("c2pa")
    if section is None:
        return None
    data = section.to_dict() if hasattr(section, "to_dict") else section
    dst = data.get("digital_source_type") if isinstance(data, dict) else None
    return dst if isinstance(dst, str) and dst.endswith("trainedAlgorithmicMedia") else None


def _decision_check(ctx: checks.VerifyContext) -> None:
    ctx.report.add_section("decision", decide(ctx.report, ctx.options.declared_ai))


checks.register(checks.Check("decision", checks.DECISION, _decision_check, wanted=lambda o: o.decide))

__all__ = ["NOTICES", "TRAINED_ALGORITHMIC_MEDIA", "decide"]
