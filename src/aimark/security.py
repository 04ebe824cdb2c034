"""Security data in ReservedCode1/2 (TC260-PG-202511A, SPEC section 5): sign a label, check one.

The producer signs with its key into ``ReservedCode1``, a propagator into ``ReservedCode2``::

    {"SecurityData":{"Type":"TC260PG","Version":1,"PubSD":[
        {"Type":"DS","AlgID":"1.2.156.10197.1.501","TBSData":{"Type":"Md"},"Signature":"<hex DER>"},
        {"Type":"PubKey","AlgID":"1.2.156.10197.1.501","KeyValue":"<hex 04||x||y>"}]}}

stored as a string (compact JSON; its quotes are escaped by the label's own JSON). What is
signed (SM3withSM2, the default SM2 user id ``1234567812345678``):

* ReservedCode1: ``"Label":"1","ContentProducer":"X","ProduceID":"Y"`` (SPEC section 5);
* ReservedCode2: ``"Label":"1","ContentPropagator":"X","PropagateID":"Y"`` (aimark's choice:
  SPEC names only the producer's string; the propagator's is built the same way from its fields).

Ed25519 (AlgID 1.3.101.112, raw 32-byte key) is accepted as well. A key that is only embedded
in the file proves integrity, not identity: identity needs a key pinned by the verifier
(``trusted_keys``). Variants seen in products are read and reported as findings: ``PubSd``,
``LabelMataData``, a content ``Binding``/``Bnd`` (not checked), RSA (not checked), opaque data.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import sm2
from .errors import InvalidArgument
from .label import AIGCLabel
from .report import Finding, error, info, warning

ED25519_ALG = "1.3.101.112"
SM2_ALG = sm2.ALG_ID
SLOTS: dict[str, tuple[str, str, str]] = {
    "ReservedCode1": ("Label", "ContentProducer", "ProduceID"),
    "ReservedCode2": ("Label", "ContentPropagator", "PropagateID"),
}
_MAX_DATA = 16 << 10


def signed_string(fields: Mapping[str, Any], slot: str = "ReservedCode1") -> bytes:
    """The ASCII string a slot's signature covers, e.g. ``"Label":"1","ContentProducer":"X","ProduceID":"Y"``."""
    return ",".join(f"{json.dumps(k)}:{json.dumps(str(fields.get(k, '')))}" for k in SLOTS[slot]).encode("ascii")


# -- keys --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SigningKey:
    """A private key for security data: SM2 (default) or Ed25519. ``repr`` shows no secret."""

    algorithm: str  # SM2_ALG | ED25519_ALG
    _key: Any = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningKey({'SM2' if self.algorithm == SM2_ALG else 'Ed25519'}, <secret>)"

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)  # type: ignore[no-any-return]

    def public_raw(self) -> bytes:
        if self.algorithm == SM2_ALG:
            return self._key.public_key().raw()  # type: ignore[no-any-return]
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[no-any-return]


def load_signing_key(data: bytes) -> SigningKey:
    """An SM2 or Ed25519 private key from PEM; :class:`~aimark.errors.InvalidArgument` otherwise
    (the message never quotes the key)."""
    if sm2.is_sm2_pem(data):
        return SigningKey(SM2_ALG, sm2.load_private_key(data))
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None
    if key is not None and isinstance(key, ed25519.Ed25519PrivateKey):
        return SigningKey(ED25519_ALG, key)
    raise InvalidArgument("the security key is neither an SM2 nor an Ed25519 private key in PEM (PKCS#8)")


def read_signing_key(path: str) -> SigningKey:
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 16)
    except OSError as exc:
        raise InvalidArgument(f"cannot read the security key: {exc.strerror}", path=path) from None
    return load_signing_key(data)


def public_raw_from_pem(data: bytes) -> tuple[str, bytes]:
    """(AlgID, raw public key) of an SM2 or Ed25519 public (or private) key in PEM."""
    if sm2.is_sm2_pem(data):
        return SM2_ALG, sm2.load_public_key(data).raw()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        pub = serialization.load_pem_public_key(data)
    except ValueError:
        priv = serialization.load_pem_private_key(data, password=None)
        pub = priv.public_key()
    if not isinstance(pub, ed25519.Ed25519PublicKey):
        raise InvalidArgument("a pinned key is an SM2 or Ed25519 public key in PEM")
    return ED25519_ALG, pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_trusted_keys(directory: str) -> dict[str, bytes]:
    """Pinned public keys: every ``*.pem`` in ``directory`` that holds one, by file name."""
    out: dict[str, bytes] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise InvalidArgument(f"cannot read the trusted keys: {exc.strerror}", path=directory) from None
    for name in names:
        if not name.endswith(".pem"):
            continue
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read(1 << 16)
        try:
            out[name] = public_raw_from_pem(data)[1]
        except (InvalidArgument, ValueError, TypeError):
            continue
    if not out:
        raise InvalidArgument("no SM2 or Ed25519 public key (*.pem) in the trusted-keys directory", path=directory)
    return out


