"""The two journeys, label and verify, composed from the rooms below (DESIGN.md).

Label::

    bytes -> sniff -> [explicit label] -> [watermark] -> write the one metadata label
          -> [final step, e.g. C2PA signing: nothing is written after it] -> atomic write

Verify::

    bytes -> sniff -> read every metadata site -> parse + validate -> Report (verdict)

Inputs are memory-mapped read-only and never modified unless ``in_place=True``; outputs are
written to a temporary file beside the destination and renamed over it, so a failure never
leaves a partial file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import containers
from .containers import DEFAULT_LIMITS, Buffer, Carrier, Limits, Piece
from .errors import AimarkError, CorruptFile, InputError, LimitExceeded, OutputError
from .label import AIGCLabel, parse_label_text
from .report import LabelRecord, Report, error

#: A final step of the label journey (C2PA signing plugs in here): it receives the complete
#: labeled file and the carrier name and returns the bytes to write. Nothing runs after it.
FinalStep = Callable[[bytes, str], bytes]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LabelResult:
    """What ``label_file`` wrote."""

    path: str
    format: str
    label: AIGCLabel
    bytes_written: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "aigc": self.label.to_dict(),
            "bytes_written": self.bytes_written,
        }


# -- input -----------------------------------------------------------------------------------
@contextlib.contextmanager
def open_input(path: PathLike) -> Iterator[Buffer]:
    """Memory-map ``path`` read-only: only the pages a walker touches are read, so a multi-GB
    file costs no more memory than the metadata it holds. Empty files and non-files raise."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError("no such file", path=p) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=p) from None
    if not os.path.isfile(p):
        raise InputError("not a regular file", path=p)
    if st.st_size == 0:
        raise CorruptFile("empty file", path=p)
    try:
        f = open(p, "rb")  # noqa: SIM115 - closed below, after the map
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), path=p) from None
    try:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        f.close()
        raise InputError(f"cannot map file: {exc}", path=p) from None
    try:
        yield mm
    finally:
        with contextlib.suppress(BufferError):
            mm.close()
        f.close()


def _guard(fn: Callable[[], Any], carrier: Carrier) -> Any:
    """Turn a parser slip on hostile bytes into a typed error instead of a crash."""
    try:
        return fn()
    except AimarkError:
        raise
    except (struct.error, IndexError, ValueError, OverflowError, UnicodeError) as exc:
        raise CorruptFile(f"malformed {carrier.name}: {exc}") from None


# -- output ----------------------------------------------------------------------------------
def atomic_write(dst: PathLike, pieces: Sequence[Piece] | bytes, *, mode: int | None = None, fsync: bool = False) -> int:
    """Write pieces to ``dst`` through a temporary file and a rename. Returns bytes written."""
    d = os.fspath(dst)
    directory = os.path.dirname(os.path.abspath(d))
    if isinstance(pieces, (bytes, bytearray)):
        pieces = [pieces]
    try:
        fd, tmp = tempfile.mkstemp(prefix=".aimark-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot create a file in {directory}: {exc.strerror}", path=d) from None
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                out.write(piece)
                written += len(piece)
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        if mode is not None:
            os.chmod(tmp, mode & 0o777)
        os.replace(tmp, d)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(exc.strerror or str(exc), path=d) from None
        raise
    return written


# -- the label journey -----------------------------------------------------------------------
def label_pieces(
    buf: Buffer,
    label: AIGCLabel,
    *,
    limits: Limits = DEFAULT_LIMITS,
    strict_codes: bool = True,
) -> tuple[Carrier, list[Piece]]:
    """Sniff ``buf`` and return its carrier and the pieces of the labeled file."""
    label.check(strict_codes=strict_codes)
    carrier = containers.sniff_buffer(buf)
    # explicit label and watermark steps (media packages) plug in before the metadata label
    pieces = _guard(lambda: carrier.write(buf, label, limits), carrier)
    return carrier, pieces


def label_bytes(
    data: bytes,
    label: AIGCLabel,
    *,
    limits: Limits = DEFAULT_LIMITS,
    strict_codes: bool = True,
    final_step: FinalStep | None = None,
) -> bytes:
    """Label in memory: the bytes of ``data`` with exactly one AIGC metadata label."""
    if not data:
        raise CorruptFile("empty input")
    carrier, pieces = label_pieces(data, label, limits=limits, strict_codes=strict_codes)
    out = b"".join(pieces)
    return final_step(out, carrier.name) if final_step else out


