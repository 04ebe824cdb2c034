"""C2PA Content Credentials through c2pa-python (the ``c2pa`` extra; tested with c2pa-python
0.38.1, pinned: its trust settings change between releases).

**Signing** is the last step of the label journey (:func:`signing_step`): every metadata
label is already written, and nothing changes a byte afterwards. The manifest carries

* ``c2pa.actions``: ``c2pa.created`` with digitalSourceType ``trainedAlgorithmicMedia``, and
  ``c2pa.watermarked.bound`` when a watermark was embedded;
* ``cn.tc260.aigc`` (JSON): ``{"AIGC": {the seven label fields}}``;
* ``c2pa.soft-binding`` when a watermark was embedded: ``alg`` names aimark's watermark of that
  media, ``blocks[0].value`` is the 64-bit payload (base64);
* no thumbnail.

JPEG, PNG, WebP, GIF, TIFF, HEIF/AVIF, MP3, WAV, FLAC, M4A, MP4, MOV, AVI and PDF get the
manifest embedded (c2pa-python's own writers; for FLAC it prepends an ID3v2 tag, which aimark's
sniffing looks through). Formats it cannot embed into (Ogg, Opus, MKV, WebM, FLV, plain text,
Markdown, HTML, and OOXML, whose deflated ZIP entries its reader refuses) get a sidecar
``NAME.c2pa`` beside the output, and the file itself is left as it is. Verify reads the sidecar
of a sidecar format, and of another format only when the file embeds no manifest.

**Reading** (:func:`read`) is offline: remote manifest fetching is off; trust anchors are the
caller's PEM roots (``aimark verify --trust-anchors``). A manifest that cannot be decoded is
"present but broken" (``state`` Invalid), never a crash.
"""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidArgument, MissingDependency
from .label import AIGCLabel

TESTED_VERSION = "0.38.1"
TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ASSERTION = "cn.tc260.aigc"
SIDECAR_SUFFIX = ".c2pa"

MIMES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "heif": "image/heif",
    "avif": "image/avif",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "avi": "video/x-msvideo",
    "pdf": "application/pdf",
}
#: formats c2pa-python cannot embed a manifest into: signed with a sidecar
SIDECAR_MIMES = {
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "mkv": "video/x-matroska",
    "webm": "video/webm",
    "flv": "video/x-flv",
    "txt": "text/plain",
    "markdown": "text/markdown",
    "html": "text/html",
    # c2pa-python 0.38 lists OOXML, but its ZIP reader refuses deflated entries (every real
    # DOCX): "compression method not supported: 8" -- so OOXML gets a sidecar too
    # (signed as opaque bytes: given the OOXML type, c2pa tries to parse the ZIP even for a sidecar)
    "docx": "application/octet-stream",
    "xlsx": "application/octet-stream",
    "pptx": "application/octet-stream",
}


def _lib() -> Any:
    try:
        import c2pa as lib
    except ImportError:
        raise MissingDependency(
            "C2PA needs the c2pa extra (c2pa-python is not installed): pip install 'aimark[c2pa]'", extra="c2pa"
        ) from None
    return lib


def mime_for(fmt: str, data: bytes | None = None) -> tuple[str, bool]:
    """(MIME type, sidecar?) of a format name; an ISO-BMFF ``mp4`` whose brand is ``qt  `` is MOV."""
    if fmt == "mp4" and data is not None and data[4:8] == b"ftyp" and data[8:12] == b"qt  ":
        fmt = "mov"
    if fmt in MIMES:
        return MIMES[fmt], False
    return SIDECAR_MIMES.get(fmt, "application/octet-stream"), True


def sidecar_path(path: str) -> str:
    """Where the sidecar of ``path`` lives: the same name with the extension ``.c2pa``."""
    return os.path.splitext(path)[0] + SIDECAR_SUFFIX


