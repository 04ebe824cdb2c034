"""Image watermark benchmark: aimark against invisible-watermark (dwtDct, dwtDctSvd) and
blind-watermark on the same photographs and attacks.

    pip install '.[bench]' && pip install --no-deps invisible-watermark
    python benchmarks/bench_image_watermark.py [--crops 10000] [--runs 15] [--write benchmarks/RESULTS.md]

invisible-watermark's wheel requires torch for its RivaGAN model, which is not used here; it is
installed with --no-deps and this script stubs the ``torch``/``onnxruntime`` modules it imports.

Every method embeds the same 64-bit payload. *Detected* means the full 64 bits came back
correct (aimark: ``detect().found`` with the right payload; the peers have no detector of their
own, so their decoded bits must equal the payload). *Bit accuracy* is the fraction of payload
bits right (aimark: its best unverified guess when nothing was found). False positives: aimark on
every clean image and on ``--crops`` random crops (25-100% of the area, any offset) of them.

Photographs: scikit-image's bundled data (``skimage.data``), sources and licenses as its docstrings
state: astronaut (NASA, public domain), camera (Lav Varshney, CC0), coffee (Rachel Michetti, CC0),
chelsea (Stefan van der Walt, CC0), rocket (SpaceX, public domain), coins (Brooklyn Museum, no
known copyright restrictions), moon (scikit-image, no license stated in its docstring),
hubble_deep_field (NASA, public domain), immunohistochemistry (no known copyright restrictions),
retina (Häggström, CC0), brick and gravel (CC0Textures, CC0), grass (DeviantArt linolafett, CC0),
cell (CC0), stereo_motorcycle left view (Middlebury stereo 2014 dataset, as cited by scikit-image).
Grayscale photographs are used as they are (L mode).

Large photographs (``--wallpapers``, on by default when installed): the twelve nature photographs
of Debian's ``mate-backgrounds`` package (``/usr/share/backgrounds/mate/nature``, GPL-2+ as the
package's copyright file states), at their own sizes (1280x1024 to 2560x1920): big, smooth
skies, sand, water and out-of-focus backgrounds, where the mark is hardest to hide and low-quality
WebP erases the most. Quality and detection are reported for both sets and for all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import sys
import time
import types
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data as skdata
from skimage.metrics import structural_similarity

from _results import write_section
from aimark.image import watermark as aimark_wm

PAYLOAD = bytes.fromhex("a5c3f00f12345678")
BITS = np.unpackbits(np.frombuffer(PAYLOAD, np.uint8))
NAMES = [
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "hubble_deep_field",
    "immunohistochemistry", "retina", "brick", "grass", "gravel", "cell", "motorcycle",
]  # fmt: skip

# the attacks; each takes (image, rng) -> image
Attack = Callable[[Image.Image, np.random.Generator], Image.Image]


def _encode(im: Image.Image, fmt: str, **kw: object) -> Image.Image:
    b = io.BytesIO()
    im.save(b, fmt, **kw)
    return Image.open(io.BytesIO(b.getvalue())).convert(im.mode)


def _resize(im: Image.Image, f: float) -> Image.Image:
    return im.resize((max(1, round(im.width * f)), max(1, round(im.height * f))), Image.Resampling.BICUBIC)


def _crop(im: Image.Image, frac: float, rng: np.random.Generator | None) -> Image.Image:
    s = np.sqrt(frac)
    w, h = round(im.width * s), round(im.height * s)
    if rng is None:
        x, y = (im.width - w) // 2, (im.height - h) // 2
    else:
        x, y = int(rng.integers(0, im.width - w + 1)), int(rng.integers(0, im.height - h + 1))
    return im.crop((x, y, x + w, y + h))


def _noise(im: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(im).astype(np.float64) + rng.normal(0, sigma, np.asarray(im).shape)
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8))


ATTACKS: dict[str, Attack] = {
    "none": lambda im, r: im,
    "jpeg90": lambda im, r: _encode(im, "JPEG", quality=90),
    "jpeg75": lambda im, r: _encode(im, "JPEG", quality=75),
    "jpeg50": lambda im, r: _encode(im, "JPEG", quality=50),
    "jpeg40": lambda im, r: _encode(im, "JPEG", quality=40),
    "jpeg30": lambda im, r: _encode(im, "JPEG", quality=30),
    "webp50": lambda im, r: _encode(im, "WEBP", quality=50),
    "webp40": lambda im, r: _encode(im, "WEBP", quality=40),
    "webp30": lambda im, r: _encode(im, "WEBP", quality=30),
    "resize0.75": lambda im, r: _resize(im, 0.75),
    "resize0.5": lambda im, r: _resize(im, 0.5),
    "crop75-centre": lambda im, r: _crop(im, 0.75, None),
    "crop50-centre": lambda im, r: _crop(im, 0.50, None),
    "crop25-centre": lambda im, r: _crop(im, 0.25, None),
    "crop75-random": lambda im, r: _crop(im, 0.75, r),
    "crop50-random": lambda im, r: _crop(im, 0.50, r),
    "crop25-random": lambda im, r: _crop(im, 0.25, r),
    "rotate1": lambda im, r: im.rotate(1, Image.Resampling.BICUBIC),
    "rotate5": lambda im, r: im.rotate(5, Image.Resampling.BICUBIC),
    "noise5": lambda im, r: _noise(im, 5, r),
    "blur1": lambda im, r: im.filter(ImageFilter.GaussianBlur(1)),
    "brightness1.2": lambda im, r: ImageEnhance.Brightness(im).enhance(1.2),
    "contrast0.8": lambda im, r: ImageEnhance.Contrast(im).enhance(0.8),
    # a screenshot: the picture shown smaller and saved as a JPEG
    "screenshot0.8": lambda im, r: _encode(_resize(im, 0.8), "JPEG", quality=70),
    "screenshot0.7": lambda im, r: _encode(_resize(im, 0.7), "JPEG", quality=65),
    "screenshot0.6": lambda im, r: _encode(_resize(im, 0.6), "JPEG", quality=65),
    "screenshot0.5": lambda im, r: _encode(_resize(im, 0.5), "JPEG", quality=60),
    "flip": lambda im, r: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
}
BAR_99 = {
    "none", "jpeg90", "jpeg75", "jpeg50", "webp50", "resize0.75", "resize0.5", "crop75-centre", "crop50-centre",
    "crop25-centre", "crop75-random", "crop50-random", "crop25-random", "rotate1", "noise5", "blur1", "brightness1.2",
    "contrast0.8", "screenshot0.8", "screenshot0.7",
}  # fmt: skip
BAR_95 = {"webp40", "jpeg40", "screenshot0.6", "screenshot0.5"}
BAR_90 = {"jpeg30", "webp30", "rotate5", "flip"}
WALLPAPERS = Path("/usr/share/backgrounds/mate/nature")


def bar(attack: str) -> int:
    return 99 if attack in BAR_99 else 95 if attack in BAR_95 else 90


def load(name: str) -> Image.Image:
    if name.startswith("mate/"):
        with Image.open(WALLPAPERS / f"{name[5:]}.jpg") as im:
            return im.convert("RGB")
    a = skdata.stereo_motorcycle()[0] if name == "motorcycle" else getattr(skdata, name)()
    return Image.fromarray(a)


def wallpapers() -> list[str]:
    return [f"mate/{p.stem}" for p in sorted(WALLPAPERS.glob("*.jpg"))]


# -- the methods: embed(im) -> im, decode(im) -> (detected, bit accuracy) ------------------------
class Method:
    name = ""

    def embed(self, im: Image.Image) -> Image.Image:
        raise NotImplementedError

    def decode(self, im: Image.Image) -> tuple[bool, float]:
        raise NotImplementedError

    def detect(self, im: Image.Image) -> object:
        """What the speed table times: the method's own detection (peers: their decoder)."""
        return self.decode(im)


