"""Trust: SM2/SM3 security data in ReservedCode1/2 (checked against the standard's example and
the OpenSSL command line), C2PA manifests read back by c2pa-python's own Reader, tampering,
keys, and that no secret reaches any output."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import aimark
from aimark import AIGCLabel, ContentOptions, VerifyOptions, security, sm2
from aimark import c2pa as aimark_c2pa
from aimark.cli import main

from .conftest import PRODUCER, ExifTool
from .platform_media import PLATFORM, jpeg_bytes, photo

OPENSSL = shutil.which("openssl")


# -- SM3 / SM2 -----------------------------------------------------------------------------------
def test_sm3_vectors() -> None:
    assert sm2.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert sm2.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_sm2_standard_example_reproduces_r_and_s() -> None:
    # GB/T 32918 worked example on the recommended curve (../shared/NOTES.md)
    d = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
    k = 0x59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21
    key = sm2.PrivateKey(d)
    sig = key.sign(b"message digest", b"1234567812345678", k=k)
    assert sm2.decode_signature(sig) == (
        0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3,
        0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA,
    )
    pub = key.public_key()
    assert pub.verify(sig, b"message digest")
    assert not pub.verify(sig, b"message digesT")
    assert not pub.verify(sig, b"message digest", b"another user id")
    assert not sm2.PrivateKey.generate().public_key().verify(sig, b"message digest")
    for junk in (b"", b"\x30\x00", sig[:-1], b"\x30\x06\x02\x01\x00\x02\x01\x00", os.urandom(70)):
        assert not pub.verify(junk, b"message digest")
    assert "secret" in repr(key) and str(d) not in repr(key) and hex(d)[2:] not in repr(key).lower()


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI")
def test_sm2_interoperates_with_openssl(tmp_path: Path) -> None:
    assert OPENSSL is not None
    msg = security.signed_string(AIGCLabel(PRODUCER, "gen-1").fields())
    (tmp_path / "msg").write_bytes(msg)
    ours = sm2.PrivateKey.generate()
    (tmp_path / "pub.pem").write_bytes(ours.public_key().to_pem())
    (tmp_path / "sig.der").write_bytes(ours.sign(msg))
    opts = ["-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678"]
    files = ["-in", tmp_path / "msg", "-sigfile", tmp_path / "sig.der"]
    ok = subprocess.run(
        [OPENSSL, "pkeyutl", "-verify", *opts, "-pubin", "-inkey", tmp_path / "pub.pem", *files], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "Verified Successfully" in ok.stdout, ok.stdout + ok.stderr
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "SM2", "-out", tmp_path / "k.pem"], check=True, capture_output=True)
    sign = [
        OPENSSL,
        "pkeyutl",
        "-sign",
        *opts,
        "-inkey",
        tmp_path / "k.pem",
        "-in",
        tmp_path / "msg",
        "-out",
        tmp_path / "osig.der",
    ]
    subprocess.run(sign, check=True, capture_output=True)
    theirs = sm2.load_private_key((tmp_path / "k.pem").read_bytes())
    assert theirs.public_key().verify((tmp_path / "osig.der").read_bytes(), msg)
    assert not theirs.public_key().verify((tmp_path / "osig.der").read_bytes(), msg.replace(b"gen-1", b"gen-2"))
    # OpenSSL reads the PKCS#8 key aimark writes
    (tmp_path / "ours.pem").write_bytes(ours.to_pem())
    out = subprocess.run([OPENSSL, "pkey", "-in", tmp_path / "ours.pem", "-noout", "-text"], capture_output=True, text=True)
    assert out.returncode == 0 and "SM2" in out.stdout, out.stderr


# -- security data in the label ------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("keys")
    for kind in ("sm2", "ed25519", "c2pa"):
        assert main(["keys", "generate", kind, str(d)]) == 0
    return d


def test_keys_are_private_and_not_overwritten(keys: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("sm2-key.pem", "ed25519-key.pem", "c2pa-key.pem", "c2pa-root-key.pem"):
        assert stat.S_IMODE(os.stat(keys / name).st_mode) == 0o600, name
    for name in ("sm2-pub.pem", "c2pa-chain.pem", "c2pa-root.pem"):
        assert stat.S_IMODE(os.stat(keys / name).st_mode) == 0o644, name
    before = (keys / "sm2-key.pem").read_bytes()
    capsys.readouterr()
    assert main(["keys", "generate", "sm2", str(keys)]) == 2
    assert "exists" in capsys.readouterr().err and (keys / "sm2-key.pem").read_bytes() == before


def _signed_jpeg(tmp_path: Path, key: Path, name: str = "s.jpg") -> Path:
    src = tmp_path / "src.jpg"
    src.write_bytes(jpeg_bytes(photo("coffee")))
    out = tmp_path / name
    args = ["label", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id", "gen-1", "--security-key", str(key)]
    assert main(args) == 0
    return out


def test_signed_label_verifies_and_pinning_gives_identity(tmp_path: Path, keys: Path) -> None:
    out = _signed_jpeg(tmp_path, keys / "sm2-key.pem")
    aigc = aimark.read_labels(out)[0].aigc
    sd = json.loads(aigc["ReservedCode1"])["SecurityData"]
    assert sd["Type"] == "TC260PG" and sd["PubSD"][0]["AlgID"] == "1.2.156.10197.1.501"
    rep = aimark.verify(out)
    assert rep.verdict.value == "compliant"
    s = rep.sections["security"]
    assert s["ReservedCode1"]["status"] == "valid" and s["ReservedCode1"]["key_source"] == "embedded"
    assert s["ReservedCode2"]["status"] == "absent"
    assert "security_integrity_only" in [f.code for f in rep.findings]
    pinned = tmp_path / "pinned"
    pinned.mkdir()
    shutil.copy(keys / "sm2-pub.pem", pinned / "producer.pem")
    rep = aimark.verify(out, options=VerifyOptions(trusted_keys=security.load_trusted_keys(str(pinned))))
    assert rep.sections["security"]["ReservedCode1"]["identity"] is True
    assert rep.sections["security"]["ReservedCode1"]["pinned"] == "producer.pem"
    other = tmp_path / "other"
    assert main(["keys", "generate", "sm2", str(other)]) == 0
    rep = aimark.verify(out, options=VerifyOptions(trusted_keys=security.load_trusted_keys(str(other))))
    assert rep.sections["security"]["ReservedCode1"]["identity"] is False
    assert "security_untrusted_key" in [f.code for f in rep.findings] and rep.verdict.value == "compliant"


@pytest.mark.parametrize("field", ["Label", "ContentProducer", "ProduceID"])
def test_changing_a_signed_field_fails(tmp_path: Path, keys: Path, exiftool: ExifTool, field: str) -> None:
    out = _signed_jpeg(tmp_path, keys / "sm2-key.pem")
    fields = dict(aimark.read_labels(out)[0].aigc)
    fields[field] = {"Label": "3", "ContentProducer": PLATFORM, "ProduceID": "gen-2"}[field]
    exiftool.write(out, "-XMP-TC260:AIGC=" + json.dumps(fields, separators=(",", ":")))
    rep = aimark.verify(out)
    assert rep.sections["security"]["ReservedCode1"]["status"] == "invalid"
    assert "security_invalid" in [f.code for f in rep.findings] and rep.verdict.value == "noncompliant"


def test_propagation_signs_reserved_code2(tmp_path: Path, keys: Path) -> None:
    out = _signed_jpeg(tmp_path, keys / "sm2-key.pem")
    prop = tmp_path / "p.jpg"
    args = ["propagate", str(out), "-o", str(prop), "--propagator", PLATFORM, "--propagate-id", "p-1"]
    assert main([*args, "--security-key", str(keys / "ed25519-key.pem")]) == 0
    s = aimark.verify(prop).sections["security"]
    assert s["ReservedCode1"]["status"] == "valid" and s["ReservedCode2"]["status"] == "valid"
    assert s["ReservedCode2"]["algorithm"] == "Ed25519"


def _with_rc1(tmp_path: Path, value: str) -> Path:
    out = tmp_path / "v.jpg"
    out.write_bytes(aimark.label_bytes(jpeg_bytes(photo("coffee")), AIGCLabel(PRODUCER, "gen-1", reserved_code1=value)))
    return out


def test_product_variants_are_read_and_reported(tmp_path: Path) -> None:
    key = sm2.PrivateKey.generate()
    signing = security.SigningKey(security.SM2_ALG, key)
    good = json.loads(security.security_data(signing, security.signed_string(AIGCLabel(PRODUCER, "gen-1").fields())))
    variant = json.loads(json.dumps(good).replace('"PubSD"', '"PubSd"').replace('"Md"', '"LabelMataData"'))
    rep = aimark.verify(_with_rc1(tmp_path, json.dumps(variant, separators=(",", ":"))))
    assert rep.sections["security"]["ReservedCode1"]["status"] == "valid"
    assert [f.code for f in rep.findings].count("security_variant") == 2
    rsa = json.loads(json.dumps(good).replace(security.SM2_ALG, "1.2.840.113549.1.1.11"))
    rep = aimark.verify(_with_rc1(tmp_path, json.dumps(rsa, separators=(",", ":"))))
    assert rep.sections["security"]["ReservedCode1"]["status"] == "unsupported" and rep.verdict.value == "compliant"
    rep = aimark.verify(_with_rc1(tmp_path, "3F2A9C00D41B77E2"))
    assert rep.sections["security"]["ReservedCode1"]["status"] == "opaque"
    compact = json.dumps(good, separators=(",", ":"))
    binding = json.loads(compact.replace('"TBSData":{"Type":"Md"}', '"TBSData":{"Type":"Binding","CntSel":"all"}'))
    rep = aimark.verify(_with_rc1(tmp_path, json.dumps(binding, separators=(",", ":"))))
    assert rep.sections["security"]["ReservedCode1"]["status"] == "unsupported"


# -- C2PA ----------------------------------------------------------------------------------------
def _ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, make_image) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("c2pa-media")
    out: dict[str, Path] = {}
    for fmt in ("jpeg", "png", "webp"):
        p = d / f"a.{fmt}"
        p.write_bytes(make_image(fmt, exif=True, icc=True))
        out[fmt] = p
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:duration=6"]
    tags = ["-metadata", "title=Keep me"]
    for ext, codec in (("mp3", ["-c:a", "libmp3lame"]), ("wav", ["-c:a", "pcm_s16le"]), ("flac", ["-c:a", "flac"]),
                       ("m4a", ["-c:a", "aac"]), ("ogg", ["-c:a", "libvorbis"])):  # fmt: skip
        _ffmpeg(*tone, *codec, *tags, d / f"a.{ext}")
        out[ext] = d / f"a.{ext}"
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-c:v", "libx264"]
    for ext in ("mp4", "mov", "mkv"):
        _ffmpeg(*video, d / f"a.{ext}")
        out[ext] = d / f"a.{ext}"
    return out


def _reader(path: Path, root: str, manifest: bytes | None = None, mime: str | None = None) -> dict[str, object]:
    """c2pa-python's own Reader, independently of aimark."""
    import c2pa

    ctx = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}, "trust": {"user_anchors": root}})
    mimes = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "mp3": "audio/mpeg", "wav": "audio/wav"}
    mimes |= {"flac": "audio/flac", "m4a": "audio/mp4", "mp4": "video/mp4", "mov": "video/quicktime"}
    kind = mime or mimes[path.suffix[1:]]
    with open(path, "rb") as f:
        return json.loads(c2pa.Reader(kind, f, manifest_data=manifest, context=ctx).json())


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "mp3", "wav", "flac", "m4a", "mp4", "mov"])
def test_c2pa_reader_trusts_aimark_signed_files(
    fmt: str, media: dict[str, Path], keys: Path, tmp_path: Path, exiftool: ExifTool
) -> None:
    src = media[fmt]
    out = tmp_path / f"signed{src.suffix}"
    args = ["label", str(src), "-o", str(out), "--producer", PRODUCER, "--produce-id", f"c2-{fmt}"]
    args += ["--c2pa-cert", str(keys / "c2pa-chain.pem"), "--c2pa-key", str(keys / "c2pa-key.pem")]
    if fmt in ("jpeg", "png", "wav"):
        args.append("--watermark")
    assert main(args) == 0
    root = (keys / "c2pa-root.pem").read_text()
    doc = _reader(out, root)
    assert doc["validation_state"] == "Trusted", doc.get("validation_results")
    active = doc["manifests"][doc["active_manifest"]]  # type: ignore[index]
    by_label = {a["label"]: a["data"] for a in active["assertions"]}
    actions = next(v for k, v in by_label.items() if k.startswith("c2pa.actions"))["actions"]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == aimark_c2pa.TRAINED
    label = aimark.read_labels(out)[0].aigc
    assert by_label["cn.tc260.aigc"]["AIGC"] == label and label["ProduceID"] == f"c2-{fmt}"
    if fmt in ("jpeg", "png", "wav"):
        assert "c2pa.soft-binding" in by_label and any(a["action"] == "c2pa.watermarked.bound" for a in actions)
    # the metadata label and the file's other metadata are intact under the manifest
    rep = aimark.verify(out, options=VerifyOptions(trust_anchors=root))
    assert rep.verdict.value == "compliant", rep.to_dict()
    assert rep.sections["c2pa"].state == "Trusted" and rep.sections["c2pa"].label_matches is True
    if fmt in ("jpeg", "png", "webp"):
        assert json.loads(exiftool.aigc(out)) == label
        from PIL import Image

        with Image.open(out) as im:  # exiftool 12.57 stops at a PNG eXIf after c2pa's caBX chunk
            assert im.getexif().get(0x010F) == "aimark-test-camera" and im.info.get("icc_profile")
        if fmt != "png":
            assert exiftool.run("-s3", "-Make", out).strip() == "aimark-test-camera"
    if fmt in ("mp3", "flac", "m4a"):
        import mutagen

        tags = mutagen.File(out)
        assert tags is not None and any("Keep me" in str(v) for v in (tags.tags or {}).values())


