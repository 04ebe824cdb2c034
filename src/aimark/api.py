"""The two journeys, label and verify, composed from the rooms below (DESIGN.md).

Label::

    bytes -> sniff -> [explicit label] -> [watermark] -> write the one metadata label
          -> [final step, e.g. C2PA signing: nothing is written after it] -> atomic write

Verify::

    bytes -> sniff -> the chain of registered checks (aimark.checks): metadata sites and
          label validation, then security data, C2PA, watermark, explicit label, decision
          -> Report (verdict)

The media of each file is decided per file and its package (aimark.media) does the content
work: this module never branches on a media or a format.

Inputs are memory-mapped read-only and never modified unless ``in_place=True``; outputs are
written to a temporary file beside the destination and renamed over it, so a failure never
leaves a partial file.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import checks, containers
from . import media as media_registry
from .checks import DEFAULT_VERIFY, VerifyOptions
from .containers import DEFAULT_LIMITS, Buffer, Carrier, Limits, Piece
from .errors import AimarkError, CorruptFile, InputError, InvalidArgument, OutputError, UnsupportedFormat, guard
from .label import AIGCLabel
from .media import ContentOptions, ContentStep
from .report import LabelRecord, Report, error

#: A final step of the label journey, the simple form: it receives the complete labeled file
#: and the carrier name and returns the bytes to write. Nothing runs after it.
FinalStep = Callable[[bytes, str], bytes]


@dataclass(frozen=True)
class FinalInput:
    """What a ``finish`` step (C2PA signing) receives: the complete labeled file and what it is."""

    data: bytes
    format: str  # the fine format name (jpeg, m4a, mp4, docx, ...)
    carrier: str
    media: str
    label: AIGCLabel
    watermark: str | None  # the embedded watermark payload (hex), if any
    name: str | None  # the output path


@dataclass(frozen=True)
class FinalOutput:
    """What a ``finish`` step gives back: the bytes to write and, for formats that cannot
    embed it, a sidecar written beside the output as ``<name without extension><suffix>``."""

    data: bytes
    sidecar: bytes | None = None
    sidecar_suffix: str = ".c2pa"


#: the full form of the last step: nothing changes a byte after it
Finisher = Callable[[FinalInput], FinalOutput]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class LabelResult:
    """What ``label_file`` wrote."""

    path: str
    format: str
    label: AIGCLabel
    bytes_written: int
    metadata: bool = True  # False: the format has no metadata site (plain text), only content labels
    explicit: bool = False  # an explicit label was added
    watermark: str | None = None  # the embedded watermark payload (hex)
    media: str | None = None  # the media of the file (text, image, audio, video)
    placement: str | None = None  # where the explicit label went (start/end/..., an image's position)
    sidecar: str | None = None  # the sidecar a finish step wrote beside the output (a C2PA manifest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "media": self.media,
            "aigc": self.label.to_dict() if self.metadata else None,
            "bytes_written": self.bytes_written,
            "explicit": self.explicit,
            "placement": self.placement,
            "watermark": self.watermark,
            "sidecar": self.sidecar,
        }


def _ext(path: str | None) -> str | None:
    return os.path.splitext(path)[1].lower() if path else None


def media_of(carrier: Carrier, buf: Buffer, limits: Limits) -> str:
    """The media of one file (an MP4 is video or audio): never raises; a structure too broken
    to tell falls back to the carrier's usual media (its reader reports the damage)."""
    try:
        return guard(lambda: carrier.media_for(buf, limits), carrier.name)
    except AimarkError:
        return carrier.media


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
@dataclass(frozen=True)
class _Labeled:
    carrier: Carrier
    media: str
    pieces: list[Piece]
    step: ContentStep | None  # the resolved content step, when the content was changed


def _label(
    buf: Buffer, label: AIGCLabel, limits: Limits, strict_codes: bool, content: ContentOptions | None, ext: str | None
) -> _Labeled:
    label.check(strict_codes=strict_codes)
    carrier = containers.sniff_buffer(buf, ext)
    media = media_of(carrier, buf, limits)
    step = None
    if content is not None and content.wanted:
        spec = media_registry.require(media)
        step = spec.resolve(content, label)
        package = spec.load()
        changed = guard(lambda: package.apply(carrier, buf, step, limits), carrier.name)
        # bytes, or for video a read-only map of a temporary file (never copied into memory)
        buf = changed if isinstance(changed, (bytes, mmap.mmap)) else bytes(changed)
    elif not carrier.metadata:
        raise UnsupportedFormat(
            f"{carrier.name} has no metadata site: ask for an explicit label and/or a watermark (--explicit, --watermark)"
        )
    if not carrier.metadata:
        return _Labeled(carrier, media, [buf], step)
    pieces = guard(lambda: carrier.write(buf, label, limits), carrier.name)
    return _Labeled(carrier, media, pieces, step)


def label_pieces(
    buf: Buffer,
    label: AIGCLabel,
    *,
    limits: Limits = DEFAULT_LIMITS,
    strict_codes: bool = True,
    content: ContentOptions | None = None,
    ext: str | None = None,
) -> tuple[Carrier, list[Piece]]:
    """Sniff ``buf`` and return its carrier and the pieces of the labeled file: the content
    step (explicit label, watermark; the media package's ``apply``) first, then the one
    metadata label."""
    done = _label(buf, label, limits, strict_codes, content, ext)
    return done.carrier, done.pieces