class Aimark(Method):
    name = "aimark"

    def embed(self, im: Image.Image) -> Image.Image:
        return aimark_wm.embed(im, PAYLOAD)

    def decode(self, im: Image.Image) -> tuple[bool, float]:
        r = aimark_wm.detect(im)
        if r.found:
            got = bytes.fromhex(r.payload or "")
            return got == PAYLOAD, _acc(got)
        return False, _acc(aimark_wm.best_guess(im))

    def detect(self, im: Image.Image) -> object:
        return aimark_wm.detect(im)  # without the unverified best guess decode() adds for bit accuracy


def _acc(got: bytes) -> float:
    return float((np.unpackbits(np.frombuffer(got, np.uint8)) == BITS).mean())


def _bgr(im: Image.Image) -> np.ndarray:
    a = np.asarray(im.convert("RGB"))
    return np.ascontiguousarray(a[..., ::-1])


def _back(bgr: np.ndarray, like: Image.Image) -> Image.Image:
    out = Image.fromarray(np.clip(np.rint(bgr[..., ::-1]), 0, 255).astype(np.uint8))
    return out.convert(like.mode) if like.mode != "RGB" else out


class InvisibleWatermark(Method):
    def __init__(self, method: str) -> None:
        for mod in ("torch", "onnxruntime"):  # only its unused RivaGAN model imports these
            sys.modules.setdefault(mod, types.ModuleType(mod))
        from imwatermark import WatermarkDecoder, WatermarkEncoder

        self.method, self.name = method, f"invisible-watermark {method}"
        self.enc, self.dec = WatermarkEncoder(), WatermarkDecoder("bits", 64)
        self.enc.set_watermark("bits", [int(b) for b in BITS])

    def embed(self, im: Image.Image) -> Image.Image:
        return _back(self.enc.encode(_bgr(im), self.method), im)

    def decode(self, im: Image.Image) -> tuple[bool, float]:
        try:
            bits = np.asarray(self.dec.decode(_bgr(im), self.method), dtype=np.uint8)
        except Exception:  # too small for its transform, and the like: nothing decoded
            return False, 0.5
        acc = float((bits == BITS).mean())
        return acc == 1.0, acc


