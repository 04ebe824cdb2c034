"""Why full video labeling costs more than a plain re-encode: the time and file size of a PyAV
decode + encode with the frame watermark at several strengths, against the same transcode with
nothing added, at 720p and 1080p (libx264 veryfast CRF 20, aimark's default settings).

    python benchmarks/bench_video_speed.py [--strengths 0,1.0,1.6,2.4] [--write benchmarks/RESULTS.md]

The clips are the speed clips of ``bench_video.py`` (a camera pan over scikit-image's astronaut
photograph, NASA, public domain): 10 s at 1280x720 and 6 s at 1920x1080, 25 fps. "mask only"
computes the texture mask of every frame and adds nothing (the watermark's own arithmetic);
strength 2.4 is the default (about 40.5 dB PSNR); the sigma rows smooth the tile more than the
default before use (fewer high frequencies for the encoder). Best of 2 runs each.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import aimark
import bench_video as bv
from _results import write_section
from aimark.video import io as vio
from aimark.video import watermark as vw


def clip(d: Path, w: int, h: int, seconds: int) -> Path:
    p = d / f"speed-{h}.mp4"
    if not p.exists():
        bv.encode_frames(bv.motion_frames(bv.photos()["astronaut"], w, h, seconds * bv.FPS, 0), p)
    return p


def timed(buf: bytes, fn: object) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(2):
        t = time.perf_counter()
        m = vio.transcode(buf, "mp4", fn, limits=aimark.DEFAULT_LIMITS)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - t)
        size = len(m)
        m.close()
    return best, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "aimark-bench-video")
    ap.add_argument("--strengths", default="1.0,1.6,2.4")
    ap.add_argument("--sigmas", default="1.5,2.0", help="tile smoothing widths tried at the default strength")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    strengths = [float(s) for s in args.strengths.split(",")]
    rows: dict[str, dict[int, tuple[float, float, float]]] = {}
    for w, h, seconds in ((1280, 720, 10), (1920, 1080, 6)):
        buf = clip(args.dir, w, h, seconds).read_bytes()
        n = seconds * bv.FPS
        plain_t, plain_size = timed(buf, lambda pl: None)
        rows.setdefault("plain decode + encode", {})[h] = (n / plain_t, 1.0, 1.0)
        t, size = timed(buf, lambda pl: vw.mask(pl.y))
        rows.setdefault("mask only (nothing added)", {})[h] = (n / t, t / plain_t, size / plain_size)
        for s in strengths:
            emb = vw.Embedder(bytes(8), None, w, h, strength=s)
            t, size = timed(buf, lambda pl, e=emb: e(pl.y))
            name = f"watermark, strength {s:g}" + (" (default)" if s == vw.DEFAULT_STRENGTH else "")
            rows.setdefault(name, {})[h] = (n / t, t / plain_t, size / plain_size)
        for sigma in (float(x) for x in args.sigmas.split(",") if x):
            vw.smooth_tile.__defaults__ = (sigma,)  # the Embedder smooths its tile with this width
            try:
                emb = vw.Embedder(bytes(8), None, w, h)
            finally:
                vw.smooth_tile.__defaults__ = (vw.SMOOTH_SIGMA,)
            t, size = timed(buf, lambda pl, e=emb: e(pl.y))
            rows.setdefault(f"watermark, default strength, tile smoothing sigma {sigma:g} (default {vw.SMOOTH_SIGMA:g})", {})[
                h
            ] = (n / t, t / plain_t, size / plain_size)
        print(f"{h}p done", flush=True)
    lines = [
        "| transcode with | 720p fps | 720p time / plain | 720p size / plain | 1080p fps | 1080p time / plain | "
        "1080p size / plain |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        a, b = r[720], r[1080]
        lines.append(f"| {name} | {a[0]:.1f} | {a[1]:.2f} | {a[2]:.2f} | {b[0]:.1f} | {b[1]:.2f} | {b[2]:.2f} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        cmd = "python benchmarks/bench_video_speed.py"
        body = f"`{cmd} --write benchmarks/RESULTS.md`\n\n{text}\n"
        write_section(args.write, "video-speed", "Video labeling time and size against the watermark strength", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