def label_file(
    src: PathLike,
    dst: PathLike | None,
    label: AIGCLabel,
    *,
    in_place: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    strict_codes: bool = True,
    final_step: FinalStep | None = None,
    fsync: bool = False,
) -> LabelResult:
    """Write ``src`` with exactly one AIGC metadata label to ``dst`` (or over ``src`` when
    ``in_place``). The input is never modified otherwise; the output appears atomically."""
    s = os.fspath(src)
    if in_place:
        if dst is not None and not _same(s, os.fspath(dst)):
            raise OutputError("--in-place writes over the input; do not also give another output")
        d = s
    else:
        if dst is None:
            raise OutputError("no output path given (use in_place=True to overwrite the input)")
        d = os.fspath(dst)
        if _same(s, d):
            raise OutputError("output is the input; pass in_place=True to overwrite it", path=d)
        if os.path.isdir(d):
            raise OutputError("output is a directory", path=d)
    with open_input(s) as buf:
        try:
            carrier, pieces = label_pieces(buf, label, limits=limits, strict_codes=strict_codes)
        except AimarkError as exc:
            exc.path = exc.path or s
            raise
        mode = os.stat(s).st_mode
        if final_step is not None:
            data = final_step(b"".join(pieces), carrier.name)
            pieces = [data]
        try:
            n = atomic_write(d, pieces, mode=mode, fsync=fsync)
        finally:
            pieces.clear()
    return LabelResult(d, carrier.name, label, n)


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


# -- the verify journey ----------------------------------------------------------------------
def _verify_buffer(buf: Buffer, path: str | None, limits: Limits) -> Report:
    carrier = containers.sniff_buffer(buf)
    try:
        res = _guard(lambda: carrier.read(buf, limits), carrier)
    except (CorruptFile, LimitExceeded) as exc:
        return Report(path, carrier.name, [], [error("corrupt_container", exc.message, carrier.name)], complete=False)
    records = [parse_label_text(raw.text, raw.site) for raw in res.labels]
    findings = list(res.findings)
    if len(records) > 1:
        sites = ", ".join(r.site for r in records)
        findings.append(error("duplicate_label", f"{len(records)} AIGC labels in one file ({sites}); exactly one is allowed"))
        if len({repr(sorted(r.aigc.items())) for r in records}) > 1:
            findings.append(error("labels_disagree", "the labels in this file do not agree"))
    return Report(path, carrier.name, records, findings, complete=res.complete)


def verify(path: PathLike, *, limits: Limits = DEFAULT_LIMITS) -> Report:
    """Read every metadata site of one file and judge its label (SPEC section 8).

    Raises :class:`~aimark.errors.UnsupportedFormat`, :class:`~aimark.errors.InputError` or
    :class:`~aimark.errors.CorruptFile` (empty file) when the file cannot be examined at all;
    damage inside a known container is reported as findings instead.
    """
    p = os.fspath(path)
    with open_input(p) as buf:
        try:
            return _verify_buffer(buf, p, limits)
        except AimarkError as exc:
            exc.path = exc.path or p
            raise


def verify_bytes(data: bytes, *, path: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Report:
    """:func:`verify` for bytes already in memory (an upload)."""
    if not data:
        raise CorruptFile("empty input", path=path)
    return _verify_buffer(data, path, limits)


def read_labels(path: PathLike, *, limits: Limits = DEFAULT_LIMITS) -> list[LabelRecord]:
    """Every AIGC label in the file, parsed leniently, with its findings."""
    return verify(path, limits=limits).labels


def error_report(path: str | None, exc: AimarkError) -> Report:
    """The report of a file that could not be examined (verdict ``error``)."""
    return Report(path, None, [], [error(exc.code, exc.message)], complete=False, examined=False)


def detect_format(path: PathLike) -> str:
    """The carrier name aimark sniffs for ``path`` (by content)."""
    with open_input(path) as buf:
        return containers.sniff_buffer(buf).name


__all__ = [
    "FinalStep",
    "LabelResult",
    "atomic_write",
    "detect_format",
    "error_report",
    "label_bytes",
    "label_file",
    "label_pieces",
    "open_input",
    "read_labels",
    "verify",
    "verify_bytes",
]
