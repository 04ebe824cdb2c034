"""The moderation hook: the one call a platform makes on every upload.

::

    from aimark.platform import moderate

    result = moderate(upload_bytes, filename="cat.jpg", declared_ai=form.declared_ai,
                      propagate_as=("001191440300708461136T1XGW3", f"upload-{upload_id}"))
    show(result.decision.notice)            # None: no notice
    store(result.data or upload_bytes)      # the propagated file when a label was written

Bytes or a path in; the report, the decision and, when ``propagate_as`` is given and the
decision is not None, the propagated file's bytes out. It never raises for a file it cannot
examine: the report's verdict is then ``error`` and the decision None. Recipes (README,
*Platforms*): a FastAPI dependency and a Celery task.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..api import PathLike, error_report, verify_bytes
from ..checks import VerifyOptions
from ..containers import DEFAULT_LIMITS, Limits
from ..errors import AimarkError, InputError, LimitExceeded
from ..report import Decision, Report
from ..watermark import Key
from .decision import decide
from .propagate import propagated_label

#: an upload larger than this is refused by :func:`moderate` when given as a path
MAX_UPLOAD = 4 << 30


@dataclass(frozen=True)
class Moderation:
    """The result of :func:`moderate`."""

    report: Report
    decision: Decision
    data: bytes | None = None  # the propagated file, when a label was written

    def to_dict(self) -> dict[str, Any]:
        return {**self.report.to_dict(), "decision": self.decision.to_dict(), "propagated": self.data is not None}


def moderate(
    upload: bytes | PathLike,
    *,
    filename: str | None = None,
    declared_ai: bool | None = None,
    propagate_as: tuple[str, str] | None = None,
    key: Key = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Moderation:
    """Verify one upload, decide (SPEC section 6) and, with ``propagate_as`` = (propagator
    code, propagate id), write the propagated label. ``filename`` names the upload in the
    report and lets its extension tell text formats apart."""
    data: bytes
    try:
        if isinstance(upload, (bytes, bytearray, memoryview)):
            data = bytes(upload)
        else:
            path = os.fspath(upload)
            filename = filename or path
            data = _read(path)
        report = verify_bytes(data, path=filename, limits=limits, options=VerifyOptions(key=key))
    except AimarkError as exc:
        exc.path = exc.path or filename
        report = error_report(filename, exc)
        return Moderation(report, decide(report, declared_ai))
    decision = decide(report, declared_ai)
    out = None
    if propagate_as is not None and decision.label is not None:
        from ..api import label_bytes

        new = propagated_label(report, decision, *propagate_as)
        assert new is not None
        out = label_bytes(data, new, limits=limits, strict_codes=False, filename=filename)
    return Moderation(report, decision, out)


def _read(path: str) -> bytes:
    try:
        size = os.path.getsize(path)
        if size > MAX_UPLOAD:
            raise LimitExceeded(f"upload of {size} bytes exceeds {MAX_UPLOAD}", path=path)
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=path) from None


__all__ = ["MAX_UPLOAD", "Moderation", "moderate"]
