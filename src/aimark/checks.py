"""Verify as an ordered chain of registered checks, each adding to one :class:`~aimark.report.Report`.

The chain (DESIGN.md, the verify journey), by stage::

    METADATA  100  read every metadata site, parse and validate the labels    (built in)
    SECURITY  200  ReservedCode security data                                  (slot)
    C2PA      300  C2PA manifest                                               (slot)
    WATERMARK 400  the media package's inspect: watermark and explicit label   (built in)
    EXPLICIT  500  explicit-label evidence beyond the media package (e.g. OCR) (slot)
    DECISION  900  the platform decision                                       (slot)

A check is a :class:`Check` given to :func:`register`; it receives a :class:`VerifyContext`
and adds findings and fields to ``ctx.report`` (a new top-level key goes through
``report.add_section``). Checks run in (stage, name) order. A check whose optional dependency
is missing -- its ``requires`` modules are not installed, or it raises
:class:`~aimark.errors.MissingDependency` -- adds one ``info`` finding naming the extra and the
chain goes on. A check sets ``ctx.stop`` when the file cannot be examined further.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import media as media_registry
from .containers import Buffer, Carrier, Limits, ReadResult
from .containers.base import RawLabel
from .errors import AimarkError, CorruptFile, LimitExceeded, MissingDependency, guard
from .label import parse_label_text
from .report import Finding, LabelRecord, Report, WatermarkReport, error, info, warning
from .watermark import Key, payload_for

METADATA, SECURITY, C2PA, WATERMARK, EXPLICIT, DECISION = 100, 200, 300, 400, 500, 900


@dataclass(frozen=True)
class VerifyOptions:
    """``watermark``: look for a watermark (default yes); ``key``: the watermark key (default:
    the public key); ``explicit``: look for an explicit label (default yes); ``decide``: add
    the platform decision (SPEC section 6) with ``declared_ai``, what the uploader declared
    (None: nothing declared); ``security``/``trusted_keys``: check the ReservedCode security
    data, with pinned keys for identity; ``c2pa``/``trust_anchors``: validate a C2PA manifest;
    ``settings``: options of registered checks, by whatever names they document."""

    watermark: bool = True
    key: Key = None
    explicit: bool = True
    decide: bool = False
    declared_ai: bool | None = None
    security: bool = True  # check ReservedCode1/2 security data
    trusted_keys: Mapping[str, bytes] = field(default_factory=dict)  # pinned public keys (name -> raw)
    c2pa: bool = True  # read and validate a C2PA manifest (embedded or a sidecar)
    trust_anchors: str | None = None  # PEM root certificates for C2PA trust
    settings: Mapping[str, Any] = field(default_factory=dict)


DEFAULT_VERIFY = VerifyOptions()
#: metadata labels and their security data only: no content is decoded or hashed (no C2PA)
METADATA_ONLY = VerifyOptions(watermark=False, explicit=False, c2pa=False)


@dataclass
class VerifyContext:
    """What a check sees: the file, its carrier and media, the options and the report so far."""

    buf: Buffer
    path: str | None
    carrier: Carrier
    media: str
    limits: Limits
    options: VerifyOptions
    report: Report
    read: ReadResult | None = None  # what the metadata check's container reader found
    stop: bool = False  # set by a check when nothing after it can run


def _always(_: VerifyOptions) -> bool:
    return True


@dataclass(frozen=True)
class Check:
    """One step of verify. ``wanted``: whether the options ask for it; ``requires``: top-level
    modules it needs, from the pip ``extra``; ``skipped``: the finding code when they are
    missing (default ``<name>_skipped``)."""

    name: str
    stage: int
    run: Callable[[VerifyContext], None]
    wanted: Callable[[VerifyOptions], bool] = _always
    requires: tuple[str, ...] = ()
    extra: str | None = None
    skipped: str | None = None

    def missing(self) -> str | None:
        return media_registry.first_missing(self.requires)


_CHECKS: dict[str, Check] = {}


def register(check: Check) -> Check:
    """Add (or replace, by name) a check of the verify chain."""
    _CHECKS[check.name] = check
    return check


def unregister(name: str) -> None:
    _CHECKS.pop(name, None)


def chain() -> list[Check]:
    """The registered checks in the order they run."""
    return sorted(_CHECKS.values(), key=lambda c: (c.stage, c.name))


def run(ctx: VerifyContext) -> Report:
    """Run every wanted check on ``ctx`` in order; returns ``ctx.report``."""
    for check in chain():
        if ctx.stop:
            break
        if not check.wanted(ctx.options):
            continue
        code = check.skipped or f"{check.name}_skipped"
        gone = check.missing()
        if gone is not None:
            hint = f"pip install 'aimark[{check.extra}]'" if check.extra else "an optional dependency"
            ctx.report.findings.append(info(code, f"the {check.name} check needs {gone} ({hint})"))
            continue
        try:
            check.run(ctx)
        except MissingDependency as exc:
            ctx.report.findings.append(info(code, exc.message))
    return ctx.report


# -- METADATA: every site, parsed and validated ------------------------------------------------
def _metadata(ctx: VerifyContext) -> None:
    carrier, report = ctx.carrier, ctx.report
    try:
        res = guard(lambda: carrier.read(ctx.buf, ctx.limits), carrier.name)
    except (CorruptFile, LimitExceeded) as exc:
        report.findings.append(error("corrupt_container", exc.message, carrier.name))
        report.complete = False
        ctx.stop = True
        return
    ctx.read = res
    records = [parse_label_text(raw.text, raw.site, max_len=ctx.limits.max_label_text) for raw in res.labels]
    findings = list(res.findings)
    records = _fold_mirrors(res.labels, records, findings)
    if len(records) > 1:
        sites = ", ".join(r.site for r in records)
        findings.append(error("duplicate_label", f"{len(records)} AIGC labels in one file ({sites}); exactly one is allowed"))
        if len({repr(sorted(r.aigc.items())) for r in records}) > 1:
            findings.append(error("labels_disagree", "the labels in this file do not agree"))
    report.format = res.format or carrier.name
    report.labels.extend(records)
    report.findings.extend(findings)
    report.complete = res.complete
    report.metadata_site = carrier.metadata


def _fold_mirrors(raws: list[RawLabel], records: list[LabelRecord], findings: list[Finding]) -> list[LabelRecord]:
    """One label stored at its site and, identically, at known mirror sites counts once (with a
    ``label_mirrored`` warning); copies that differ stay separate labels (``duplicate_label``)."""
    primary = [rec for raw, rec in zip(raws, records, strict=True) if not raw.mirror]
    mirrors = [rec for raw, rec in zip(raws, records, strict=True) if raw.mirror]
    if len(primary) != 1 or not mirrors or any(m.aigc != primary[0].aigc or m.form == "unparsed" for m in mirrors):
        return records
    label = primary[0]
    label.mirrors = [m.site for m in mirrors]
    sites = ", ".join(label.mirrors)
    what = f"the label is also stored, identically, at {sites} (a known mirror site)"
    findings.append(warning("label_mirrored", what, label.site))
    return [label]


# -- WATERMARK (and the media package's explicit label) ---------------------------------------
def expected_payload(report: Report, key: Key) -> bytes | None:
    """The payload a watermark should carry if it belongs to the file's one metadata label."""
    if len(report.labels) == 1:
        aigc = report.labels[0].aigc
        cp, pid = aigc.get("ContentProducer"), aigc.get("ProduceID")
        if isinstance(cp, str) and isinstance(pid, str) and cp and pid:
            return payload_for(cp, pid, key)
    return None


