"""The video peers of ``bench_video.py``, run in their own environment (both need NumPy 1.x).

* invisible-watermark's ``dwtDctSvd`` on every frame (32 bits), decoded per sampled frame and
  combined by a majority vote of each bit;
* blind-video-watermark's DT CWT key mark (``DtcwtKeyEncoder``) on every frame with key 7 of 16
  candidate keys, detected as its own ``detect_video`` does: per-frame correlations summed over
  the sampled frames, the best key accepted when its sum exceeds 1.

Set up (offline after this; never part of aimark)::

    python -m venv /tmp/peers
    /tmp/peers/bin/pip install 'numpy<2' 'opencv-python-headless<4.11' dtcwt tqdm scipy PyWavelets av 'scikit-image<0.25'
    /tmp/peers/bin/pip install --no-deps blind-video-watermark invisible-watermark

Called by bench_video.py as ``/tmp/peers/bin/python video_peers.py embed|detect|quality ...``;
prints one JSON object. Frames go through PyAV; marked files are H.264 (libx264 veryfast CRF 20,
aimark's default) without audio.
"""

from __future__ import annotations

import json
import sys
import types

import numpy as np

for _mod in ("torch", "onnxruntime"):  # only invisible-watermark's unused RivaGAN model imports these
    _stub = sys.modules.setdefault(_mod, types.ModuleType(_mod))
    _stub.Tensor = type("Tensor", (), {})  # type: ignore[attr-defined]  (scipy asks whether arrays are torch tensors)

BITS = 32
PAYLOAD = 0x5A3C96E1
KEYS = list(range(16))
KEY = 7


def _dwt() -> tuple[object, object]:
    from imwatermark import WatermarkDecoder, WatermarkEncoder

    enc = WatermarkEncoder()
    enc.set_watermark("bits", [(PAYLOAD >> (BITS - 1 - i)) & 1 for i in range(BITS)])
    return enc, WatermarkDecoder("bits", BITS)


def embed_frame(method: str, bgr: np.ndarray, state: dict[str, object]) -> np.ndarray:
    import cv2

    if method == "dwtDctSvd":
        enc = state.setdefault("enc", _dwt()[0])
        return enc.encode(bgr, "dwtDctSvd")  # type: ignore[attr-defined, no-any-return]
    from blind_video_watermark.dtcwt_key import DtcwtKeyEncoder
    from blind_video_watermark.utils import generate_wm

    enc = state.get("bvw")
    if enc is None:
        enc = DtcwtKeyEncoder()
        enc.wm = generate_wm(KEY, enc.infer_wm_shape(bgr.shape[:2]))
        state["bvw"] = enc
    yuv = cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2YUV)
    out = cv2.cvtColor(enc.encode(yuv), cv2.COLOR_YUV2BGR)  # type: ignore[attr-defined]
    return np.clip(np.around(out), 0, 255).astype(np.uint8)


def embed(method: str, src: str, dst: str) -> dict[str, object]:
    import av

    state: dict[str, object] = {}
    with av.open(src) as inp, av.open(dst, "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream("libx264", rate=vin.average_rate or 25)
        vout.width, vout.height, vout.pix_fmt = vin.codec_context.width, vin.codec_context.height, "yuv420p"
        vout.options = {"preset": "veryfast", "crf": "20"}
        n = 0
        for frame in inp.decode(vin):
            bgr = frame.to_ndarray(format="bgr24")
            new = av.VideoFrame.from_ndarray(embed_frame(method, bgr, state), format="bgr24")
            new.pts, new.time_base = frame.pts, frame.time_base
            for p in vout.encode(new.reformat(format="yuv420p")):
                out.mux(p)
            n += 1
        for p in vout.encode(None):
            out.mux(p)
    return {"frames": n}


def sample(path: str, n: int) -> list[np.ndarray]:
    import av

    with av.open(path) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]
    if not frames:
        return []
    idx = np.linspace(0, len(frames) - 1, min(n, len(frames))).round().astype(int)
    return [frames[i] for i in idx]


def detect(method: str, path: str, n: int, ref_h: int, ref_w: int) -> dict[str, object]:
    import cv2

    frames = sample(path, n)
    if method == "dwtDctSvd":
        dec = _dwt()[1]
        votes = np.zeros(BITS)
        for f in frames:
            bits = np.asarray(dec.decode(f, "dwtDctSvd"), float)  # type: ignore[attr-defined]
            votes += bits * 2 - 1
        got = [int(v > 0) for v in votes]
        truth = [(PAYLOAD >> (BITS - 1 - i)) & 1 for i in range(BITS)]
        acc = float(np.mean([a == b for a, b in zip(got, truth, strict=True)]))
        return {"found": got == truth, "bit_accuracy": acc, "frames": len(frames)}
    from blind_video_watermark.dtcwt_key import DtcwtKeyDecoder
    from blind_video_watermark.utils import generate_wm

    dec = DtcwtKeyDecoder()
    shape = dec.infer_wm_shape((ref_h, ref_w))
    nwmks = [(w - w.mean()) / w.std() for w in (generate_wm(k, shape) for k in KEYS)]
    sums = np.zeros(len(KEYS))
    for f in frames:
        f = cv2.resize(f.astype(np.float32), (ref_w, ref_h))  # the peer needs the original frame size
        wm = dec.decode(cv2.cvtColor(f, cv2.COLOR_BGR2YUV))
        nwm = (wm - wm.mean()) / (wm.std() + 1e-12)
        sums += [float(np.sum(nwm * k) / (shape[0] * shape[1])) for k in nwmks]
    best = int(np.argmax(sums))
    found_any = bool(sums[best] > 1)
    return {"found": found_any and best == KEY, "any": found_any, "key": best if found_any else None, "frames": len(frames)}


def quality(method: str, path: str, n: int) -> dict[str, object]:
    """PSNR/SSIM (over RGB) of the mark alone: frames before and after embedding, no encoding."""
    from skimage.metrics import structural_similarity

    state: dict[str, object] = {}
    ps, ss = [], []
    for f in sample(path, n):
        m = embed_frame(method, f, state)
        mse = float(((f.astype(float) - m) ** 2).mean())
        ps.append(10 * np.log10(255**2 / max(mse, 1e-9)))
        ss.append(float(structural_similarity(f, m, data_range=255, channel_axis=2)))
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}


def main() -> int:
    cmd, method = sys.argv[1], sys.argv[2]
    if cmd == "embed":
        out = embed(method, sys.argv[3], sys.argv[4])
    elif cmd == "detect":
        out = detect(method, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
    else:
        out = quality(method, sys.argv[3], int(sys.argv[4]))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
