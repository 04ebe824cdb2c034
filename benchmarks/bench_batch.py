"""Batch verify throughput: ``aimark verify DIR -r --json --metadata-only --jobs N``.

10,000 small labeled files (PNG, JPEG, WAV, MP3, Markdown in equal parts, made here from a
generated picture and tone) are verified by the CLI as a user runs it (a subprocess, JSON Lines
to /dev/null), with 1 and 2 jobs; files/s and the ratio are printed next to the issue's bars
(>= 3,000 files/s with --jobs 2, >= 1.6x one job). exiftool reading the same files (``-r -json
-XMP-TC260:AIGC``, the TC260 config loaded) is measured beside it as a reference reader.

    python benchmarks/bench_batch.py [--files 10000] [--dir /tmp/aimark-batch] [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section

PRODUCER = "001191110102MACQD9K64010000"


def make_corpus(d: Path, n: int) -> None:
    from PIL import Image

    import aimark
    from aimark import AIGCLabel

    if d.exists() and sum(1 for _ in d.rglob("*") if _.is_file()) == n:
        return
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    rng = np.random.default_rng(1)
    im = Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8))
    bases: dict[str, bytes] = {}
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        b = io.BytesIO()
        im.save(b, fmt)
        bases[ext] = b.getvalue()
    b = io.BytesIO()
    with wave.open(b, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((np.sin(np.arange(4000) / 5) * 8000).astype("<i2").tobytes())
    bases["wav"] = b.getvalue()
    mp3 = subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "wav", "-i", "-", "-c:a", "libmp3lame", "-f", "mp3", "-"],
        input=bases["wav"],
        capture_output=True,
        check=True,
    ).stdout
    bases["mp3"] = mp3
    bases["md"] = b"# Notes\n\nA short note.\n"
    exts = list(bases)
    for i in range(n):
        ext = exts[i % len(exts)]
        sub = d / f"{i // 1000:02d}"
        sub.mkdir(exist_ok=True)
        data = aimark.label_bytes(bases[ext], AIGCLabel(PRODUCER, f"b-{i}"), filename=f"x.{ext}")
        (sub / f"f{i:05d}.{ext}").write_bytes(data)


def timed(cmd: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    with open(os.devnull, "wb") as null:
        res = subprocess.run(cmd, stdout=null, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if res.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed: {res.stderr.decode()[-500:]}")
    return dt, res.returncode


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/aimark-batch"))
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs per setting")
    ap.add_argument("--write", type=Path, help="replace the batch section of this RESULTS.md")
    args = ap.parse_args()
    make_corpus(args.dir, args.files)
    import aimark

    rows = []
    rates: dict[str, float] = {}
    for jobs in (1, 2):
        cmd = [sys.executable, "-m", "aimark", "verify", str(args.dir), "-r", "--json", "--metadata-only", "--jobs", str(jobs)]
        best = min(timed(cmd)[0] for _ in range(args.repeat))
        rates[f"aimark --jobs {jobs}"] = args.files / best
        rows.append((f"aimark verify --metadata-only --jobs {jobs}", best, args.files / best))
    if shutil.which("exiftool"):
        cmd = [
            "exiftool",
            "-config",
            str(aimark.exiftool_config()),
            "-r",
            "-json",
            "-XMP-TC260:AIGC",
            "-UserComment",
            str(args.dir),
        ]
        best = min(timed(cmd)[0] for _ in range(max(1, args.repeat - 2)))
        rows.append(("exiftool -r -json (reference reader, 1 process)", best, args.files / best))
    ratio = rates["aimark --jobs 2"] / rates["aimark --jobs 1"]
    lines = [
        f"{args.files:,} small labeled files (PNG, JPEG, WAV, MP3, Markdown), {os.cpu_count()} cores, best of {args.repeat}:",
        "",
        "| run | seconds | files/s |",
        "|---|---:|---:|",
        *[f"| {name} | {sec:.2f} | {rate:,.0f} |" for name, sec, rate in rows],
        "",
        f"--jobs 2 / --jobs 1: {ratio:.2f}x (bar >= 1.6x); --jobs 2 rate {rates['aimark --jobs 2']:,.0f} files/s (bar >= 3,000): "
        + ("both met" if ratio >= 1.6 and rates["aimark --jobs 2"] >= 3000 else "NOT met"),
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        cmdline = "python benchmarks/bench_batch.py" + (f" --files {args.files}" if args.files != 10_000 else "")
        write_section(args.write, "batch", "Batch verify", f"`{cmdline} --write benchmarks/RESULTS.md`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