@pytest.mark.parametrize("fmt,mime", [("ogg", "audio/ogg"), ("mkv", "video/x-matroska")])
def test_sidecars_verify_with_the_reader(fmt: str, mime: str, media: dict[str, Path], keys: Path, tmp_path: Path) -> None:
    out = tmp_path / f"signed.{fmt}"
    signer = aimark_c2pa.C2paSigner.from_files(str(keys / "c2pa-chain.pem"), str(keys / "c2pa-key.pem"))
    res = aimark.label_file(media[fmt], out, AIGCLabel(PRODUCER, f"{fmt}-1"), finish=aimark_c2pa.signing_step(signer))
    assert res.sidecar == str(tmp_path / "signed.c2pa")
    root = (keys / "c2pa-root.pem").read_text()
    doc = _reader(out, root, manifest=Path(res.sidecar).read_bytes(), mime=mime)
    assert doc["validation_state"] == "Trusted"
    rep = aimark.verify(out, options=VerifyOptions(trust_anchors=root))
    assert rep.sections["c2pa"].sidecar is True and rep.sections["c2pa"].state == "Trusted" and rep.verdict.value == "compliant"
    out.write_bytes(out.read_bytes() + b"x")  # any change to the file breaks the sidecar's hash
    assert aimark.verify(out, options=VerifyOptions(trust_anchors=root)).sections["c2pa"].state == "Invalid"


