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
    return list_viterbi(soft, 1)[0]


# the two transitions into each state: state = (input bit << 5) | (previous state >> 1)
_NS = np.arange(_STATES, dtype=np.int64)
_PRED = ((_NS & (_STATES // 2 - 1))[:, None] << 1) | np.arange(2)[None, :]  # (64, 2) previous states
_PREG = ((_NS >> (_K - 2))[:, None] << (_K - 1)) | _PRED  # (64, 2) registers of those transitions


def list_viterbi(soft: np.ndarray, paths: int) -> list[np.ndarray]:
    """The information bits of the ``paths`` most likely zero-tailed paths, best first (parallel
    list Viterbi: every state keeps its ``paths`` best survivors). Each path that a caller
    tag-checks is one attempt of the false-positive bound."""
    n = len(_GENERATORS)
    steps = len(soft) // n
    y = np.asarray(soft, dtype=np.float64)[: steps * n].reshape(steps, n)
    branches = (y @ (2.0 * _OUT - 1.0).T)[:, _PREG, None]  # (steps, 64, 2, 1)
    metric = np.full((_STATES, paths), -np.inf)
    metric[0, 0] = 0.0
    history = np.empty((steps, _STATES, paths), dtype=np.int64)  # index into (predecessor, rank)
    for t in range(steps):
        cand = (metric[_PRED] + branches[t]).reshape(_STATES, 2 * paths)
        top = np.argsort(-cand, axis=1, kind="stable")[:, :paths]  # two sorted runs: a merge
        metric = np.take_along_axis(cand, top, axis=1)
        history[t] = top
    ranks = np.flatnonzero(np.isfinite(metric[0]))  # paths into state 0 (fewer only on very short inputs)
    state, r = np.zeros(len(ranks), dtype=np.int64), ranks
    bits = np.empty((len(ranks), steps), dtype=np.int64)
    for t in range(steps - 1, -1, -1):
        j, r = np.divmod(history[t, state, r], paths)
        bits[:, t] = state >> (_K - 2)
        state = _PRED[state, j]
    return list(bits[:, : steps - (_K - 1)])


def check_frame(info: np.ndarray, key: Key, domain: str) -> bytes | None:
    """The payload of decoded information bits when their keyed tag checks, else ``None``."""
    data = np.packbits(np.asarray(info[:INFO_BITS], dtype=np.uint8)).tobytes()
    payload, tag = data[:PAYLOAD_BYTES], data[PAYLOAD_BYTES:]
    return payload if tag_of(payload, key, domain) == tag else None


def keyed_rng(key: Key, domain: str) -> np.random.Generator:
    """A NumPy generator seeded by the key and a domain string (keyed pseudo-random patterns)."""
    return np.random.default_rng(np.frombuffer(keyed_bytes(key, domain), dtype=np.uint64))


__all__ = ["CODED_BITS", "INFO_BITS", "TAG_BITS", "check_frame", "encode", "frame_bits", "keyed_rng", "list_viterbi", "viterbi"]