class BlindWatermark(Method):
    name = "blind-watermark"

    def __init__(self) -> None:
        from blind_watermark import WaterMark, bw_notes

        bw_notes.close()
        self.cls = WaterMark

    def embed(self, im: Image.Image) -> Image.Image:
        bwm = self.cls(password_img=1, password_wm=1, processes=1)
        with contextlib.redirect_stdout(io.StringIO()):
            bwm.read_img(img=_bgr(im).astype(np.float32))
            bwm.read_wm([bool(b) for b in BITS], mode="bit")
            out = bwm.embed()
        return _back(out, im)

    def decode(self, im: Image.Image) -> tuple[bool, float]:
        bwm = self.cls(password_img=1, password_wm=1, processes=1)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                bits = np.asarray(bwm.extract(embed_img=_bgr(im).astype(np.float32), wm_shape=64, mode="bit")) > 0.5
        except Exception:
            return False, 0.5
        acc = float((bits.astype(np.uint8) == BITS).mean())
        return acc == 1.0, acc


def methods(which: list[str]) -> list[Method]:
    out: list[Method] = []
    for w in which:
        try:
            if w == "aimark":
                out.append(Aimark())
            elif w in ("dwtDct", "dwtDctSvd"):
                out.append(InvisibleWatermark(w))
            elif w == "blind":
                out.append(BlindWatermark())
        except ImportError as exc:
            print(f"skipping {w}: {exc}", file=sys.stderr)
    return out


def psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(10 * np.log10(255**2 / max(((x - y) ** 2).mean(), 1e-12)))