def _sign(src: Path, out: Path, keys: Path, produce_id: str = "t-1") -> None:
    signer = aimark_c2pa.C2paSigner.from_files(str(keys / "c2pa-chain.pem"), str(keys / "c2pa-key.pem"))
    aimark.label_file(src, out, AIGCLabel(PRODUCER, produce_id), finish=aimark_c2pa.signing_step(signer))


def test_any_later_change_is_invalid(media: dict[str, Path], keys: Path, tmp_path: Path, exiftool: ExifTool) -> None:
    root = (keys / "c2pa-root.pem").read_text()
    out = tmp_path / "s.jpg"
    _sign(media["jpeg"], out, keys)
    data = out.read_bytes()

    def check(path: Path, *codes: str) -> None:
        rep = aimark.verify(path, options=VerifyOptions(trust_anchors=root))
        got = [f.code for f in rep.findings]
        assert rep.sections["c2pa"].state == "Invalid" and all(c in got for c in codes), (got, rep.sections["c2pa"].to_dict())
        assert rep.verdict.value in ("noncompliant", "inconclusive")

    pixels = tmp_path / "pixels.jpg"  # a byte of the entropy-coded data
    pixels.write_bytes(data[:-200] + bytes([data[-200] ^ 0x01]) + data[-199:])
    check(pixels, "c2pa_invalid")
    appended = tmp_path / "appended.jpg"
    appended.write_bytes(data + b"trailing bytes")
    check(appended, "c2pa_invalid")
    relabeled = tmp_path / "relabeled.jpg"  # the label edited after signing
    relabeled.write_bytes(data)
    exiftool.write(relabeled, "-XMP-TC260:AIGC=" + AIGCLabel(PRODUCER, "edited").to_inner_json())
    check(relabeled, "c2pa_invalid", "c2pa_label_mismatch")
    # the manifest copied onto another file: its APP11 segments put into another labeled JPEG
    other = tmp_path / "other.jpg"
    aimark.label_file(media["jpeg"], other, AIGCLabel(PRODUCER, "t-1"), content=ContentOptions(explicit=True))
    from aimark.containers import jpeg

    segs, _, _ = jpeg.walk(data, aimark.DEFAULT_LIMITS)
    app11 = b"".join(data[s.start : s.end] for s in segs if s.marker == 0xEB)
    target = other.read_bytes()
    copied = tmp_path / "copied.jpg"
    copied.write_bytes(target[:2] + app11 + target[2:])
    check(copied, "c2pa_invalid")