# -- signing -----------------------------------------------------------------------------------
def security_data(key: SigningKey, message: bytes) -> str:
    """The compact ``SecurityData`` JSON for ``message`` signed with ``key``."""
    sig = key.sign(message)
    doc = {
        "SecurityData": {
            "Type": "TC260PG",
            "Version": 1,
            "PubSD": [
                {"Type": "DS", "AlgID": key.algorithm, "TBSData": {"Type": "Md"}, "Signature": sig.hex().upper()},
                {"Type": "PubKey", "AlgID": key.algorithm, "KeyValue": key.public_raw().hex().upper()},
            ],
        }
    }
    return json.dumps(doc, separators=(",", ":"))


def sign_label(label: AIGCLabel, key: SigningKey, slot: str = "ReservedCode1") -> AIGCLabel:
    """``label`` with ``slot`` (ReservedCode1: the producer; ReservedCode2: the propagator)
    holding the security data over the slot's fields."""
    data = security_data(key, signed_string(label.fields(), slot))
    return replace(label, reserved_code1=data) if slot == "ReservedCode1" else replace(label, reserved_code2=data)


# -- checking ----------------------------------------------------------------------------------
@dataclass
class SlotCheck:
    """What a ReservedCode slot holds: ``status`` absent | valid | invalid | unsupported |
    opaque | malformed; ``identity`` True when the key is pinned (``pinned`` names it)."""

    slot: str
    status: str
    algorithm: str | None = None
    key: str | None = None  # the public key (hex), when given
    pinned: str | None = None
    identity: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "algorithm": {SM2_ALG: "SM3withSM2", ED25519_ALG: "Ed25519"}.get(self.algorithm or "", self.algorithm),
            "key": self.key,
            "key_source": None if self.key is None else ("pinned" if self.identity else "embedded"),
            "pinned": self.pinned,
            "identity": self.identity,
            "notes": list(self.notes),
        }


def _verify(alg: str, pub: bytes, sig: bytes, message: bytes) -> bool:
    if alg == SM2_ALG:
        try:
            return sm2.PublicKey.from_raw(pub).verify(sig, message)
        except InvalidArgument:
            return False
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        ed25519.Ed25519PublicKey.from_public_bytes(pub).verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def _hex(value: Any) -> bytes | None:
    if not isinstance(value, str) or len(value) > _MAX_DATA:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        return None