def ssim(a: Image.Image, b: Image.Image) -> float:
    x, y = np.asarray(a), np.asarray(b)
    return float(structural_similarity(x, y, channel_axis=2 if x.ndim == 3 else None, data_range=255))


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--crops", type=int, default=10_000, help="random clean crops for the false-positive count")
    ap.add_argument("--runs", type=int, default=15, help="timing runs per size (median)")
    ap.add_argument("--methods", default="aimark,dwtDct,dwtDctSvd,blind")
    ap.add_argument("--images", default=",".join(NAMES))
    ap.add_argument("--no-wallpapers", action="store_true", help="leave out the large mate-backgrounds photographs")
    ap.add_argument("--fp-only", action="store_true", help="only the false-positive count on clean crops (its own section)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes for the clean crops")
    ap.add_argument("--write", type=Path, help="write the results section into this markdown file")
    ap.add_argument("--plot", type=Path, default=Path(__file__).with_name("image_watermark.png"))
    args = ap.parse_args()
    names = args.images.split(",") + ([] if args.no_wallpapers else wallpapers())
    if args.fp_only:
        return fp_only(args, names)
    ms = methods(args.methods.split(","))
    images = {n: load(n) for n in names}
    _LOADED.update(images)  # the clean crops below cut these, not fresh copies
    attacks = list(ATTACKS)

    quality: dict[str, list[tuple[float, float]]] = {m.name: [] for m in ms}
    hits: dict[str, dict[str, list[bool]]] = {m.name: {a: [] for a in attacks} for m in ms}
    accs: dict[str, dict[str, list[float]]] = {m.name: {a: [] for a in attacks} for m in ms}
    clean_fp = 0
    for i, (name, im) in enumerate(images.items()):
        for m in ms:
            marked = m.embed(im)
            quality[m.name].append((psnr(im, marked), ssim(im, marked)))
            rng = np.random.default_rng(1000 + i)  # the same attacked variants for every method
            for a in attacks:
                ok, acc = m.decode(ATTACKS[a](marked, rng))
                hits[m.name][a].append(ok)
                accs[m.name][a].append(acc)
        clean_fp += aimark_wm.detect(im).found if any(m.name == "aimark" for m in ms) else 0
        print(f"[{i + 1}/{len(images)}] {name} {im.size} {im.mode}", file=sys.stderr, flush=True)

    crop_fp = sum(crop_hits(names, args.crops, args.jobs))
    # speed
    base = load("astronaut")
    speed: dict[str, dict[str, tuple[float, float, float]]] = {m.name: {} for m in ms}
    for label, size in (("512x512", (512, 512)), ("1920x1080", (1920, 1080)), ("3840x2160", (3840, 2160))):
        im = base.resize(size, Image.Resampling.LANCZOS)
        for m in ms:
            runs = args.runs if m.name == "aimark" or size[0] <= 1920 else max(3, args.runs // 5)
            marked = m.embed(im)
            speed[m.name][label] = (
                median_ms(lambda m=m, im=im: m.embed(im), runs),
                median_ms(lambda m=m, x=marked: m.detect(x), runs),
                median_ms(lambda m=m, x=im: m.detect(x), runs),
            )

    text = report(args, ms, images, quality, hits, accs, clean_fp, crop_fp, speed)
    print(text)
    if args.write:
        write_section(args.write, "image-watermark", "Image watermark benchmark", text)
        print(f"written to {args.write}", file=sys.stderr)
    plot(args.plot, ms, attacks, hits)
    return 0


_LOADED: dict[str, Image.Image] = {}


def _crop_hits(jobs: list[tuple[str, int]]) -> list[bool]:
    """Detect on clean crops: crop ``j`` of image ``name`` covers a random 25-100% of its area
    at a random place, both drawn from a generator seeded with ``j`` (the same crops whatever
    the number of workers)."""
    out = []
    t0 = time.perf_counter()
    for k, (name, j) in enumerate(jobs):
        im = _LOADED.get(name) or _LOADED.setdefault(name, load(name))
        rng = np.random.default_rng([12345, j])
        out.append(bool(aimark_wm.detect(_crop(im, float(rng.uniform(0.25, 1.0)), rng)).found))
        if (k + 1) % 500 == 0:
            print(f"crops {k + 1}/{len(jobs)} fp={sum(out)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    return out


def crop_hits(names: list[str], crops: int, jobs: int) -> list[bool]:
    """Detection on ``crops`` clean crops, cycling through ``names``; in this process, or
    spread over ``jobs`` worker processes (crop ``j`` is the same either way)."""
    work = [(names[j % len(names)], j) for j in range(crops)]
    if jobs <= 1:
        return _crop_hits(work)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        parts = list(pool.map(_crop_hits, [work[k::jobs] for k in range(jobs)]))
    out = [False] * crops
    for k, part in enumerate(parts):
        out[k::jobs] = part
    return out


def fp_only(args: argparse.Namespace, names: list[str]) -> int:
    """The false-positive count alone, over ``--crops`` clean crops spread over ``--jobs`` workers."""
    n = max(1, args.jobs)
    t = time.perf_counter()
    hits = crop_hits(names, args.crops, n)
    wall = time.perf_counter() - t
    per_image = {nm: sum(hits[j] for j in range(len(hits)) if names[j % len(names)] == nm) for nm in names}
    bound = aimark_wm.SEARCHES * aimark_wm.MAX_ATTEMPTS * 2.0**-40
    cmd = "python benchmarks/bench_image_watermark.py " + " ".join(sys.argv[1:])
    text = (
        f"Command: `{cmd.strip()}`\n\n"
        f"{sum(hits)} false positives in {len(hits)} clean crops (each a random 25-100% of the area of one of "
        f"{len(names)} photographs: {', '.join(names)}; seeded per crop). Stated bound {bound:.1e} per image, so "
        f"{len(hits) * bound:.1e} expected over the run. Bar: 0 in >= 10,000: "
        f"{'met' if sum(hits) == 0 and len(hits) >= 10_000 else 'MISSED'}. "
        f"Wall time {wall:.0f} s on {n} workers ({1000 * wall * n / max(1, len(hits)):.0f} ms per crop per worker).\n"
        + ("" if not sum(hits) else "\nHits per photograph: " + ", ".join(f"{k} {v}" for k, v in per_image.items() if v) + "\n")
    )
    print(text)
    if args.write:
        write_section(args.write, "image-watermark-fp", "Image watermark: false positives on clean crops", text)
    return 0


def report(args, ms, images, quality, hits, accs, clean_fp, crop_fp, speed) -> str:  # type: ignore[no-untyped-def]
    cmd = "python benchmarks/bench_image_watermark.py " + " ".join(sys.argv[1:])
    names = list(images)
    groups = {
        "scikit-image": [i for i, n in enumerate(names) if not n.startswith("mate/")],
        "wallpapers": [i for i, n in enumerate(names) if n.startswith("mate/")],
    }
    groups = {g: idx for g, idx in groups.items() if idx}
    lines = [
        f"Command: `{cmd.strip()}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{len(images)} photographs ({', '.join(f'{n} {im.width}x{im.height}' for n, im in images.items())}); "
        f"payload 64 bits.",
        "",
        "Detected = % of images whose full 64-bit payload came back (bit accuracy in brackets), over all "
        "photographs; the last columns split aimark's rate by set.",
        "",
        "| attack | " + " | ".join(m.name for m in ms) + " | " + " | ".join(f"aimark, {g}" for g in groups) + " | bar | aimark |",
        "|---|" + "---:|" * (len(ms) + len(groups)) + "---|---|",
    ]

    def pct(values: list[bool], idx: list[int]) -> float:
        return 100 * float(np.mean([values[i] for i in idx]))

    for a in ATTACKS:
        cells = []
        for m in ms:
            h, acc = hits[m.name][a], accs[m.name][a]
            cells.append(f"{100 * np.mean(h):.0f}% ({100 * np.mean(acc):.1f}%)")
        if "aimark" in hits:
            cells += [f"{pct(hits['aimark'][a], idx):.0f}%" for idx in groups.values()]
        else:
            cells += ["" for _ in groups]
        got = 100 * np.mean(hits["aimark"][a]) if "aimark" in hits else float("nan")
        lines.append(f"| {a} | " + " | ".join(cells) + f" | >= {bar(a)}% | {'met' if got >= bar(a) else 'MISSED'} |")
    lines += ["", "| quality | " + " | ".join(m.name for m in ms) + " | bar |", "|---|" + "---:|" * len(ms) + "---|"]
    sets = [("all", list(range(len(names)))), *groups.items()]
    for metric, k, bar_mean in (("PSNR dB", 0, ">= 40"), ("SSIM", 1, ">= 0.98 (and >= 0.97 on every image)")):
        for g, idx in sets:
            for stat, fn in (("mean", np.mean), ("min", np.min)):
                vals = [fn([quality[m.name][i][k] for i in idx]) for m in ms]
                fmt = "{:.2f}" if k == 0 else "{:.4f}"
                note = bar_mean if g == "all" and stat == "mean" else ""
                lines.append(f"| {metric} {stat}, {g} | " + " | ".join(fmt.format(v) for v in vals) + f" | {note} |")
    bound = aimark_wm.SEARCHES * aimark_wm.MAX_ATTEMPTS
    lines += [
        "",
        f"False positives (aimark): {clean_fp} of {len(images)} clean images; {crop_fp} of {args.crops} random clean crops "
        f"(25-100% of the area). Stated bound: {aimark_wm.SEARCHES} searches x {aimark_wm.MAX_ATTEMPTS} decode attempts "
        f"x 2^-40 = {bound * 2.0**-40:.1e} per image.",
        "",
        "| speed, median ms (embed / detect marked / detect clean) | " + " | ".join(m.name for m in ms) + " |",
        "|---|" + "---:|" * len(ms),
    ]
    for size in ("512x512", "1920x1080", "3840x2160"):
        lines.append(f"| {size} | " + " | ".join(" / ".join(f"{v:.0f}" for v in speed[m.name][size]) for m in ms) + " |")
    if "aimark" in speed:
        e, d, c = speed["aimark"]["1920x1080"]
        lines.append("")
        lines.append(
            f"aimark at 1920x1080: embed {e:.0f} ms (bar <= 100: {'met' if e <= 100 else 'MISSED'}), "
            f"detect {d:.0f} ms marked (bar <= 250: {'met' if d <= 250 else 'MISSED'}), {c:.0f} ms clean."
        )
    return "\n".join(lines) + "\n"


def plot(path: Path, ms: list[Method], attacks: list[str], hits: dict[str, dict[str, list[bool]]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / max(len(ms), 1)
    x = np.arange(len(attacks))
    for i, m in enumerate(ms):
        ax.bar(x + i * width, [100 * np.mean(hits[m.name][a]) for a in attacks], width, label=m.name)
    ax.set_xticks(x + width * (len(ms) - 1) / 2, attacks, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("full 64-bit payload recovered, % of images")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
