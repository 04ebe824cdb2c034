"""What every media watermark shares: keys, the 64-bit payload, keyed framing and the
false-positive arithmetic.

A watermark carries a short *payload* that identifies the label, not the label itself: by
default a keyed hash of ContentProducer + ProduceID (:func:`derive_payload`), so a verifier
holding the key can tell whether a watermark matches the file's metadata label.

Keys: :data:`DEFAULT_KEY` is public (anyone can detect and read the payload); a service that
wants marks only it can verify passes its own secret key. Every keyed quantity is an
HMAC-SHA256 of the key with a domain string, so one key serves every media type without two
uses of it ever colliding.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from ..label import AIGCLabel

#: The public default key: marks made with it can be detected (and their payload read) by anyone.
DEFAULT_KEY = b"aimark public watermark key v1"
PAYLOAD_BYTES = 8  # 64-bit payload
Key = str | bytes | None


def normalize_key(key: Key) -> bytes:
    """Bytes of a key given as ``str`` (UTF-8), ``bytes`` or ``None`` (the public default)."""
    if key is None:
        return DEFAULT_KEY
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise InvalidArgument("a watermark key must be a non-empty str or bytes")
    return bytes(key)


def key_from_env(path: str | None = None) -> Key:
    """A watermark key kept out of process lists: the contents of ``path`` (surrounding
    whitespace stripped), else of the file ``AIMARK_WATERMARK_KEY_FILE`` names, else the
    ``AIMARK_WATERMARK_KEY`` variable; ``None`` (the public key) when none is set."""
    import os

    path = path or os.environ.get("AIMARK_WATERMARK_KEY_FILE")
    if path:
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 16).strip()
        except OSError as exc:
            raise InvalidArgument(f"cannot read the watermark key file: {exc.strerror}", path=path) from None
        if not data:
            raise InvalidArgument("the watermark key file is empty", path=path)
        return data
    return os.environ.get("AIMARK_WATERMARK_KEY") or None


def keyed_bytes(key: Key, domain: str, data: bytes = b"", n: int = 32) -> bytes:
    """``n`` pseudo-random bytes (n <= 32) determined by the key, a domain string and data."""
    if not 0 < n <= 32:
        raise ValueError("keyed_bytes gives 1..32 bytes")
    return hmac.new(normalize_key(key), domain.encode("ascii") + b"\0" + data, hashlib.sha256).digest()[:n]


def normalize_payload(payload: bytes | int | str) -> bytes:
    """The 8 payload bytes from bytes, a non-negative int < 2**64, or 16 hex digits."""
    if isinstance(payload, int):
        if not 0 <= payload < 1 << 64:
            raise InvalidArgument("an integer payload must be in [0, 2**64)")
        return payload.to_bytes(PAYLOAD_BYTES, "big")
    if isinstance(payload, str):
        try:
            payload = bytes.fromhex(payload)
        except ValueError:
            raise InvalidArgument("a text payload must be 16 hex digits") from None
    if not isinstance(payload, (bytes, bytearray)) or len(payload) != PAYLOAD_BYTES:
        raise InvalidArgument(f"a payload is {PAYLOAD_BYTES} bytes (64 bits)")
    return bytes(payload)


def derive_payload(label: AIGCLabel, key: Key = None) -> bytes:
    """The default payload of a label: a keyed hash of ContentProducer and ProduceID.

    Propagation (a platform updating ContentPropagator/PropagateID) does not change it, so a
    watermark embedded by the producer keeps matching the label after propagation.
    """
    return payload_for(label.content_producer, label.produce_id, key)


def payload_for(content_producer: str, produce_id: str, key: Key = None) -> bytes:
    """:func:`derive_payload` from the two fields (what a verifier reads from a label)."""
    data = f"{content_producer}\0{produce_id}".encode()
    return keyed_bytes(key, "aimark/payload/v1", data, PAYLOAD_BYTES)


def union_bound(trials: int, bits: int) -> float:
    """Upper bound on the chance that unmarked content passes a ``bits``-bit check in any of
    ``trials`` tries (each try passes with probability 2**-bits): the false-positive bound."""
    return min(1.0, max(trials, 1) * 2.0**-bits)


__all__ = [
    "DEFAULT_KEY",
    "PAYLOAD_BYTES",
    "Key",
    "derive_payload",
    "key_from_env",
    "keyed_bytes",
    "normalize_key",
    "normalize_payload",
    "payload_for",
    "union_bound",
]