# -- signing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class C2paSigner:
    """A C2PA signing identity: a PEM certificate chain (leaf first) and either a PKCS#8 key
    or a ``callback(data) -> signature`` (an HSM or a KMS). ``repr`` shows no secret."""

    chain: bytes
    key: bytes | None = field(default=None, repr=False)
    callback: Callable[[bytes], bytes] | None = field(default=None, repr=False)
    alg: str = "es256"

    def __post_init__(self) -> None:
        if (self.key is None) == (self.callback is None):
            raise InvalidArgument("a C2PA signer needs a private key or a signing callback (one of them)")
        if b"-----BEGIN CERTIFICATE-----" not in self.chain:
            raise InvalidArgument("the C2PA certificate chain is PEM, leaf first")

    @classmethod
    def from_files(cls, cert: str, key: str, alg: str = "es256") -> C2paSigner:
        def read(path: str, what: str) -> bytes:
            try:
                with open(path, "rb") as f:
                    return f.read(1 << 20)
            except OSError as exc:
                raise InvalidArgument(f"cannot read the C2PA {what}: {exc.strerror}", path=path) from None

        return cls(read(cert, "certificate chain"), read(key, "key"), alg=alg)

    @classmethod
    def from_env(cls) -> C2paSigner | None:
        cert, key = os.environ.get("AIMARK_C2PA_CERT"), os.environ.get("AIMARK_C2PA_KEY")
        return cls.from_files(cert, key) if cert and key else None

    def native(self) -> Any:
        lib = _lib()
        try:
            alg = getattr(lib.C2paSigningAlg, self.alg.upper())
        except AttributeError:
            raise InvalidArgument(f"unknown C2PA signing algorithm {self.alg!r}") from None
        try:
            if self.callback is not None:
                return lib.Signer.from_callback(self.callback, alg, self.chain.decode("ascii"), None)
            return lib.Signer.from_info(lib.C2paSignerInfo(alg, self.chain, self.key, None))
        except lib.C2paError as exc:
            raise InvalidArgument(f"the C2PA certificate or key is not usable: {type(exc).__name__}") from None


def manifest_definition(
    label: AIGCLabel | None, *, media: str | None = None, watermark: str | None = None, title: str | None = None
) -> dict[str, Any]:
    """The manifest aimark signs (see the module docstring)."""
    from . import __version__

    actions: list[dict[str, Any]] = [{"action": "c2pa.created", "digitalSourceType": TRAINED}]
    assertions: list[dict[str, Any]] = []
    if label is not None:
        assertions.append({"label": ASSERTION, "data": {"AIGC": label.fields()}, "kind": "Json"})
    if watermark is not None:
        value = base64.b64encode(bytes.fromhex(watermark)).decode("ascii")
        alg = f"org.aimark.watermark.{media or 'content'}.v1"
        assertions.append({"label": "c2pa.soft-binding", "data": {"alg": alg, "blocks": [{"scope": {}, "value": value}]}})
        actions.append({"action": "c2pa.watermarked.bound", "digitalSourceType": TRAINED})
    out: dict[str, Any] = {
        "claim_generator_info": [{"name": "aimark", "version": __version__}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}, *assertions],
    }
    if title:
        out["title"] = title
    return out


_SIGN_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"remote_manifest_fetch": False}}


def sign(
    data: bytes,
    fmt: str,
    signer: C2paSigner,
    *,
    label: AIGCLabel | None = None,
    media: str | None = None,
    watermark: str | None = None,
    title: str | None = None,
) -> tuple[bytes, bytes | None]:
    """(the signed file, the sidecar manifest or None). For a sidecar format the file's bytes
    are returned unchanged."""
    lib = _lib()
    mime, sidecar = mime_for(fmt, data[:16])
    definition = manifest_definition(label, media=media, watermark=watermark, title=title)
    try:
        ctx = lib.Context.from_dict(_SIGN_SETTINGS)
        with lib.Builder(definition, context=ctx) as builder:
            if sidecar:
                builder.set_no_embed()
            dst = io.BytesIO()
            manifest = builder.sign(signer.native(), mime, io.BytesIO(data), dst)
    except lib.C2paError as exc:
        raise InvalidArgument(f"C2PA signing failed ({type(exc).__name__}): {_clean(exc)}") from None
    return (data, bytes(manifest)) if sidecar else (dst.getvalue(), None)


