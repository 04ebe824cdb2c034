"""SM2 signatures with SM3 (GB/T 32918, GM/T 0003), in pure Python.

Chosen on purpose (measured side by side in ``benchmarks/bench_trust.py``): ``cryptography``
has SM3 but no SM2; ``tongsuopy`` is fast (a native Tongsuo build) but has had no release since
2023; ``gmssl`` hard-codes the user id and is an order of magnitude slower. This module is a few
hundred lines that this project maintains: SM3 from ``cryptography``, the curve arithmetic here
-- Jacobian coordinates, a precomputed fixed-base table for the generator (built on first use),
a width-5 NAF for a public key seen for the first times and a cached fixed-window table for a
key seen often (a producer whose files a platform verifies by the thousand). It reproduces the
standard's worked example with its published ``k`` and interoperates with OpenSSL 3
(``openssl pkeyutl -rawin -digest sm3 -pkeyopt distid:1234567812345678``).

Keys are PEM: PKCS#8 ``PRIVATE KEY`` (or SEC 1 ``EC PRIVATE KEY``) and SubjectPublicKeyInfo
``PUBLIC KEY``, both with the SM2 curve OID 1.2.156.10197.1.301, as OpenSSL writes them.
Signatures are DER ``SEQUENCE { r INTEGER, s INTEGER }``.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .errors import InvalidArgument

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = P - 3
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
DEFAULT_ID = b"1234567812345678"
ALG_ID = "1.2.156.10197.1.501"  # SM3withSM2

Point = tuple[int, int]
Jacobian = tuple[int, int, int]
_INFINITY: Jacobian = (0, 1, 0)


def sm3(data: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes

    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


# -- curve arithmetic (a = -3) -----------------------------------------------------------------
def _double(pt: Jacobian) -> Jacobian:
    x, y, z = pt
    if not z or not y:
        return _INFINITY
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P
    yy = y * y % P
    s = 4 * x * yy % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * yy * yy) % P, 2 * y * z % P


def _add_affine(pt: Jacobian, x2: int, y2: int) -> Jacobian:
    x1, y1, z1 = pt
    if not z1:
        return x2, y2, 1
    z1z1 = z1 * z1 % P
    h = (x2 * z1z1 - x1) % P
    r = (y2 * z1 * z1z1 - y1) % P
    if not h:
        return _double(pt) if not r else _INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    return x3, (r * (v - x3) - y1 * hhh) % P, z1 * h % P


def _affine(pt: Jacobian) -> Point | None:
    x, y, z = pt
    if not z:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _batch_affine(points: Sequence[Jacobian]) -> list[Point]:
    """Affine forms of finite Jacobian points with one inversion (Montgomery's trick)."""
    acc = [1] * (len(points) + 1)
    for i, (_, _, z) in enumerate(points):
        acc[i + 1] = acc[i] * z % P
    inv = pow(acc[-1], -1, P)
    out: list[Point] = [(0, 0)] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        zi = inv * acc[i] % P
        inv = inv * z % P
        zi2 = zi * zi % P
        out[i] = (x * zi2 % P, y * zi2 * zi % P)
    return out


_WINDOW = 8


@lru_cache(maxsize=1)
def _base_table() -> tuple[tuple[Point, ...], ...]:
    """table[i][j - 1] = j * 2**(8 i) * G, for the 32 bytes of a scalar (built once, ~50 ms)."""
    rows = []
    base: Jacobian = (GX, GY, 1)
    for _ in range(256 // _WINDOW):
        bx, by = _affine(base)  # type: ignore[misc]
        row: list[Jacobian] = [(bx, by, 1)]
        for _ in range((1 << _WINDOW) - 2):
            row.append(_add_affine(row[-1], bx, by))
        rows.append(tuple(_batch_affine(row)))
        base = _add_affine(row[-1], bx, by)  # 2**8 * base
    return tuple(rows)


def _mul_base(k: int) -> Jacobian:
    acc = _INFINITY
    for row in _base_table():
        j = k & 0xFF
        if j:
            acc = _add_affine(acc, *row[j - 1])
        k >>= _WINDOW
    return acc


def _naf(k: int, w: int = 5) -> list[int]:
    out = []
    while k:
        if k & 1:
            m = k & ((1 << w) - 1)
            if m >= 1 << (w - 1):
                m -= 1 << w
            k -= m
        else:
            m = 0
        out.append(m)
        k >>= 1
    return out


@lru_cache(maxsize=64)
def _odd_multiples(x: int, y: int, w: int = 5) -> tuple[Point, ...]:
    """P, 3P, 5P, ... (2**(w-1) - 1) P in affine, for a public key's NAF (cached per key)."""
    twice = _affine(_double((x, y, 1)))
    assert twice is not None
    pts: list[Jacobian] = [(x, y, 1)]
    for _ in range((1 << (w - 2)) - 1):
        pts.append(_add_affine(pts[-1], *twice))
    return tuple(_batch_affine(pts))


_SEEN: dict[Point, int] = {}
_KEY_TABLE_AFTER = 3  # a key verified this many times gets a fixed-window table (~5 ms to build)


@lru_cache(maxsize=32)
def _key_table(x: int, y: int) -> tuple[tuple[Point, ...], ...]:
    """table[i][j - 1] = j * 16**i * Q: the fixed-window table of a key verified often."""
    rows = []
    base: Jacobian = (x, y, 1)
    for _ in range(64):
        bx, by = _affine(base)  # type: ignore[misc]
        row: list[Jacobian] = [(bx, by, 1)]
        for _ in range(14):
            row.append(_add_affine(row[-1], bx, by))
        rows.append(tuple(_batch_affine(row)))
        base = _add_affine(row[-1], bx, by)
    return tuple(rows)


def _mul(k: int, pt: Point) -> Jacobian:
    """k * pt: by NAF for a key seen rarely, by a cached fixed-window table (no doublings) for a
    key seen often (a producer whose files a platform verifies by the thousand)."""
    seen = _SEEN.get(pt, 0) + 1
    if len(_SEEN) > 1024:
        _SEEN.clear()
    _SEEN[pt] = seen
    if seen > _KEY_TABLE_AFTER:
        acc = _INFINITY
        for row in _key_table(*pt):
            j = k & 0xF
            if j:
                acc = _add_affine(acc, *row[j - 1])
            k >>= 4
        return acc
    return _mul_naf(k, _odd_multiples(*pt))


def _mul_naf(k: int, table: tuple[Point, ...]) -> Jacobian:
    """The NAF double-and-add chain with the doubling inlined (the hot loop of a verify)."""
    p = P
    x, y, z = 0, 1, 0
    for d in reversed(_naf(k)):
        if z:  # double (a = -3)
            zz = z * z % p
            m = 3 * (x - zz) * (x + zz) % p
            yy = y * y % p
            s4 = 4 * x * yy % p
            x3 = (m * m - 2 * s4) % p
            z = 2 * y * z % p
            y = (m * (s4 - x3) - 8 * yy * yy) % p
            x = x3
        if d:
            qx, qy = table[abs(d) >> 1]
            if d < 0:
                qy = p - qy
            x, y, z = _add_affine((x, y, z), qx, qy)
    return x, y, z


def _add(p1: Jacobian, p2: Jacobian) -> Jacobian:
    q = _affine(p2)
    return p1 if q is None else _add_affine(p1, *q)


def on_curve(pt: Point) -> bool:
    x, y = pt
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


# -- signatures --------------------------------------------------------------------------------
def _b32(v: int) -> bytes:
    return v.to_bytes(32, "big")


def z_value(pub: Point, uid: bytes = DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA)."""
    if len(uid) * 8 >= 1 << 16:
        raise InvalidArgument("an SM2 user id is shorter than 8 KiB")
    return sm3((len(uid) * 8).to_bytes(2, "big") + uid + _b32(A) + _b32(B) + _b32(GX) + _b32(GY) + _b32(pub[0]) + _b32(pub[1]))


def _digest(pub: Point, message: bytes, uid: bytes) -> int:
    return int.from_bytes(sm3(z_value(pub, uid) + message), "big")


@dataclass(frozen=True)
class PublicKey:
    """An SM2 public key (a point on the curve)."""

    point: Point

    def __post_init__(self) -> None:
        if not on_curve(self.point):
            raise InvalidArgument("not a point on the SM2 curve")

    def verify(self, signature: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bool:
        """Whether ``signature`` (DER) is an SM3withSM2 signature of ``message``."""
        try:
            r, s = decode_signature(signature)
        except ValueError:
            return False
        if not (1 <= r < N and 1 <= s < N):
            return False
        t = (r + s) % N
        if not t:
            return False
        pt = _affine(_add(_mul_base(s), _mul(t, self.point)))
        if pt is None:
            return False
        return (_digest(self.point, message, uid) + pt[0]) % N == r

    def raw(self) -> bytes:
        """The uncompressed point ``04 || x || y``."""
        return b"\x04" + _b32(self.point[0]) + _b32(self.point[1])

    @classmethod
    def from_raw(cls, data: bytes) -> PublicKey:
        if len(data) != 65 or data[0] != 4:
            raise InvalidArgument("an SM2 public key is an uncompressed point (65 bytes, 04 || x || y)")
        return cls((int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")))

    def to_pem(self) -> bytes:
        return _pem("PUBLIC KEY", _spki(self.raw()))


@dataclass(frozen=True)
class PrivateKey:
    """An SM2 private key. ``repr`` never shows the secret."""

    d: int

    def __post_init__(self) -> None:
        if not 1 <= self.d < N - 1:
            raise InvalidArgument("an SM2 private key is in [1, n - 2]")

    def __repr__(self) -> str:
        return "PrivateKey(<secret>)"

    @classmethod
    def generate(cls) -> PrivateKey:
        return cls(secrets.randbelow(N - 2) + 1)

    def public_key(self) -> PublicKey:
        pt = _affine(_mul_base(self.d))
        assert pt is not None
        return PublicKey(pt)

    def sign(self, message: bytes, uid: bytes = DEFAULT_ID, *, k: int | None = None) -> bytes:
        """The DER signature of ``message`` (``k``: a fixed nonce, for test vectors only)."""
        pub = self.public_key().point
        e = _digest(pub, message, uid)
        while True:
            kk = k if k is not None else secrets.randbelow(N - 1) + 1
            pt = _affine(_mul_base(kk))
            assert pt is not None
            r = (e + pt[0]) % N
            if r and r + kk != N:
                s = pow(1 + self.d, -1, N) * (kk - r * self.d) % N
                if s:
                    return encode_signature(r, s)
            if k is not None:
                raise InvalidArgument("this k gives no signature")

    def to_pem(self) -> bytes:
        """PKCS#8 ``PRIVATE KEY`` with the public key inside, as OpenSSL writes it."""
        ec = _seq(_int(1) + _tlv(0x04, _b32(self.d)) + _tlv(0xA1, _tlv(0x03, b"\x00" + self.public_key().raw())))
        return _pem("PRIVATE KEY", _seq(_int(0) + _ALG + _tlv(0x04, ec)))


# -- DER ---------------------------------------------------------------------------------------
_OID_EC = bytes.fromhex("06072A8648CE3D0201")
_OID_SM2 = bytes.fromhex("06082A811CCF5501822D")
_ALG = bytes([0x30, len(_OID_EC) + len(_OID_SM2)]) + _OID_EC + _OID_SM2


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def _seq(body: bytes) -> bytes:
    return _tlv(0x30, body)


def _int(v: int) -> bytes:
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
    return _tlv(0x02, b)


def _spki(raw: bytes) -> bytes:
    return _seq(_ALG + _tlv(0x03, b"\x00" + raw))


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, value, next position) of the DER element at ``pos``; ValueError when malformed."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        n = first & 0x7F
        if not 1 <= n <= 4 or pos + n > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    else:
        length = first
    if pos + length > len(data):
        raise ValueError("DER element runs past its data")
    return tag, data[pos : pos + length], pos + length


def _children(body: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(body):
        tag, value, pos = _read(body, pos)
        out.append((tag, value))
        if len(out) > 16:
            raise ValueError("too many DER elements")
    return out


def encode_signature(r: int, s: int) -> bytes:
    return _seq(_int(r) + _int(s))


def decode_signature(der: bytes) -> tuple[int, int]:
    tag, body, end = _read(der, 0)
    parts = _children(body) if tag == 0x30 and end == len(der) else []
    if len(parts) != 2 or any(t != 0x02 for t, _ in parts):
        raise ValueError("not a DER SEQUENCE of two INTEGERs")
    return int.from_bytes(parts[0][1], "big"), int.from_bytes(parts[1][1], "big")


def _pem(label: str, der: bytes) -> bytes:
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n".encode()


_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*([A-Za-z0-9+/=\s]+?)-----END \1-----")


def pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(label, DER) of each PEM block in ``data``."""
    out = []
    for m in _PEM.finditer(data[: 1 << 20]):
        try:
            out.append((m.group(1).decode(), base64.b64decode(re.sub(rb"\s+", b"", m.group(2)), validate=True)))
        except ValueError:
            continue
    return out


def is_sm2_pem(data: bytes) -> bool:
    return any(_OID_SM2 in der for _, der in pem_blocks(data))


def load_private_key(data: bytes) -> PrivateKey:
    """An SM2 private key from PEM (PKCS#8 or SEC 1)."""
    for label, der in pem_blocks(data):
        try:
            if label == "PRIVATE KEY":
                tag, body, _ = _read(der, 0)
                parts = _children(body)
                if tag != 0x30 or len(parts) < 3 or _OID_SM2 not in parts[1][1] or parts[2][0] != 0x04:
                    continue
                der = parts[2][1]
            elif label != "EC PRIVATE KEY":
                continue
            tag, body, _ = _read(der, 0)
            parts = _children(body)
            if tag == 0x30 and len(parts) >= 2 and parts[1][0] == 0x04 and len(parts[1][1]) <= 32:
                return PrivateKey(int.from_bytes(parts[1][1], "big"))
        except ValueError:
            continue
    raise InvalidArgument("no SM2 private key in this PEM data (PKCS#8 or EC PRIVATE KEY with the SM2 curve)")


def load_public_key(data: bytes) -> PublicKey:
    """An SM2 public key from a PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo), or the public half
    of a private key."""
    for label, der in pem_blocks(data):
        if label != "PUBLIC KEY":
            continue
        try:
            tag, body, _ = _read(der, 0)
            parts = _children(body)
            if tag == 0x30 and len(parts) == 2 and _OID_SM2 in parts[0][1] and parts[1][0] == 0x03:
                return PublicKey.from_raw(parts[1][1][1:])
        except ValueError:
            continue
    return load_private_key(data).public_key()


__all__ = [
    "ALG_ID",
    "DEFAULT_ID",
    "PrivateKey",
    "PublicKey",
    "decode_signature",
    "encode_signature",
    "is_sm2_pem",
    "load_private_key",
    "load_public_key",
    "pem_blocks",
    "sm3",
    "z_value",
]