def check_slot(fields: Mapping[str, Any], slot: str, trusted: Mapping[str, bytes] | None = None) -> SlotCheck:
    """Check the security data in ``fields[slot]`` against the fields it covers."""
    value = fields.get(slot)
    if not isinstance(value, str) or not value.strip():
        return SlotCheck(slot, "absent")
    if len(value) > _MAX_DATA:
        return SlotCheck(slot, "malformed", notes=[f"{len(value)} characters, more than aimark reads"])
    try:
        doc = json.loads(value)
    except ValueError:
        return SlotCheck(slot, "opaque", notes=["not security data JSON (a digest or another product's format)"])
    if not isinstance(doc, dict):
        return SlotCheck(slot, "opaque", notes=["not a JSON object"])
    notes: list[str] = []
    sd = next((doc[k] for k in doc if k.lower() == "securitydata"), None)
    if not isinstance(sd, dict):
        return SlotCheck(slot, "malformed", notes=["no SecurityData object"])
    pubsd_key = next((k for k in sd if k.lower() == "pubsd"), None)
    if pubsd_key != "PubSD" and pubsd_key is not None:
        notes.append(f"{pubsd_key!r} written for 'PubSD'")
    entries = sd.get(pubsd_key) if pubsd_key else None
    if not isinstance(entries, list):
        return SlotCheck(slot, "malformed", notes=[*notes, "no PubSD list"])
    ds = next((e for e in entries if isinstance(e, dict) and e.get("Type") == "DS"), None)
    pk = next((e for e in entries if isinstance(e, dict) and e.get("Type") == "PubKey"), None)
    if ds is None:
        return SlotCheck(slot, "malformed", notes=[*notes, "no DS (signature) entry"])
    alg = str(ds.get("AlgID", ""))
    tbs = ds.get("TBSData") if isinstance(ds.get("TBSData"), dict) else {}
    tbs_type = str(tbs.get("Type", "")) if isinstance(tbs, dict) else ""
    if tbs_type in ("LabelMataData", "LabelMetaData"):
        notes.append(f"TBSData type {tbs_type!r} written for 'Md'")
    elif tbs_type in ("Binding", "Bnd") or (isinstance(tbs, dict) and ("CntSel" in tbs or "Bindings" in tbs)):
        return SlotCheck(slot, "unsupported", alg, notes=[*notes, "a content binding (Binding/CntSel): not checked by aimark"])
    elif tbs_type not in ("Md", ""):
        notes.append(f"TBSData type {tbs_type!r}")
    if alg not in (SM2_ALG, ED25519_ALG):
        return SlotCheck(slot, "unsupported", alg, notes=[*notes, f"algorithm {alg or '(none)'} is not checked by aimark"])
    sig = _hex(ds.get("Signature"))
    pub = _hex(pk.get("KeyValue")) if isinstance(pk, dict) else None
    if sig is None:
        return SlotCheck(slot, "malformed", alg, notes=[*notes, "the signature is not hex"])
    keyhex = pub.hex().upper() if pub is not None else None
    pinned = None
    if trusted:
        pinned = next((name for name, raw in trusted.items() if pub is not None and raw == pub), None)
        if pub is None and len(trusted) >= 1:  # no embedded key: try every pinned one
            msg = signed_string(fields, slot)
            pinned = next((name for name, raw in trusted.items() if _verify(alg, raw, sig, msg)), None)
            if pinned is not None:
                return SlotCheck(slot, "valid", alg, trusted[pinned].hex().upper(), pinned, True, notes)
    if pub is None:
        return SlotCheck(slot, "malformed", alg, notes=[*notes, "no public key to check the signature with (pin one)"])
    ok = _verify(alg, pub, sig, signed_string(fields, slot))
    return SlotCheck(slot, "valid" if ok else "invalid", alg, keyhex, pinned if ok else None, bool(ok and pinned), notes)


def findings_for(check: SlotCheck, pinning: bool) -> list[Finding]:
    """What a slot check means for the verdict."""
    site = check.slot
    out: list[Finding] = [warning("security_variant", f"security data: {n}", site) for n in check.notes if "written for" in n]
    if check.status == "invalid":
        out.append(error("security_invalid", "the security data's signature does not match the label's fields", site))
    elif check.status == "valid" and not check.identity:
        if pinning:
            msg = "the signature is valid, but its key is not one of the pinned keys"
            out.append(warning("security_untrusted_key", msg, site))
        else:
            msg = "valid signature by the key embedded in the label: integrity, not identity"
            out.append(info("security_integrity_only", msg, site))
    elif check.status in ("unsupported", "malformed"):
        out.append(warning(f"security_{check.status}", "; ".join(check.notes) or f"security data {check.status}", site))
    elif check.status == "opaque":
        out.append(info("security_opaque", "; ".join(check.notes), site))
    return out


__all__ = [
    "ED25519_ALG",
    "SLOTS",
    "SM2_ALG",
    "SigningKey",
    "SlotCheck",
    "check_slot",
    "findings_for",
    "load_signing_key",
    "load_trusted_keys",
    "public_raw_from_pem",
    "read_signing_key",
    "security_data",
    "sign_label",
    "signed_string",
]


# -- the verify check (stage SECURITY) ----------------------------------------------------------
def _check(ctx: Any) -> None:
    from .checks import VerifyContext

    assert isinstance(ctx, VerifyContext)
    rec = next((r for r in ctx.report.labels if not r.empty), None)
    if rec is None:
        return
    trusted = dict(ctx.options.trusted_keys)
    section: dict[str, Any] = {}
    for slot in SLOTS:
        check = check_slot(rec.aigc, slot, trusted)
        section[slot] = check.to_dict()
        for f in findings_for(check, bool(trusted)):
            ctx.report.findings.append(Finding(f.code, f.severity, f.message, f"{rec.site}:{slot}"))
    ctx.report.add_section("security", section)


def _register() -> None:
    from . import checks

    checks.register(checks.Check("security", checks.SECURITY, _check, wanted=lambda o: o.security))


_register()