def test_a_corrupt_manifest_is_present_but_broken(media: dict[str, Path], keys: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.png"
    _sign(media["png"], out, keys)
    data = bytearray(out.read_bytes())
    i = data.find(b"jumb")
    data[i + 40 : i + 200] = os.urandom(160)
    broken = tmp_path / "broken.png"
    broken.write_bytes(bytes(data))
    rep = aimark.verify(broken)
    c = rep.sections["c2pa"]
    assert c.present and c.state == "Invalid" and "c2pa_invalid" in [f.code for f in rep.findings]


# -- secrets -------------------------------------------------------------------------------------
def test_no_secret_in_any_output(media: dict[str, Path], keys: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    public = "".join((keys / n).read_text() for n in ("sm2-pub.pem", "ed25519-pub.pem", "c2pa-chain.pem", "c2pa-root.pem"))
    secrets = []
    for name in ("sm2-key.pem", "c2pa-key.pem", "ed25519-key.pem"):
        pem = (keys / name).read_text()
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        chunks = [body[i : i + 16] for i in range(0, len(body) - 16, 8)]
        secrets += [c for c in chunks if c not in public.replace("\n", "")]  # the private parts of the PEM
    d = sm2.load_private_key((keys / "sm2-key.pem").read_bytes()).d
    secrets += [f"{d:064x}", f"{d:064X}", str(d)]
    os.environ["AIMARK_WATERMARK_KEY"] = wm_key = "watermark-secret-7c1f0e"
    secrets.append(wm_key)
    try:
        out = tmp_path / "o.jpg"
        base = ["label", str(media["jpeg"]), "-o", str(out), "--producer", PRODUCER, "--produce-id", "sec-1", "--json"]
        base += ["--security-key", str(keys / "sm2-key.pem"), "--c2pa-cert", str(keys / "c2pa-chain.pem")]
        assert main([*base, "--c2pa-key", str(keys / "c2pa-key.pem"), "--watermark"]) == 0
        assert main(["verify", "--json", "-v", str(out)]) in (0, 1)
        assert main([*base, "--c2pa-key", str(keys / "sm2-key.pem")]) == 2  # a wrong key: an error, not the key
        assert main(["label", str(media["jpeg"]), "-o", str(tmp_path / "x.jpg"), "--producer", PRODUCER, "--produce-id", "x",
                     "--security-key", str(keys / "c2pa-root.pem")]) == 2  # fmt: skip
        text = capsys.readouterr()
        with contextlib.redirect_stdout(io.StringIO()):
            reprs = repr(security.read_signing_key(str(keys / "sm2-key.pem"))) + repr(
                aimark_c2pa.C2paSigner.from_files(str(keys / "c2pa-chain.pem"), str(keys / "c2pa-key.pem"))
            )
        files = out.read_bytes().decode("latin-1")
        for s in secrets:
            assert s not in text.out and s not in text.err and s not in reprs and s not in files
    finally:
        del os.environ["AIMARK_WATERMARK_KEY"]
