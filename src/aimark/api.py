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
from .errors import AimarkError, CorruptFile, InputError, LimitExceeded, OutputError, UnsupportedFormat
from .label import AIGCLabel, parse_label_text
from .report import ExplicitReport, LabelRecord, Report, WatermarkReport, error, info, warning
from .watermark import Key, derive_payload, normalize_payload, payload_for

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
    metadata: bool = True  # False: the format has no metadata site (plain text), only content labels
    explicit: bool = False  # an explicit label was added
    watermark: str | None = None  # the embedded watermark payload (hex)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "aigc": self.label.to_dict() if self.metadata else None,
            "bytes_written": self.bytes_written,
            "explicit": self.explicit,
            "watermark": self.watermark,
        }


@dataclass(frozen=True)
class ContentOptions:
    """What to do to the content itself before the metadata label is written.

    ``explicit``: add a visible label (``at``: "start", "end", "middle" or a comma list;
    ``wording``: the text, default "本内容由人工智能生成" for text and "AI生成" for images;
    ``position``: for images, the corner or edge). ``watermark``: embed the invisible
    watermark with ``key`` (default: the public key) carrying ``payload`` (default: the keyed
    hash of the label's ContentProducer + ProduceID, :func:`aimark.watermark.derive_payload`).
    """

    explicit: bool = False
    at: str = "start"
    wording: str | None = None
    watermark: bool = False
    key: Key = None
    payload: bytes | None = None
    position: str = "bottom-right"  # images: corner or edge of the visible label
    font: str | None = None  # images: a font file for texts the bundled font cannot draw
    prompt: str = "rhythm"  # audio: the explicit label is the rhythm prompt or a spoken "voice" clip
    voice: bytes | None = None  # audio: the spoken prompt's file bytes

    @property
    def wanted(self) -> bool:
        return self.explicit or self.watermark


def _ext(path: str | None) -> str | None:
    return os.path.splitext(path)[1].lower() if path else None


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
    content: ContentOptions | None = None,
    ext: str | None = None,
) -> tuple[Carrier, list[Piece]]:
    """Sniff ``buf`` and return its carrier and the pieces of the labeled file: the content
    step (explicit label, watermark) first, then the one metadata label."""
    label.check(strict_codes=strict_codes)
    carrier = containers.sniff_buffer(buf, ext)
    if content is not None and content.wanted:
        data = _content_step(carrier, buf, label, content, limits)
        buf = data
    elif not carrier.metadata:
        raise UnsupportedFormat(
            f"{carrier.name} has no metadata site: ask for an explicit label and/or a watermark (--explicit, --watermark)"
        )
    if not carrier.metadata:
        return carrier, [buf]
    pieces = _guard(lambda: carrier.write(buf, label, limits), carrier)
    return carrier, pieces


def _content_step(carrier: Carrier, buf: Buffer, label: AIGCLabel, content: ContentOptions, limits: Limits) -> bytes:
    payload = None
    if content.watermark:
        payload = normalize_payload(content.payload) if content.payload is not None else derive_payload(label, content.key)
    if carrier.media == "image":
        from . import image  # the media packages are imported on demand: metadata-only use stays light

        istep = image.ImageStep(
            explicit=content.explicit,
            text=content.wording or image.explicit.DEFAULT_TEXT,
            position=content.position,
            font=content.font,
            payload=payload,
            key=content.key,
        )
        return bytes(_guard(lambda: image.apply(carrier, buf, istep, limits), carrier))
    if carrier.media == "audio":
        from . import audio

        astep = audio.AudioStep(
            prompt=content.prompt if content.explicit else None,
            at=content.at,
            voice=content.voice,
            payload=payload,
            key=content.key,
        )
        return bytes(_guard(lambda: audio.apply(carrier, buf, astep, limits), carrier))
    if carrier.media != "text":
        raise UnsupportedFormat(f"explicit labels and watermarks for {carrier.media} are not implemented yet (metadata only)")
    from . import text

    step = text.TextStep(
        explicit_at=content.at if content.explicit else None,
        wording=content.wording or text.explicit.DEFAULT_TEXT,
        payload=payload,
        key=content.key,
    )
    return bytes(_guard(lambda: text.apply(carrier, buf, step, limits), carrier))


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
    carrier, pieces = label_pieces(data, label, limits=limits, strict_codes=strict_codes, content=content, ext=_ext(filename))
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
    content: ContentOptions | None = None,
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
            carrier, pieces = label_pieces(buf, label, limits=limits, strict_codes=strict_codes, content=content, ext=_ext(s))
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
    wm = None
    if content is not None and content.watermark:
        wm = (normalize_payload(content.payload) if content.payload is not None else derive_payload(label, content.key)).hex()
    explicit = bool(content and content.explicit)
    return LabelResult(d, carrier.name, label, n, metadata=carrier.metadata, explicit=explicit, watermark=wm)