def label_bytes(
    data: bytes,
    label: AIGCLabel,
    *,
    limits: Limits = DEFAULT_LIMITS,
    strict_codes: bool = True,
    final_step: FinalStep | None = None,
    content: ContentOptions | None = None,
    filename: str | None = None,
) -> bytes:
    """Label in memory: the bytes of ``data`` with exactly one AIGC metadata label
    (``filename`` only helps tell text formats apart: .txt vs .md)."""
    if not data:
        raise CorruptFile("empty input")
    done = _label(data, label, limits, strict_codes, content, _ext(filename))
    out = b"".join(done.pieces)
    return final_step(out, done.carrier.name) if final_step else out


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
    content: ContentOptions | None = None,
    finish: Finisher | None = None,
) -> LabelResult:
    """Write ``src`` with exactly one AIGC metadata label to ``dst`` (or over ``src`` when
    ``in_place``). The input is never modified otherwise; the output appears atomically.
    ``finish`` (e.g. :func:`aimark.c2pa.signing_step`) runs last on the complete file; a
    sidecar it returns is written beside the output, atomically too."""
    if final_step is not None and finish is not None:
        raise InvalidArgument("give final_step or finish, not both")
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
            done = _label(buf, label, limits, strict_codes, content, _ext(s))
        except AimarkError as exc:
            exc.path = exc.path or s
            raise
        pieces = done.pieces
        mode = os.stat(s).st_mode
        sidecar: tuple[str, bytes] | None = None
        step = done.step
        if final_step is not None:
            pieces = [final_step(b"".join(pieces), done.carrier.name)]
        elif finish is not None:
            data = b"".join(pieces)
            fine = guard(lambda: done.carrier.read(data, limits).format, done.carrier.name) or done.carrier.name
            wm = step.payload.hex() if step and step.payload is not None else None
            out = finish(FinalInput(data, fine, done.carrier.name, done.media, label, wm, d))
            pieces = [out.data]
            if out.sidecar is not None:
                sidecar = (os.path.splitext(d)[0] + out.sidecar_suffix, out.sidecar)
        try:
            if sidecar is not None:
                atomic_write(sidecar[0], sidecar[1], fsync=fsync)
            try:
                n = atomic_write(d, pieces, mode=mode, fsync=fsync)
            except BaseException:
                if sidecar is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(sidecar[0])
                raise
        finally:
            pieces.clear()
    return LabelResult(
        d,
        done.carrier.name,
        label,
        n,
        metadata=done.carrier.metadata,
        explicit=bool(step and step.explicit),
        watermark=step.payload.hex() if step and step.payload is not None else None,
        media=done.media,
        placement=step.placement if step and step.explicit else None,
        sidecar=sidecar[0] if sidecar else None,
    )


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


# -- the verify journey ----------------------------------------------------------------------
def _verify_buffer(buf: Buffer, path: str | None, limits: Limits, options: VerifyOptions = DEFAULT_VERIFY) -> Report:
    carrier = containers.sniff_buffer(buf, _ext(path))
    media = media_of(carrier, buf, limits)
    report = Report(path, carrier.name, media=media)
    return checks.run(checks.VerifyContext(buf, path, carrier, media, limits, options, report))


def verify(path: PathLike, *, limits: Limits = DEFAULT_LIMITS, options: VerifyOptions = DEFAULT_VERIFY) -> Report:
    """Run the verify chain on one file (:mod:`aimark.checks`): every metadata site read and
    its label judged (SPEC section 8), then the content checks the options ask for.

    Raises :class:`~aimark.errors.UnsupportedFormat`, :class:`~aimark.errors.InputError` or
    :class:`~aimark.errors.CorruptFile` (empty file) when the file cannot be examined at all;
    damage inside a known container is reported as findings instead.
    """
    p = os.fspath(path)
    with open_input(p) as buf:
        try:
            return _verify_buffer(buf, p, limits, options)
        except AimarkError as exc:
            exc.path = exc.path or p
            raise


def verify_bytes(
    data: bytes, *, path: str | None = None, limits: Limits = DEFAULT_LIMITS, options: VerifyOptions = DEFAULT_VERIFY
) -> Report:
    """:func:`verify` for bytes already in memory (an upload); ``path`` names it in the report
    and its extension tells text formats apart."""
    if not data:
        raise CorruptFile("empty input", path=path)
    return _verify_buffer(data, path, limits, options)


def read_labels(path: PathLike, *, limits: Limits = DEFAULT_LIMITS) -> list[LabelRecord]:
    """Every AIGC label in the file, parsed leniently, with its findings (metadata only: the
    content is not decoded)."""
    return verify(path, limits=limits, options=checks.METADATA_ONLY).labels


def error_report(path: str | None, exc: AimarkError) -> Report:
    """The report of a file that could not be examined (verdict ``error``)."""
    return Report(path, None, [], [error(exc.code, exc.message)], complete=False, examined=False)


def detect_format(path: PathLike) -> str:
    """The carrier name aimark sniffs for ``path`` (by content)."""
    with open_input(path) as buf:
        return containers.sniff_buffer(buf, _ext(os.fspath(path))).name


__all__ = [
    "DEFAULT_VERIFY",
    "ContentOptions",
    "FinalInput",
    "FinalOutput",
    "FinalStep",
    "Finisher",
    "LabelResult",
    "VerifyOptions",
    "atomic_write",
    "detect_format",
    "error_report",
    "label_bytes",
    "label_file",
    "label_pieces",
    "media_of",
    "open_input",
    "read_labels",
    "verify",
    "verify_bytes",
]
