"""Propagation (SPEC section 6): a platform writes the decided ``Label``, its own
``ContentPropagator`` and ``PropagateID`` into the file's single label, keeping the producer's
fields and ``ReservedCode1``. Metadata only: the content is never re-encoded.

* A file whose decision is None (no label, no evidence, no declaration) is left alone.
* A file without a label gets one only when the decision is "2" or "3". Nobody upstream named
  a producer then, so ``ContentProducer``/``ProduceID`` default to the platform's own code and
  ``PropagateID`` (the first provider that labeled the content), unless the platform passes
  what it knows (``producer``/``produce_id``, e.g. from the uploader's declaration).
* A file with several labels gets one (the one the decision came from, updated).
* ``ReservedCode2`` is the propagator's integrity data: the old one (the previous propagator's)
  no longer matches the new fields, so it is replaced by ``reserved_code2`` (default empty).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..api import PathLike, label_bytes, label_file, verify, verify_bytes
from ..checks import VerifyOptions
from ..containers import DEFAULT_LIMITS, Limits
from ..errors import InvalidLabel
from ..label import AIGCLabel, LabelKind, parse_provider_code
from ..report import Decision, Report, Severity
from ..security import SigningKey, sign_label
from ..watermark import Key
from .decision import decide


@dataclass(frozen=True)
class Propagation:
    """What :func:`propagate` decided and wrote (``label`` None and ``written`` False when the
    file was left alone)."""

    report: Report
    decision: Decision
    label: AIGCLabel | None
    written: bool
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "written": self.written,
            "decision": self.decision.to_dict(),
            "aigc": self.label.to_dict() if self.label is not None else None,
            "source": self.report.to_dict(),
        }


def propagated_label(
    report: Report,
    decision: Decision,
    propagator: str,
    propagate_id: str,
    *,
    producer: str | None = None,
    produce_id: str | None = None,
    reserved_code2: str = "",
) -> AIGCLabel | None:
    """The label to write for ``decision`` (None: leave the file alone)."""
    if decision.label is None:
        return None
    _, problems = parse_provider_code(propagator)
    errors = [f.message for f in problems if f.severity is Severity.ERROR]
    if errors:
        raise InvalidLabel(f"ContentPropagator: {'; '.join(errors)}")
    base = _source_label(report, decision.label)
    if base is None:
        base = AIGCLabel(producer or propagator, produce_id or propagate_id)
    return base.with_propagation(propagator, propagate_id, label=LabelKind(decision.label), reserved_code2=reserved_code2)


def _source_label(report: Report, value: str) -> AIGCLabel | None:
    """The producer's fields from the label the decision came from (first match)."""
    usable = [r for r in report.labels if not r.empty and r.aigc.get("Label") in ("1", "2", "3")]
    chosen = next((r for r in usable if r.aigc.get("Label") == value), usable[0] if usable else None)
    if chosen is None:
        return None
    fields = {k: v for k, v in chosen.aigc.items() if isinstance(v, str)}
    if not fields.get("ContentProducer") or not fields.get("ProduceID"):
        return None
    return AIGCLabel.from_fields(fields)


def propagate(
    src: PathLike,
    dst: PathLike | None,
    propagator: str,
    propagate_id: str,
    declared_ai: bool | None = None,
    *,
    producer: str | None = None,
    produce_id: str | None = None,
    reserved_code2: str = "",
    in_place: bool = False,
    key: Key = None,
    limits: Limits = DEFAULT_LIMITS,
    security_key: SigningKey | None = None,
) -> Propagation:
    """Verify ``src`` (metadata, watermark, explicit label), decide, and write the propagated
    label to ``dst`` (atomically; the input is untouched unless ``in_place``). Nothing is
    written when the decision is None. ``security_key``: the platform's key, whose security
    data over the propagator's fields goes into ReservedCode2."""
    report = verify(src, limits=limits, options=VerifyOptions(key=key))
    decision = decide(report, declared_ai)
    new = propagated_label(
        report, decision, propagator, propagate_id, producer=producer, produce_id=produce_id, reserved_code2=reserved_code2
    )
    if new is None:
        return Propagation(report, decision, None, False, None)
    if security_key is not None:
        new = sign_label(new, security_key, "ReservedCode2")
    res = label_file(src, dst, new, in_place=in_place, limits=limits, strict_codes=False)
    return Propagation(report, decision, new, True, os.fspath(res.path))


def propagate_bytes(
    data: bytes,
    propagator: str,
    propagate_id: str,
    declared_ai: bool | None = None,
    *,
    filename: str | None = None,
    producer: str | None = None,
    produce_id: str | None = None,
    reserved_code2: str = "",
    key: Key = None,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[Propagation, bytes | None]:
    """:func:`propagate` in memory: the propagation and the labeled bytes (None when nothing
    is written)."""
    report = verify_bytes(data, path=filename, limits=limits, options=VerifyOptions(key=key))
    decision = decide(report, declared_ai)
    new = propagated_label(
        report, decision, propagator, propagate_id, producer=producer, produce_id=produce_id, reserved_code2=reserved_code2
    )
    if new is None:
        return Propagation(report, decision, None, False, filename), None
    out = label_bytes(data, new, limits=limits, strict_codes=False, filename=filename)
    return Propagation(report, decision, new, True, filename), out


__all__ = ["Propagation", "propagate", "propagate_bytes", "propagated_label"]
