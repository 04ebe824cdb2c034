"""aimark: label AI-generated content and verify those labels (GB 45438-2025, CAC Measures).

The public API::

    from aimark import AIGCLabel, label_file, verify
    label_file("in.jpg", "out.jpg", AIGCLabel("001191110102MACQD9K64010000", "req-42"))
    report = verify("out.jpg")
    report.verdict, report.to_dict()
"""

from __future__ import annotations

from pathlib import Path

# importing these registers their verify checks (C2PA, security data, the platform decision)
from . import c2pa, checks, media, platform, security
from .api import (
    ContentOptions,
    FinalStep,
    LabelResult,
    VerifyOptions,
    atomic_write,
    detect_format,
    error_report,
    label_bytes,
    label_file,
    read_labels,
    verify,
    verify_bytes,
)
from .containers import DEFAULT_LIMITS, Limits
from .errors import (
    AimarkError,
    CorruptFile,
    EncodeError,
    InputError,
    InvalidArgument,
    InvalidLabel,
    LimitExceeded,
    MissingDependency,
    OutputError,
    UnsafeContent,
    UnsupportedFormat,
)
from .label import FIELDS, AIGCLabel, LabelKind, ProviderCode, parse_label_text, parse_provider_code
from .platform import decide, moderate, propagate
from .report import Decision, ExplicitReport, Finding, LabelRecord, Reason, Report, Severity, Verdict, WatermarkReport

__version__ = "0.1.0"


def exiftool_config() -> Path:
    """Path of the bundled exiftool config that defines the TC260 namespace (XMP-TC260:AIGC)."""
    return Path(__file__).with_name("data") / "exiftool-tc260.config"


__all__ = [
    "DEFAULT_LIMITS",
    "FIELDS",
    "AIGCLabel",
    "AimarkError",
    "ContentOptions",
    "CorruptFile",
    "Decision",
    "EncodeError",
    "ExplicitReport",
    "FinalStep",
    "Finding",
    "InputError",
    "InvalidArgument",
    "InvalidLabel",
    "LabelKind",
    "LabelRecord",
    "LabelResult",
    "LimitExceeded",
    "Limits",
    "MissingDependency",
    "OutputError",
    "ProviderCode",
    "Reason",
    "Report",
    "Severity",
    "UnsafeContent",
    "UnsupportedFormat",
    "Verdict",
    "VerifyOptions",
    "WatermarkReport",
    "__version__",
    "atomic_write",
    "c2pa",
    "checks",
    "decide",
    "detect_format",
    "error_report",
    "exiftool_config",
    "label_bytes",
    "label_file",
    "media",
    "moderate",
    "parse_label_text",
    "parse_provider_code",
    "platform",
    "propagate",
    "read_labels",
    "security",
    "verify",
    "verify_bytes",
]