def _same(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


# -- the verify journey ----------------------------------------------------------------------
@dataclass(frozen=True)
class VerifyOptions:
    """``watermark``: look for a watermark (default yes); ``key``: the watermark key (default:
    the public key); ``explicit``: look for an explicit label (default yes)."""

    watermark: bool = True
    key: Key = None
    explicit: bool = True


DEFAULT_VERIFY = VerifyOptions()


def _verify_buffer(buf: Buffer, path: str | None, limits: Limits, options: VerifyOptions = DEFAULT_VERIFY) -> Report:
    carrier = containers.sniff_buffer(buf, _ext(path))
    try:
        res = _guard(lambda: carrier.read(buf, limits), carrier)
    except (CorruptFile, LimitExceeded) as exc:
        return Report(path, carrier.name, [], [error("corrupt_container", exc.message, carrier.name)], complete=False)
    report = _judge(res, path, res.format or carrier.name)
    report.metadata_site = carrier.metadata
    if carrier.text is not None and (options.explicit or options.watermark):
        _inspect_content(report, carrier, buf, limits, options, res.text)
    elif carrier.media == "image" and options.watermark:
        _inspect_image(report, carrier, buf, limits, options)
    elif carrier.media == "audio" and (options.watermark or options.explicit):
        _inspect_audio(report, carrier, buf, limits, options)
    return report


def _expected_payload(report: Report, key: Key) -> bytes | None:
    """The payload a watermark should carry if it belongs to the file's one metadata label."""
    if len(report.labels) == 1:
        aigc = report.labels[0].aigc
        cp, pid = aigc.get("ContentProducer"), aigc.get("ProduceID")
        if isinstance(cp, str) and isinstance(pid, str) and cp and pid:
            return payload_for(cp, pid, key)
    return None


def _inspect_content(
    report: Report, carrier: Carrier, buf: Buffer, limits: Limits, options: VerifyOptions, decoded: str | None
) -> None:
    def run(expected: bytes | None) -> tuple[ExplicitReport | None, WatermarkReport | None]:
        from . import text

        return text.inspect(
            carrier, buf, limits, key=options.key, expected=expected, detect_watermark=options.watermark, text=decoded
        )

    _detect(report, options, carrier, run, unreadable="the document's text could not be read")


def _inspect_image(report: Report, carrier: Carrier, buf: Buffer, limits: Limits, options: VerifyOptions) -> None:
    def run(expected: bytes | None) -> tuple[ExplicitReport | None, WatermarkReport | None]:
        from . import image

        return None, image.inspect(buf, limits, key=options.key, expected=expected)

    missing = "watermark detection needs the image extra: pip install 'aimark[image]'"
    _detect(report, options, carrier, run, unreadable="the pixels could not be decoded", missing=missing)


def _inspect_audio(report: Report, carrier: Carrier, buf: Buffer, limits: Limits, options: VerifyOptions) -> None:
    def run(expected: bytes | None) -> tuple[ExplicitReport | None, WatermarkReport | None]:
        from . import audio

        return audio.inspect(
            carrier,
            buf,
            limits,
            key=options.key,
            expected=expected,
            detect_watermark=options.watermark,
            detect_explicit=options.explicit,
        )

    missing = "audio detection needs the audio extra: pip install 'aimark[audio]'"
    _detect(report, options, carrier, run, unreadable="the audio could not be decoded", missing=missing)


def _detect(
    report: Report,
    options: VerifyOptions,
    carrier: Carrier,
    run: Callable[[bytes | None], tuple[ExplicitReport | None, WatermarkReport | None]],
    *,
    unreadable: str,
    missing: str | None = None,
) -> None:
    """Run a media package's detection against the payload the metadata label implies. A missing
    optional extra becomes an info finding, content that cannot be decoded a warning."""
    try:
        found, wm = _guard(lambda: run(_expected_payload(report, options.key)), carrier)
    except ImportError:
        if missing is None:
            raise
        report.findings.append(info("watermark_skipped", missing))
        return
    except AimarkError as exc:
        report.findings.append(warning("content_unreadable", f"{unreadable}: {exc.message}"))
        return
    if options.explicit and found is not None:
        report.explicit = found
    _watermark_findings(report, wm)


def _watermark_findings(report: Report, wm: WatermarkReport | None) -> None:
    report.watermark = wm
    if wm is not None and wm.found:
        if wm.matches_label is False:
            report.findings.append(warning("watermark_mismatch", "the watermark payload does not match the metadata label"))
        elif wm.matches_label is None and not report.labels:
            report.findings.append(info("watermark_only", "a watermark was found but no metadata label (SPEC section 6 case 3)"))


def _judge(res: containers.ReadResult, path: str | None, name: str) -> Report:
    records = [parse_label_text(raw.text, raw.site) for raw in res.labels]
    findings = list(res.findings)
    if len(records) > 1:
        sites = ", ".join(r.site for r in records)
        findings.append(error("duplicate_label", f"{len(records)} AIGC labels in one file ({sites}); exactly one is allowed"))
        if len({repr(sorted(r.aigc.items())) for r in records}) > 1:
            findings.append(error("labels_disagree", "the labels in this file do not agree"))
    return Report(path, name, records, findings, complete=res.complete)


def verify(path: PathLike, *, limits: Limits = DEFAULT_LIMITS, options: VerifyOptions = DEFAULT_VERIFY) -> Report:
    """Read every metadata site of one file and judge its label (SPEC section 8).

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
    """Every AIGC label in the file, parsed leniently, with its findings."""
    return verify(path, limits=limits).labels


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
    "FinalStep",
    "LabelResult",
    "VerifyOptions",
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
