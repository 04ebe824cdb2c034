"""Payload framing and error correction shared by the signal watermarks (image, audio, video).

A *frame* is the 64-bit payload followed by a keyed tag of :data:`TAG_BITS` bits (an HMAC of
the payload), so a decoded frame is accepted only when its tag checks. For content that carries
no mark, the decoder's output is effectively random and passes with probability
``2**-TAG_BITS`` per attempt; :func:`aimark.watermark.union_bound` turns the number of attempts
into the false-positive bound that detectors report as ``p_value``.

The frame is protected by a rate-1/3 convolutional code (constraint length 7, generators
133/171/165 octal, zero tail) decoded with a soft-decision Viterbi decoder: a detector hands in
one real number per coded bit (positive means 1, magnitude means confidence).
"""

from __future__ import annotations

import numpy as np

from . import PAYLOAD_BYTES, Key, keyed_bytes, normalize_payload

TAG_BITS = 40
INFO_BITS = PAYLOAD_BYTES * 8 + TAG_BITS  # 104
_K = 7
_GENERATORS = (0o133, 0o171, 0o165)
_STATES = 1 << (_K - 1)
CODED_BITS = (INFO_BITS + _K - 1) * len(_GENERATORS)  # 330


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while np.any(x):
        out ^= x & 1
        x >>= 1
    return out


# register = (input bit << 6) | state, where state holds the previous 6 inputs (newest in bit 5)
_REG = np.arange(1 << _K, dtype=np.int64)
_OUT = np.stack([_parity(_REG & g) for g in _GENERATORS], axis=1)  # (128, 3) coded bits per register


def tag_of(payload: bytes, key: Key, domain: str) -> bytes:
    return keyed_bytes(key, f"{domain}/tag", payload, TAG_BITS // 8)


def frame_bits(payload: bytes | int | str, key: Key, domain: str) -> np.ndarray:
    """The :data:`INFO_BITS` information bits (0/1) of a payload: payload then keyed tag."""
    p = normalize_payload(payload)
    data = p + tag_of(p, key, domain)
    return np.unpackbits(np.frombuffer(data, dtype=np.uint8)).astype(np.int64)


def encode(bits: np.ndarray) -> np.ndarray:
    """Convolutionally encode 0/1 bits (zero-tailed): returns ``3 * (len(bits) + 6)`` bits."""
    state = 0
    out = []
    for b in list(bits) + [0] * (_K - 1):
        reg = (int(b) << (_K - 1)) | state
        out.extend(_OUT[reg])
        state = reg >> 1
    return np.asarray(out, dtype=np.int64)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Soft-decision Viterbi decoding of :func:`encode`'s output; returns the information bits."""
    n = len(_GENERATORS)
    steps = len(soft) // n
    y = np.asarray(soft, dtype=np.float64)[: steps * n].reshape(steps, n)
    signs = 2.0 * _OUT - 1.0  # (128, 3)
    metric = np.full(_STATES, -np.inf)
    metric[0] = 0.0
    history = np.empty((steps, _STATES), dtype=np.int64)  # winning register per next state
    regs = _REG.reshape(2, _STATES)  # row b: registers with input bit b; column = previous state
    for t in range(steps):
        branch = signs @ y[t]  # (128,)
        cand = metric[regs & (_STATES - 1)] + branch[regs]  # (2, 64) indexed [b, prev state]
        # next state of register r is r >> 1: for input b and prev state s, next = (b << 5) | (s >> 1)
        c = cand.reshape(2, _STATES // 2, 2)  # [b, s >> 1, s & 1]
        pick = np.argmax(c, axis=2)  # which of the two predecessors wins
        metric = np.take_along_axis(c, pick[..., None], axis=2)[..., 0].reshape(_STATES)
        prev = (np.arange(_STATES // 2)[None, :] << 1) | pick  # (2, 32) winning previous states
        history[t] = ((np.arange(2)[:, None] << (_K - 1)) | prev).reshape(_STATES)
    state = 0  # zero tail: the path ends in state 0
    bits = np.empty(steps, dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        reg = history[t, state]
        bits[t] = reg >> (_K - 1)
        state = reg & (_STATES - 1)
    return bits[: steps - (_K - 1)]


def check_frame(info: np.ndarray, key: Key, domain: str) -> bytes | None:
    """The payload of decoded information bits when their keyed tag checks, else ``None``."""
    data = np.packbits(np.asarray(info[:INFO_BITS], dtype=np.uint8)).tobytes()
    payload, tag = data[:PAYLOAD_BYTES], data[PAYLOAD_BYTES:]
    return payload if tag_of(payload, key, domain) == tag else None


def keyed_rng(key: Key, domain: str) -> np.random.Generator:
    """A NumPy generator seeded by the key and a domain string (keyed pseudo-random patterns)."""
    return np.random.default_rng(np.frombuffer(keyed_bytes(key, domain), dtype=np.uint64))


__all__ = ["CODED_BITS", "INFO_BITS", "TAG_BITS", "check_frame", "encode", "frame_bits", "keyed_rng", "viterbi"]