def _content(ctx: VerifyContext) -> None:
    media = media_registry.get(ctx.media)
    if media is None:
        what = f"aimark does not look for watermarks or explicit labels in {ctx.media} yet"
        ctx.report.findings.append(info("content_not_checked", what))
        return
    package = media.load("watermark and explicit-label detection")
    opts = ctx.options
    probe = media_registry.Probe(
        explicit=opts.explicit,
        watermark=opts.watermark,
        key=opts.key,
        expected=expected_payload(ctx.report, opts.key),
        read=ctx.read,
        settings=opts.settings,
    )
    try:
        found, wm = guard(lambda: package.inspect(ctx.carrier, ctx.buf, probe, ctx.limits), ctx.carrier.name)
    except MissingDependency:
        raise
    except AimarkError as exc:
        ctx.report.findings.append(warning("content_unreadable", f"{media.unreadable}: {exc.message}"))
        return
    except Exception as exc:  # a decoder (PyAV, Pillow) failing on hostile content in its own way
        ctx.report.findings.append(warning("content_unreadable", f"{media.unreadable}: {type(exc).__name__}"))
        return
    if opts.explicit and found is not None:
        ctx.report.explicit = found
    elif opts.explicit and media.explicit_needs:
        what = f"the visible label was not looked for: reading it in {media.name} needs {media.explicit_needs}"
        ctx.report.findings.append(info("explicit_not_checked", what))
    watermark_findings(ctx.report, wm if opts.watermark else None)


def watermark_findings(report: Report, wm: WatermarkReport | None) -> None:
    """Attach ``wm`` and say how it relates to the metadata label."""
    report.watermark = wm
    if wm is not None and wm.found:
        if wm.matches_label is False:
            report.findings.append(warning("watermark_mismatch", "the watermark payload does not match the metadata label"))
        elif wm.matches_label is None and not report.labels:
            report.findings.append(info("watermark_only", "a watermark was found but no metadata label (SPEC section 6 case 3)"))


register(Check("metadata", METADATA, _metadata))
register(
    Check(
        "watermark",
        WATERMARK,
        _content,
        wanted=lambda o: o.watermark or o.explicit,
        skipped="watermark_skipped",
    )
)

__all__ = [
    "C2PA",
    "DECISION",
    "DEFAULT_VERIFY",
    "EXPLICIT",
    "METADATA",
    "METADATA_ONLY",
    "SECURITY",
    "WATERMARK",
    "Check",
    "VerifyContext",
    "VerifyOptions",
    "chain",
    "expected_payload",
    "register",
    "run",
    "unregister",
    "watermark_findings",
]
