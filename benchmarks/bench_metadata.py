"""Metadata-only label and verify on 1920x1080 JPEG and PNG: aimark vs exiftool, medians.

    python benchmarks/bench_metadata.py [--runs 300] [--exiftool-runs 20] [--write benchmarks/RESULTS.md]

Test images: scikit-image's ``astronaut`` photo (NASA, public domain) resized to 1920x1080
with Pillow, saved as JPEG (quality 90, EXIF + sRGB ICC) and PNG (with the same ICC).

exiftool is measured two ways, writing and reading the same XMP-TC260:AIGC tag:
  * "process": one exiftool process per operation, as most pipelines call it;
  * "stay_open": one long-running ``exiftool -stay_open True -@ -``, so its ~100+ ms Perl start-up
    is excluded and only the per-file work is timed.
aimark is measured in-process, file to file (mmap, edit, write a temp file, rename) and on
bytes in memory. Targets (issue 2): <= 2 ms each for aimark, >= 20x faster than exiftool.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageCms
from skimage import data as skdata

import aimark
from _results import write_section

PRODUCER = "001191110102MACQD9K64010000"


def make_inputs(folder: Path) -> dict[str, Path]:
    img = Image.fromarray(skdata.astronaut()).resize((1920, 1080), Image.Resampling.LANCZOS)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "bench"
    out = {}
    for fmt, kw in [("jpeg", {"quality": 90, "exif": exif.tobytes(), "icc_profile": icc}), ("png", {"icc_profile": icc})]:
        buf = io.BytesIO()
        img.save(buf, fmt.upper(), **kw)
        path = folder / f"astronaut-1080p.{'jpg' if fmt == 'jpeg' else fmt}"
        path.write_bytes(buf.getvalue())
        out[fmt] = path
    return out


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e6


class StayOpen:
    """A long-running exiftool answering commands on stdin."""

    def __init__(self, exe: str, config: Path) -> None:
        self.p = subprocess.Popen(
            [exe, "-config", str(config), "-stay_open", "True", "-@", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def run(self, *args: str) -> str:
        assert self.p.stdin and self.p.stdout
        self.p.stdin.write("\n".join(args) + "\n-execute\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("exiftool -stay_open ended unexpectedly")
            if line.rstrip("\n").endswith("{ready}"):  # -b output has no newline before the marker
                lines.append(line.rstrip("\n")[: -len("{ready}")])
                return "".join(lines)
            lines.append(line)

    def close(self) -> None:
        assert self.p.stdin
        self.p.stdin.write("-stay_open\nFalse\n")
        self.p.stdin.flush()
        self.p.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--exiftool-runs", type=int, default=20)
    ap.add_argument("--write", type=Path, help="also write the table as markdown to this file")
    args = ap.parse_args()
    exe = shutil.which("exiftool")
    if exe is None:
        print("exiftool not found (apt-get install -y libimage-exiftool-perl)", file=sys.stderr)
        return 2
    version = subprocess.run([exe, "-ver"], capture_output=True, text=True).stdout.strip()
    label = aimark.AIGCLabel(PRODUCER, "bench-0001")
    value = label.to_inner_json()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = aimark.exiftool_config()
        inputs = make_inputs(folder)
        stay = StayOpen(exe, config)
        try:
            for fmt, src in inputs.items():
                data = src.read_bytes()
                dst = folder / f"out-{src.name}"
                ex_dst = folder / f"ex-{src.name}"
                aimark.label_file(src, dst, label)
                labeled = dst.read_bytes()
                assert aimark.verify(dst).verdict is aimark.Verdict.COMPLIANT

                a_label_file = median_ms(lambda src=src, dst=dst: aimark.label_file(src, dst, label), args.runs)
                a_label_mem = median_ms(lambda data=data: aimark.label_bytes(data, label), args.runs)
                a_verify_file = median_ms(lambda dst=dst: aimark.verify(dst), args.runs)
                a_verify_mem = median_ms(lambda labeled=labeled: aimark.verify_bytes(labeled), args.runs)
                floor_path = folder / "floor.bin"

                def plain_write(labeled: bytes = labeled, floor_path: Path = floor_path) -> None:
                    with open(floor_path, "wb") as fh:
                        fh.write(labeled)

                floor = median_ms(plain_write, args.runs)

                def ex_write(src: Path = src, ex_dst: Path = ex_dst) -> None:
                    ex_dst.unlink(missing_ok=True)
                    subprocess.run(
                        [exe, "-config", str(config), "-q", f"-XMP-TC260:AIGC={value}", "-o", str(ex_dst), str(src)],
                        check=True,
                    )

                def ex_read(dst: Path = dst) -> None:
                    out = subprocess.run(
                        [exe, "-config", str(config), "-XMP-TC260:AIGC", "-b", str(dst)], capture_output=True, text=True
                    )
                    assert out.stdout == value

                def so_write(src: Path = src, ex_dst: Path = ex_dst) -> None:
                    ex_dst.unlink(missing_ok=True)
                    stay.run(f"-XMP-TC260:AIGC={value}", "-o", str(ex_dst), str(src))  # no -q: it hides {ready}

                def so_read(dst: Path = dst) -> None:
                    assert stay.run("-XMP-TC260:AIGC", "-b", str(dst)) == value

                e_write = median_ms(ex_write, args.exiftool_runs, warmup=1)
                e_read = median_ms(ex_read, args.exiftool_runs, warmup=1)
                s_write = median_ms(so_write, args.exiftool_runs * 5, warmup=2)
                s_read = median_ms(so_read, args.exiftool_runs * 5, warmup=2)
                size = f"{len(data) / 1e6:.2f} MB"
                rows.append((f"label {fmt} ({size})", a_label_file, a_label_mem, floor, e_write, s_write))
                rows.append((f"verify {fmt} ({size})", a_verify_file, a_verify_mem, None, e_read, s_read))
        finally:
            stay.close()

    cmd = "python benchmarks/bench_metadata.py " + " ".join(sys.argv[1:])
    head = (
        f"Command: `{cmd.strip()}`  \n"
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"exiftool {version}; medians of {args.runs} aimark runs and "
        f"{args.exiftool_runs} (process) / {args.exiftool_runs * 5} (stay_open) exiftool runs.\n"
    )
    table = [
        "| operation (1920x1080) | aimark file->file ms | aimark in memory ms | plain write of the output ms "
        "| exiftool process ms | exiftool stay_open ms | speed-up vs process | speed-up vs stay_open "
        "| <= 2 ms | >= 20x (process) | >= 20x (stay_open) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for name, af, am, floor, ep, es in rows:
        table.append(
            f"| {name} | {af:.3f} | {am:.3f} | {'' if floor is None else f'{floor:.3f}'} | {ep:.1f} | {es:.2f} "
            f"| {ep / af:.0f}x | {es / af:.1f}x | {verdict(af <= 2)} | {verdict(ep / af >= 20)} | {verdict(es / af >= 20)} |"
        )
    text = head + "\n" + "\n".join(table) + "\n"
    print(text)
    if args.write:
        write_section(args.write, "metadata", "Metadata benchmark", text)
        print(f"written to {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
