"""``aimark serve`` under load, over real HTTP on loopback.

The server runs as a user starts it (``python -m aimark serve``, 4 verify threads); N clients post
mixed uploads at once (the platform tests' media: a labeled and watermarked JPEG, the same JPEG
with its metadata stripped, a clean JPEG, a labeled WAV, Markdown, text with an explicit label,
a labeled MP4), each verified in full (watermark detection included) with ``decide=true``.
Printed: requests/s, p50/p90/p99 latency, errors, and the server's peak RSS (VmHWM) against the
1 GiB bar. ``/healthz`` latency under the same load shows whether the event loop stays free.

    python benchmarks/bench_service.py [--requests 200] [--clients 50] [--write benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import httpx  # noqa: E402
from tests.platform_media import make_uploads, running_server  # noqa: E402

from _results import write_section  # noqa: E402


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        up = make_uploads(Path(tmp) / "media")
        import subprocess

        mp4 = Path(tmp) / "clip.mp4"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=size=64x48:rate=10:duration=1",
                "-c:v",
                "libx264",
                str(mp4),
            ],
            check=True,
        )
        files = [up[k] for k in ("labeled", "watermark_only", "clean", "wav", "markdown", "text_explicit")] + [mp4]
        payloads = [(f.name, f.read_bytes()) for f in files]
        (Path(tmp) / "srv").mkdir()
        with running_server(Path(tmp) / "srv", "bench-token") as (base, proc, _):
            stop = threading.Event()
            health: list[float] = []

            def probe() -> None:
                with httpx.Client(timeout=30) as c:
                    while not stop.is_set():
                        t = time.perf_counter()
                        c.get(base + "/healthz")
                        health.append(time.perf_counter() - t)
                        time.sleep(0.05)

            def one(i: int) -> tuple[float, int]:
                name, data = payloads[i % len(payloads)]
                t = time.perf_counter()
                with httpx.Client(timeout=300) as c:
                    r = c.post(base + "/v1/verify", params={"decide": "true"}, files={"file": (name, data)})
                return time.perf_counter() - t, r.status_code

            prober = threading.Thread(target=probe, daemon=True)
            prober.start()
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                results = list(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - t0
            stop.set()
            prober.join()
            rss = peak_rss(proc.pid)
    lat = sorted(r[0] for r in results)
    errors = sum(1 for r in results if r[1] != 200)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] * 1000

    hp = sorted(health)
    lines = [
        f"{args.requests} uploads from {args.clients} concurrent clients, {len(files)} kinds of file, 4 verify threads:",
        "",
        "| requests/s | p50 ms | p90 ms | p99 ms | errors | server peak RSS MiB | RSS < 1 GiB | /healthz p50 / max ms |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
        f"| {args.requests / wall:.1f} | {pct(0.5):.0f} | {pct(0.9):.0f} | {pct(0.99):.0f} | {errors} | {rss / 2**20:.0f} | "
        f"{'met' if rss < 1 << 30 else 'MISSED'} | {statistics.median(hp) * 1000:.1f} / {hp[-1] * 1000:.1f} |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        cmd = "python benchmarks/bench_service.py" + (f" --requests {args.requests}" if args.requests != 200 else "")
        cmd += f" --clients {args.clients}" if args.clients != 50 else ""
        write_section(args.write, "service", "HTTP service", f"`{cmd} --write benchmarks/RESULTS.md`\n\n{text}\n")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
