"""The ``aimark`` command: a thin terminal over :mod:`aimark.api`.

Exit codes (documented in README.md):
  0  every file compliant (verify) / the output was written (label, propagate)
  1  some file is noncompliant, has no label, or is inconclusive (verify) / nothing to
     propagate: the file was left alone (propagate)
  2  usage, input or output error (unsupported format, unreadable file, cannot write, a
     missing extra)
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TextIO

from . import __version__, media, platform
from .api import ContentOptions, VerifyOptions, label_file
from .errors import AimarkError
from .label import AIGCLabel, LabelKind
from .platform import batch
from .report import Report, Severity, Verdict

EXIT_OK, EXIT_NONCOMPLIANT, EXIT_ERROR = 0, 1, 2
_GLOB_CHARS = set("*?[")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="aimark", description="Label AI-generated content and verify AIGC labels.")
    p.add_argument("--version", action="version", version=f"aimark {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lab = sub.add_parser("label", help="write the AIGC metadata label into a file")
    lab.add_argument("input", help="file to label (read only, unless --in-place)")
    lab.add_argument("-o", "--output", help="where to write the labeled file")
    lab.add_argument("--in-place", action="store_true", help="overwrite the input (atomically)")
    lab.add_argument("--producer", required=True, help="ContentProducer: 27-character provider code")
    lab.add_argument("--produce-id", required=True, help="ProduceID: the producer's id for this content")
    lab.add_argument(
        "--label",
        default="1",
        choices=[k.value for k in LabelKind],
        help="Label: 1 AI-generated (default), 2 possibly, 3 suspected",
    )
    lab.add_argument("--propagator", default="", help="ContentPropagator (default: the producer)")
    lab.add_argument("--propagate-id", default="", help="PropagateID (default: the ProduceID)")
    lab.add_argument("--reserved-code1", default="", help="ReservedCode1 (producer's integrity data)")
    lab.add_argument("--reserved-code2", default="", help="ReservedCode2 (propagator's integrity data)")
    lab.add_argument(
        "--allow-names", action="store_true", help="accept provider names instead of 27-character codes (non-conformant)"
    )
    lab.add_argument("--json", action="store_true", help="print the result as one JSON object")
    kinds = ", ".join(m.name for m in media.registered())
    lab.add_argument(
        "--explicit",
        nargs="?",
        const="default",
        choices=["default", "rhythm", "voice"],
        help=f"also add a visible/audible label to the content ({kinds}; audio: rhythm (default) or voice)",
    )
    lab.add_argument(
        "--voice",
        help="audio: your spoken prompt file saying 人工智能生成 (default: the bundled clip)",
    )
    lab.add_argument(
        "--at", help="where the explicit label goes: start (default), end, middle, or a list: start,end (not images)"
    )
    lab.add_argument("--text", dest="wording", help="explicit label text (it needs an AI and a 生成/合成 element)")
    lab.add_argument("--watermark", action="store_true", help=f"also embed the invisible watermark ({kinds})")
    lab.add_argument("--key", help="watermark key (default: the public aimark key)")
    lab.add_argument(
        "--position", help="images, video: where the visible label goes (top-left, top, ..., bottom-right (default), center)"
    )
    lab.add_argument("--font", help="images, video: a TrueType/OpenType font file for label texts the bundled font cannot draw")
    lab.add_argument("--badge", action="store_true", help="video: keep the label on every frame as a corner badge")
    _key_file(lab)
    lab.add_argument(
        "--security-key", help="SM2 (or Ed25519) private key PEM: sign the label into ReservedCode1 (or AIMARK_SECURITY_KEY)"
    )
    lab.add_argument(
        "--c2pa-cert", help="C2PA certificate chain PEM, leaf first (or AIMARK_C2PA_CERT): sign a C2PA manifest last"
    )
    lab.add_argument("--c2pa-key", help="the C2PA signing key, PKCS#8 PEM (or AIMARK_C2PA_KEY)")

    ver = sub.add_parser("verify", help="read and judge the AIGC labels of files")
    ver.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or glob patterns")
    ver.add_argument("-r", "--recursive", action="store_true", help="walk directories recursively")
    ver.add_argument("--json", action="store_true", help="one JSON object per line per file")
    ver.add_argument("-v", "--verbose", action="store_true", help="also print informational findings")
    ver.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    ver.add_argument("--no-watermark", action="store_true", help="skip watermark detection")
    ver.add_argument(
        "--no-explicit", action="store_true", help="skip looking for the visible/audible label (text recognition in pictures)"
    )
    ver.add_argument(
        "--metadata-only", action="store_true", help="read the metadata labels only: no content is decoded (fast scans)"
    )
    ver.add_argument("--key", help="watermark key to detect with (default: the public aimark key)")
    _key_file(ver)
    ver.add_argument("--trust-anchors", help="PEM root certificates that C2PA signers chain to (or AIMARK_TRUST_ANCHORS)")
    ver.add_argument("--trust-keys", metavar="DIR", help="pinned SM2/Ed25519 public keys (*.pem) for security-data identity")
    ver.add_argument("--decide", action="store_true", help="add the platform decision (Label 1/2/3 and the notice, SPEC §6)")
    ver.add_argument("--declared-ai", action="store_true", help="with --decide: the uploader declares the content AI-generated")
    ver.add_argument("-j", "--jobs", type=int, default=1, help="verify with N processes (default 1)")
    ver.add_argument("--frames", type=int, help="video: frames sampled for the watermark (default 32)")
    ver.add_argument("--video-budget", type=float, help="video: seconds spent decoding the sampled frames (default 8)")
    ver.add_argument(
        "--resume", metavar="STATE", help="JSON Lines state file: skip the files it holds, append each new report to it"
    )

    pro = sub.add_parser("propagate", help="write the platform's propagation fields into a file's label (SPEC §6)")
    pro.add_argument("input", help="the uploaded file (read only, unless --in-place)")
    pro.add_argument("-o", "--output", help="where to write the propagated file")
    pro.add_argument("--in-place", action="store_true", help="overwrite the input (atomically)")
    pro.add_argument("--propagator", required=True, help="ContentPropagator: the platform's 27-character provider code")
    pro.add_argument("--propagate-id", required=True, help="PropagateID: the platform's id for this content")
    pro.add_argument("--declared-ai", action="store_true", help="the uploader declares the content AI-generated")
    pro.add_argument("--producer", help="ContentProducer for a file that has no label yet (default: the propagator)")
    pro.add_argument("--produce-id", help="ProduceID for a file that has no label yet (default: the PropagateID)")
    pro.add_argument("--key", help="watermark key to detect with (default: the public aimark key)")
    _key_file(pro)
    pro.add_argument("--security-key", help="the platform's SM2 (or Ed25519) private key: sign into ReservedCode2")
    pro.add_argument("--json", action="store_true", help="print the result as one JSON object")

    keys = sub.add_parser("keys", help="generate keys: SM2/Ed25519 for security data, a test PKI for C2PA")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    gen = keys_sub.add_parser("generate", help="write new keys into a directory (private keys 0600)")
    gen.add_argument("kind", choices=["sm2", "ed25519", "c2pa"])
    gen.add_argument("directory")
    gen.add_argument("--force", action="store_true", help="replace existing key files")

    srv = sub.add_parser("serve", help="run the HTTP verification service and its web page (needs aimark[serve])")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    srv.add_argument("--max-upload-mb", type=float, default=100.0, help="largest upload accepted, in MiB (default 100)")
    srv.add_argument("--token-file", help="file holding the bearer token that /v1/propagate requires (or AIMARK_TOKEN)")
    srv.add_argument("--workers", type=int, default=4, help="requests verified at once (a thread pool; default 4)")
    return p


def _key_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key-file", help="read the watermark key from this file (or AIMARK_WATERMARK_KEY_FILE / AIMARK_WATERMARK_KEY)"
    )


def _watermark_key(args: argparse.Namespace) -> str | bytes | None:
    """--key, else --key-file, else the environment: the key stays out of process lists."""
    from .watermark import key_from_env

    return args.key if args.key else key_from_env(args.key_file)


def _security_key(path: str | None) -> object | None:
    from . import security

    path = path or os.environ.get("AIMARK_SECURITY_KEY")
    return security.read_signing_key(path) if path else None


def _err(msg: str) -> None:
    print(f"aimark: error: {msg}", file=sys.stderr)


# -- label -------------------------------------------------------------------------------------
def _cmd_label(args: argparse.Namespace) -> int:
    if not args.in_place and not args.output:
        _err("give -o OUTPUT, or --in-place to overwrite the input")
        return EXIT_ERROR
    label = AIGCLabel(
        content_producer=args.producer,
        produce_id=args.produce_id,
        label=LabelKind(args.label),
        reserved_code1=args.reserved_code1,
        content_propagator=args.propagator,
        propagate_id=args.propagate_id,
        reserved_code2=args.reserved_code2,
    )
    voice = None
    if args.voice:
        try:
            with open(args.voice, "rb") as f:
                voice = f.read(64 << 20)
        except OSError as exc:
            _err(f"{args.voice}: {exc.strerror}")
            return EXIT_ERROR
    options: dict[str, object] = {}  # only what was given: a media refuses options it does not take
    if args.position is not None:
        options["position"] = args.position
    if args.badge:
        options["badge"] = True
    if args.font is not None:
        options["font"] = args.font
    if args.explicit in ("rhythm", "voice") or voice is not None:
        options["prompt"] = args.explicit if args.explicit in ("rhythm", "voice") else "voice"
    if voice is not None:
        options["voice"] = voice
    content = ContentOptions(
        explicit=args.explicit is not None,
        at=args.at,
        wording=args.wording,
        watermark=args.watermark,
        key=_watermark_key(args) if args.watermark else None,
        options=options,
    )
    signing = _security_key(args.security_key)
    if signing is not None:
        from . import security

        label.check(strict_codes=not args.allow_names)
        label = security.sign_label(label, signing)  # type: ignore[arg-type]
    finish = None
    cert, ckey = args.c2pa_cert or os.environ.get("AIMARK_C2PA_CERT"), args.c2pa_key or os.environ.get("AIMARK_C2PA_KEY")
    if cert or ckey:
        if not (cert and ckey):
            _err("C2PA signing needs both --c2pa-cert and --c2pa-key")
            return EXIT_ERROR
        from . import c2pa

        finish = c2pa.signing_step(c2pa.C2paSigner.from_files(cert, ckey))
    result = label_file(
        args.input, args.output, label, in_place=args.in_place, strict_codes=not args.allow_names, content=content, finish=finish
    )
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        parts = [label.to_inner_json()] if result.metadata else ["(no metadata site)"]
        if result.explicit:
            parts.append(f"+ explicit label at {result.placement}")
        if result.watermark:
            parts.append(f"+ watermark {result.watermark}")
        if finish is not None:
            parts.append(f"+ C2PA manifest {'in ' + result.sidecar if result.sidecar else 'embedded'}")
        print(f"{result.path}: labeled [{result.format}] " + " ".join(parts))
    return EXIT_OK


# -- verify ------------------------------------------------------------------------------------
def expand(paths: Sequence[str], recursive: bool) -> Iterator[tuple[str, bool]]:
    """Files to verify, each with whether it was named explicitly (True) or found in a walk."""
    for arg in paths:
        if os.path.isdir(arg):
            yield from ((f, False) for f in _walk(arg, recursive))
        elif not os.path.exists(arg) and _GLOB_CHARS & set(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                yield arg, True  # reported as "no such file"
            for m in matches:
                if os.path.isdir(m):
                    yield from ((f, False) for f in _walk(m, recursive))
                else:
                    yield m, True
        else:
            yield arg, True


def _walk(top: str, recursive: bool) -> Iterator[str]:
    if not recursive:
        for entry in sorted(os.scandir(top), key=lambda e: e.name):
            if entry.is_file():
                yield entry.path
        return
    for root, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(root, name)


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO, enabled: bool, total: int) -> None:
        self.stream, self.enabled, self.done, self.total = stream, enabled, 0, total

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def step(self, path: str) -> None:
        self.done += 1
        if self.enabled:
            name = path if len(path) <= 60 else "..." + path[-57:]
            self.stream.write(f"\r\x1b[K[{self.done}/{self.total}] {name}")
            self.stream.flush()


def _print_text(report: Report, verbose: bool) -> None:
    head = f"{report.path}: {report.verdict.value}"
    if report.format:
        head += f" [{report.format}]"
    if len(report.labels) == 1 and report.labels[0].aigc:
        aigc = report.labels[0].aigc
        head += " " + " ".join(f"{k}={aigc[k]}" for k in ("Label", "ContentProducer", "ProduceID") if k in aigc)
    print(head)
    for rec in report.labels:
        print(f"  label at {rec.site} ({rec.form})")
    if report.explicit is not None:
        if report.explicit.found:
            print(f"  explicit label at the {report.explicit.position}: {report.explicit.text}")
        else:
            print("  no explicit label found")
    if report.watermark is not None and report.watermark.found:
        match = {True: ", matches the label", False: ", does NOT match the label", None: ""}[report.watermark.matches_label]
        print(f"  watermark {report.watermark.payload} (p <= {report.watermark.p_value:.1e}{match})")
    for f in report.all_findings():
        if f.severity is Severity.INFO and not verbose:
            continue
        where = f" ({f.site})" if f.site else ""
        print(f"  {f.severity.value} {f.code}: {f.message}{where}")


def _write_line(line: str) -> None:
    """One whole line on stdout in one write (a killed run leaves no torn line)."""
    data = (line + "\n").encode("utf-8")
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        return
    sys.stdout.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.jobs < 1:
        _err("--jobs is at least 1")
        return EXIT_ERROR
    counts: Counter[str] = Counter()
    skipped = 0
    items = [batch.Item(path, named) for path, named in expand(args.paths, args.recursive)]
    progress = _Progress(sys.stderr, sys.stderr.isatty() and not args.quiet and len(items) > 1, len(items))
    content = not args.metadata_only
    from . import security

    anchors_path = args.trust_anchors or os.environ.get("AIMARK_TRUST_ANCHORS")
    anchors = None
    if anchors_path:
        try:
            with open(anchors_path, encoding="ascii") as f:
                anchors = f.read(1 << 20)
        except (OSError, UnicodeError) as exc:
            _err(f"{anchors_path}: cannot read the trust anchors ({exc})")
            return EXIT_ERROR
    trust_dir = args.trust_keys or os.environ.get("AIMARK_TRUST_KEYS")
    options = VerifyOptions(
        watermark=content and not args.no_watermark,
        explicit=content and not args.no_explicit,
        key=_watermark_key(args),
        decide=args.decide,
        declared_ai=True if args.declared_ai else None,
        c2pa=content,
        trust_anchors=anchors,
        settings={k: v for k, v in (("video_frames", args.frames), ("video_budget", args.video_budget)) if v is not None},
        trusted_keys=security.load_trusted_keys(trust_dir) if trust_dir else {},
    )

    def emit(out: batch.Outcome) -> None:
        nonlocal skipped
        if out.verdict is None or out.line is None:
            skipped += 1
            progress.step(out.item.path)
            return
        progress.clear()
        counts[out.verdict] += 1
        if args.json:
            _write_line(out.line)
        elif out.verdict == Verdict.ERROR.value:
            _err(f"{out.item.path}: {out.error}")
        elif not args.quiet:
            assert out.report is not None
            _print_text(out.report, args.verbose)
        progress.step(out.item.path)

    keep = not (args.json or args.quiet)  # the text output needs whole reports, JSON only the lines
    resumed = batch.run(items, options, emit, jobs=args.jobs, state=args.resume, keep_reports=keep)
    progress.clear()
    total = sum(counts.values())
    parts = [f"{counts[v.value]} {v.value}" for v in Verdict if v is not Verdict.ERROR]
    parts.append(f"{counts[Verdict.ERROR.value]} errors")
    summary = f"{total} file{'s' if total != 1 else ''}: " + ", ".join(parts)
    if skipped:
        summary += f"; {skipped} skipped (format not supported)"
    if resumed:
        summary += f"; {resumed} already in {args.resume}"
    print(summary, file=sys.stderr if args.json else sys.stdout)
    if counts[Verdict.ERROR.value]:
        return EXIT_ERROR
    if total == 0 and not resumed:
        _err("no files to verify")
        return EXIT_ERROR
    return EXIT_OK if counts[Verdict.COMPLIANT.value] == total else EXIT_NONCOMPLIANT


# -- propagate ---------------------------------------------------------------------------------
def _cmd_propagate(args: argparse.Namespace) -> int:
    if not args.in_place and not args.output:
        _err("give -o OUTPUT, or --in-place to overwrite the input")
        return EXIT_ERROR
    res = platform.propagate(
        args.input,
        args.output,
        args.propagator,
        args.propagate_id,
        True if args.declared_ai else None,
        producer=args.producer,
        produce_id=args.produce_id,
        in_place=args.in_place,
        key=_watermark_key(args),
        security_key=_security_key(args.security_key),  # type: ignore[arg-type]
    )
    if args.json:
        print(json.dumps(res.to_dict(), ensure_ascii=False))
    elif res.written:
        assert res.label is not None and res.decision.notice is not None
        print(f"{res.path}: propagated Label={res.label.label.value} ({res.decision.notice_en}) {res.label.to_inner_json()}")
    else:
        print(f"{args.input}: left alone: no label, no generation trace and no declaration")
    return EXIT_OK if res.written else EXIT_NONCOMPLIANT


# -- keys --------------------------------------------------------------------------------------
def _cmd_keys(args: argparse.Namespace) -> int:
    from .keys import GENERATORS

    written = GENERATORS[args.kind](args.directory, force=args.force)
    for w in written:
        print(f"{w.path}{'  (private, mode 0600)' if w.secret else ''}")
    return EXIT_OK


# -- serve -------------------------------------------------------------------------------------
def _cmd_serve(args: argparse.Namespace) -> int:
    from .media import first_missing

    gone = first_missing(("fastapi", "uvicorn", "multipart"))
    if gone is not None:
        _err(f"aimark serve needs the serve extra ({gone} is not installed): pip install 'aimark[serve]'")
        return EXIT_ERROR
    from .platform import service

    token = service.read_token(args.token_file)
    config = service.Config(max_upload=int(args.max_upload_mb * (1 << 20)), token=token, workers=args.workers)
    service.serve(config, host=args.host, port=args.port)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        commands = {
            "label": _cmd_label,
            "verify": _cmd_verify,
            "propagate": _cmd_propagate,
            "serve": _cmd_serve,
            "keys": _cmd_keys,
        }
        return commands[args.command](args)
    except AimarkError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except Exception as exc:  # last resort: one line, never a traceback (AIMARK_DEBUG=1 shows it)
        if os.environ.get("AIMARK_DEBUG"):
            raise
        _err(f"internal error ({type(exc).__name__}): {exc}")
        return EXIT_ERROR


__all__ = ["EXIT_ERROR", "EXIT_NONCOMPLIANT", "EXIT_OK", "expand", "main"]