def _clean(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


# -- reading -----------------------------------------------------------------------------------
@dataclass
class C2paReport:
    """What a C2PA manifest says about a file."""

    present: bool
    state: str | None = None  # Trusted | Valid | Invalid
    failures: list[str] = field(default_factory=list)
    sidecar: bool = False
    digital_source_type: str | None = None
    label: dict[str, Any] | None = None  # the cn.tc260.aigc assertion's label
    label_matches: bool | None = None  # set by verify against the file's metadata label
    soft_binding: dict[str, Any] | None = None
    error: str | None = None  # a manifest present but broken

    def to_dict(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "state": self.state,
            "failures": list(self.failures),
            "sidecar": self.sidecar,
            "digital_source_type": self.digital_source_type,
            "label": self.label,
            "label_matches": self.label_matches,
            "soft_binding": self.soft_binding,
            "error": self.error,
        }


def read(
    stream: Any, fmt: str, *, manifest_data: bytes | None = None, trust_anchors: str | None = None, head: bytes = b""
) -> C2paReport:
    """Read and validate the manifest of a file (``stream``: a readable binary stream; with
    ``manifest_data``: a sidecar's bytes)."""
    lib = _lib()
    mime, _ = mime_for(fmt, head)
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    try:
        ctx = lib.Context.from_dict(settings)
        reader = lib.Reader(mime, stream, manifest_data=manifest_data, context=ctx)
        doc = json.loads(reader.json())
    except lib.C2paError.ManifestNotFound:
        return C2paReport(False, sidecar=manifest_data is not None)
    except (lib.C2paError, ValueError) as exc:
        return C2paReport(True, "Invalid", sidecar=manifest_data is not None, error=f"{type(exc).__name__}: {_clean(exc)}")
    results = doc.get("validation_results") or {}
    failures = [str(f.get("code")) for f in (results.get("activeManifest") or {}).get("failure", []) if isinstance(f, dict)]
    active = (doc.get("manifests") or {}).get(doc.get("active_manifest") or "", {})
    rep = C2paReport(True, doc.get("validation_state"), failures, manifest_data is not None)
    for a in active.get("assertions", []) if isinstance(active, dict) else []:
        name, data = a.get("label", ""), a.get("data") or {}
        if name.startswith("c2pa.actions"):
            for act in data.get("actions", []):
                if act.get("action") == "c2pa.created" and act.get("digitalSourceType"):
                    rep.digital_source_type = act["digitalSourceType"]
        elif name == ASSERTION and isinstance(data.get("AIGC"), dict):
            rep.label = data["AIGC"]
        elif name.startswith("c2pa.soft-binding"):
            rep.soft_binding = data
    return rep


__all__ = [
    "ASSERTION",
    "MIMES",
    "SIDECAR_MIMES",
    "SIDECAR_SUFFIX",
    "TESTED_VERSION",
    "TRAINED",
    "C2paReport",
    "C2paSigner",
    "manifest_definition",
    "mime_for",
    "read",
    "sidecar_path",
    "sign",
]


# -- the label journey's last step, and the verify check (stage C2PA) ---------------------------
def signing_step(signer: C2paSigner) -> Callable[[Any], Any]:
    """A ``finish`` step for :func:`aimark.api.label_file` that signs the labeled file."""

    def finish(item: Any) -> Any:
        from .api import FinalOutput

        title = os.path.basename(item.name) if item.name else None
        data, sidecar = sign(
            item.data, item.format, signer, label=item.label, media=item.media, watermark=item.watermark, title=title
        )
        return FinalOutput(data, sidecar)

    return finish


MAX_SIDECAR = 16 << 20


def _check(ctx: Any) -> None:
    from .checks import VerifyContext
    from .report import error, warning

    assert isinstance(ctx, VerifyContext)
    report = ctx.report
    manifest = None
    fmt = report.format or ctx.carrier.name
    head = bytes(ctx.buf[:16])
    embedded = not mime_for(fmt, head)[1] and ctx.buf.find(b"c2pa") >= 0
    if ctx.path and not embedded:
        side = sidecar_path(ctx.path)
        if side != ctx.path and os.path.isfile(side):
            with open(side, "rb") as f:
                manifest = f.read(MAX_SIDECAR + 1)
            if len(manifest) > MAX_SIDECAR:
                report.findings.append(
                    warning("c2pa_sidecar_too_large", f"the sidecar is over {MAX_SIDECAR} bytes; not read", side)
                )
                manifest = None
    if manifest is None and not embedded:  # no JUMBF c2pa box anywhere and no sidecar: nothing to read
        report.add_section("c2pa", C2paReport(False))
        return
    if ctx.path:
        with open(ctx.path, "rb") as stream:
            rep = read(stream, fmt, manifest_data=manifest, trust_anchors=ctx.options.trust_anchors, head=head)
    else:
        rep = read(io.BytesIO(bytes(ctx.buf)), fmt, manifest_data=manifest, trust_anchors=ctx.options.trust_anchors, head=head)
    if rep.present:
        if rep.state == "Invalid":
            why = ", ".join(rep.failures) or rep.error or "invalid"
            report.findings.append(error("c2pa_invalid", f"the C2PA manifest does not validate ({why})", "c2pa"))
        elif rep.state == "Valid":
            report.findings.append(
                warning(
                    "c2pa_untrusted", "the C2PA manifest is valid but its signer is not trusted (give --trust-anchors)", "c2pa"
                )
            )
        if rep.label is not None and report.metadata_site:  # plain text: the manifest's label is the only one
            labels = [r.aigc for r in report.labels if not r.empty]
            rep.label_matches = len(labels) == 1 and labels[0] == rep.label
            if not rep.label_matches:
                report.findings.append(
                    error("c2pa_label_mismatch", "the label in the C2PA manifest is not the file's metadata label", "c2pa")
                )
    report.add_section("c2pa", rep)


def _register() -> None:
    from . import checks

    checks.register(checks.Check("c2pa", checks.C2PA, _check, wanted=lambda o: o.c2pa, extra="c2pa"))


_register()
