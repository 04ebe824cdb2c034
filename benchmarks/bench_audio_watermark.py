"""Audio watermark benchmark: aimark against audiowmark on hundreds of 10 s excerpts of real
speech and music, 16 attacks.

Clips (installed packages or generated here, nothing downloaded); each 10 s excerpt is marked
on its own, as a file would be:
- speech: Debian alsa-utils' channel announcements in /usr/share/sounds/alsa (GPL-2), joined
  and cut; espeak-ng (Debian, GPL-3+; the passages in ``SPEECH`` were written for this
  benchmark) reading a passage in each of six languages at two speaking rates;
- music: every Ogg track of Debian's extremetuxracer-data (/usr/share/games/etr/music,
  GPL-2+) and wesnoth-1.16-music (/usr/share/games/wesnoth/1.16/data/core/music, GPL-2+, per
  the packages' copyright files): up to ``--per-track`` excerpts each, 30 s apart from 5 s in.

Attacks are made with Debian's ffmpeg (a benchmark tool, not a library dependency): MP3 128k and
64k, MP3 64k mono, AAC 64k and 48k, Opus 64k, 48k and 32k, resample 44.1 -> 16 -> 44.1 kHz,
volume x0.5, white noise at 20 dB SNR, a random 5 s excerpt at a non-aligned offset, tempo
x1.05 with pitch kept (atempo), speed x0.95 (asetrate + resample), low-pass 4 kHz. Metrics: SNR
of the marked excerpt, detection rate (the exact payload found) overall and per group, bit
accuracy of the best guess, false positives on random clean 5 s excerpts, the issue's bars,
and speed as x real time on one core (aimark in-process; audiowmark as a process on a WAV
file, its usual use). ``--jobs 2`` spreads excerpts over two worker processes.

audiowmark (GPL C++, not packaged in Debian) is built from its public source outside this
repository and given with --audiowmark PATH; it carries its default 128-bit payload at its
default strength, aimark its 64-bit payload at its default 35.5 dB SNR. It is slow to detect,
so it runs on every ``--peer-every``-th excerpt.

Run (apt-get install alsa-utils espeak-ng extremetuxracer-data wesnoth-1.16-music ffmpeg):
    python benchmarks/bench_audio_watermark.py --audiowmark /tmp/audiowmark/src/audiowmark \
        --clean 1000 --jobs 2 --write benchmarks/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_section
from aimark.audio import watermark

SR = 44100
ALSA = Path("/usr/share/sounds/alsa")
MUSIC = {
    "etr": Path("/usr/share/games/etr/music"),
    "wesnoth": Path("/usr/share/games/wesnoth/1.16/data/core/music"),
}
PAYLOAD = bytes.fromhex("0123456789abcdef")
AWM_PAYLOAD = "0123456789abcdef0011223344556677"
ATTACKS = [
    "none",
    "mp3_128k",
    "mp3_64k",
    "aac_64k",
    "opus_64k",
    "opus_48k",
    "opus_32k",
    "aac_48k",
    "mp3_64k_mono",
    "resample_16k",
    "volume_0.5",
    "noise_20dB",
    "excerpt_5s",
    "tempo_1.05",
    "speed_0.95",
    "lowpass_4k",
]
FFMPEG_ATTACK = {
    "mp3_128k": (["-c:a", "libmp3lame", "-b:a", "128k"], "mp3"),
    "mp3_64k": (["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    "aac_64k": (["-c:a", "aac", "-b:a", "64k"], "m4a"),
    "opus_64k": (["-c:a", "libopus", "-b:a", "64k"], "opus"),
    "opus_48k": (["-c:a", "libopus", "-b:a", "48k"], "opus"),
    "opus_32k": (["-c:a", "libopus", "-b:a", "32k"], "opus"),
    "aac_48k": (["-c:a", "aac", "-b:a", "48k"], "m4a"),
    "mp3_64k_mono": (["-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    "resample_16k": (["-af", "aresample=16000,aresample=44100"], "wav"),
    "tempo_1.05": (["-af", "atempo=1.05"], "wav"),
    "speed_0.95": (["-af", f"asetrate={int(SR * 0.95)},aresample={SR}"], "wav"),
    "lowpass_4k": (["-af", "lowpass=f=4000"], "wav"),
}
TARGET_99 = {
    "mp3_128k", "mp3_64k", "aac_64k", "opus_64k", "opus_48k", "aac_48k", "mp3_64k_mono", "resample_16k", "volume_0.5",
    "excerpt_5s", "lowpass_4k", "tempo_1.05", "speed_0.95", "none",
}  # fmt: skip
TARGET_95 = {"opus_32k", "noise_20dB"}


def pcm(path: Path | str, *args: str) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), *args, "-f", "f32le", "-ac", "2", "-ar", str(SR), "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, np.float32).reshape(-1, 2).copy()


def write_wav(path: Path, x: np.ndarray) -> None:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "f32le", "-ar", str(SR), "-ac", "2", "-i", "-", "-c:a", "pcm_s16le", str(path)],
        input=np.clip(x, -1, 1).astype(np.float32).tobytes(),
        check=True,
    )


#: speech for espeak-ng (written for this benchmark), one passage per voice
SPEECH = {
    "en": "The river rose slowly through the night, and by morning the lower fields were under water. "
    "Farmers moved their animals to the hill and waited for the rain to stop. Nobody could remember "
    "a spring as wet as this one, although the oldest people in the village said it had happened before.",
    "cmn": "今天早上天气很好，我们七点出发去山上。路上有很多人骑自行车，也有人带着孩子散步。"
    "中午我们在湖边吃饭，下午下了一点雨，大家就回家了。明天如果天气还好，我们再去一次。",
    "de": "Der Zug nach Hamburg hatte heute zwanzig Minuten Verspätung, weil ein Baum auf den Gleisen lag. "
    "Die meisten Fahrgäste blieben ruhig, lasen Zeitung oder schauten aus dem Fenster auf die Felder.",
    "fr": "Le marché ouvre à six heures. Les premiers clients arrivent avant le jour pour trouver les meilleurs "
    "fruits, et les marchands crient leurs prix d'un bout à l'autre de la place jusqu'à midi.",
    "es": "La biblioteca del barrio cierra a las ocho, pero los estudiantes se quedan en la escalera hablando "
    "de los exámenes, de sus planes para el verano y de la música que escucharon la noche anterior.",
    "ja": "駅の前に新しいパン屋ができました。朝早くから焼きたてのパンのにおいがして、通勤の人がたくさん並んでいます。",
}
EXCERPT_S = 10.0


def _excerpts(x: np.ndarray, every_s: float, limit: int, start_s: float = 5.0) -> list[np.ndarray]:
    """Up to ``limit`` excerpts of EXCERPT_S seconds, one every ``every_s`` seconds from ``start_s``."""
    n, out, at = int(EXCERPT_S * SR), [], int(start_s * SR)
    while at + n <= len(x) and len(out) < limit:
        out.append(x[at : at + n])
        at += int(every_s * SR)
    return out


def espeak(voice: str, text: str, tmp: Path, speed: int = 150) -> np.ndarray:
    wav = tmp / f"espeak-{voice}-{speed}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True, capture_output=True)
    return pcm(wav)


def clips(per_track: int, tmp: Path) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (group, 10 s excerpt). Every Ogg track of the music packages, up to
    ``per_track`` excerpts each, 30 s apart; speech from alsa-utils and from espeak-ng."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    files = sorted(f for f in ALSA.glob("*.wav") if "Noise" not in f.name)
    if files:
        joined = np.concatenate([pcm(f) for f in files])
        for i, e in enumerate(_excerpts(joined, EXCERPT_S, 99, 0.0)):
            out[f"speech-alsa-{i}"] = ("speech", e)
    if shutil.which("espeak-ng"):
        for voice, text in SPEECH.items():
            for speed in (130, 170):  # two speaking rates: two different excerpts of each voice
                for i, e in enumerate(_excerpts(espeak(voice, text, tmp, speed), EXCERPT_S, 2, 0.5)):
                    out[f"speech-espeak-{voice}-{speed}-{i}"] = ("speech", e)
    for group, root in MUSIC.items():
        for f in sorted(root.glob("*.ogg")):
            head = pcm(f, "-t", str(5 + 30 * per_track))  # decode only what the excerpts use
            for i, e in enumerate(_excerpts(head, 30.0, per_track)):
                out[f"{group}-{f.stem}-{i}"] = (group, e)
    if not out:
        raise SystemExit("no clips: install alsa-utils, espeak-ng, extremetuxracer-data, wesnoth-1.16-music")
    return out


def attack(x: np.ndarray, name: str, rng: np.random.Generator, tmp: Path) -> np.ndarray:
    if name == "none":
        return x
    if name == "volume_0.5":
        return x * 0.5
    if name == "noise_20dB":
        return x + rng.standard_normal(x.shape).astype(np.float32) * np.float32(np.sqrt(np.mean(x**2) / 100))
    if name == "excerpt_5s":
        start = int(rng.integers(0, len(x) - 5 * SR - 1)) | 1  # odd: never on a hop boundary
        return x[start : start + 5 * SR]
    args, ext = FFMPEG_ATTACK[name]
    src, dst = tmp / "attack-in.wav", tmp / f"attack-out.{ext}"
    write_wav(src, x)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), *args, str(dst)], check=True)
    return pcm(dst)


def snr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    return float(
        10 * np.log10(np.sum(a[:n].astype(np.float64) ** 2) / max(np.sum((a[:n] - b[:n]).astype(np.float64) ** 2), 1e-20))
    )


def bit_acc(guess: bytes, want: bytes) -> float:
    diff = np.unpackbits(np.frombuffer(bytes(x ^ y for x, y in zip(guess, want, strict=True)), np.uint8))
    return float(1 - diff.mean())


class Aimark:
    name = "aimark"

    def embed(self, x: np.ndarray, tmp: Path) -> tuple[np.ndarray, float]:
        t = time.perf_counter()
        y = watermark.embed(x, SR, PAYLOAD)
        return y, time.perf_counter() - t

    def detect(self, x: np.ndarray, tmp: Path) -> tuple[bool, float, float]:
        t = time.perf_counter()
        r = watermark.detect(x, SR)
        dt = time.perf_counter() - t
        found = r.found and r.payload == PAYLOAD.hex()
        acc = 1.0 if found else bit_acc(watermark.best_guess(x, SR), PAYLOAD)
        return found, acc, dt

    def clean_hit(self, x: np.ndarray, tmp: Path) -> bool:
        return watermark.detect(x, SR).found


class Audiowmark:
    name = "audiowmark"

    def __init__(self, exe: str) -> None:
        self.exe = exe

    def embed(self, x: np.ndarray, tmp: Path) -> tuple[np.ndarray, float]:
        src, dst = tmp / "awm-in.wav", tmp / "awm-out.wav"
        write_wav(src, x)
        t = time.perf_counter()
        subprocess.run([self.exe, "add", str(src), str(dst), AWM_PAYLOAD], check=True, capture_output=True)
        dt = time.perf_counter() - t
        return pcm(dst), dt

    def _get(self, x: np.ndarray, tmp: Path) -> tuple[str, float]:
        src = tmp / "awm-get.wav"
        write_wav(src, x)
        t = time.perf_counter()
        out = subprocess.run([self.exe, "get", str(src)], capture_output=True, text=True).stdout
        return out, time.perf_counter() - t

    def detect(self, x: np.ndarray, tmp: Path) -> tuple[bool, float, float]:
        out, dt = self._get(x, tmp)
        best = 0.0
        for line in out.splitlines():
            parts = line.split()
            if parts and parts[0] == "pattern":
                for h in (p for p in parts if len(p) == 32 and all(c in "0123456789abcdef" for c in p)):
                    best = max(best, bit_acc(bytes.fromhex(h), bytes.fromhex(AWM_PAYLOAD)))
        return best == 1.0, best, dt

    def clean_hit(self, x: np.ndarray, tmp: Path) -> bool:
        out, _ = self._get(x, tmp)  # any decoded pattern is a payload claim on unmarked audio
        return any(line.split()[:1] == ["pattern"] for line in out.splitlines())


def run_one(job: tuple[str, np.ndarray, list, list[str]]) -> dict:
    """Embed one excerpt with each method and detect after every attack (a worker's unit)."""
    name, x, methods, attacks = job
    res: dict = {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        for m in methods:
            y, te = m.embed(x, tmp)
            row: dict = {"snr": snr(x, y), "embed": te, "attacks": {}}
            for a in attacks:
                z = attack(y, a, np.random.default_rng(zlib.crc32(f"{name}/{a}".encode())), tmp)
                found, acc, td_ = m.detect(z, tmp)
                row["attacks"][a] = (found, acc)
                if a == "none":
                    row["detect"], row["detect_s"] = td_, len(z) / SR
            res[m.name] = row
    return res


def clean_hits(job: tuple[object, list[np.ndarray]]) -> int:
    m, excerpts = job
    with tempfile.TemporaryDirectory() as td:
        return sum(bool(m.clean_hit(x, Path(td))) for x in excerpts)  # type: ignore[attr-defined]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--audiowmark", help="path of a built audiowmark binary (peer)")
    ap.add_argument("--clean", type=int, default=1000, help="random clean 5 s excerpts for the false-positive count (aimark)")
    ap.add_argument("--clean-peer", type=int, default=100, help="clean excerpts for the peer (a process per excerpt)")
    ap.add_argument("--per-track", type=int, default=6, help="10 s excerpts per music track (30 s apart)")
    ap.add_argument("--peer-every", type=int, default=5, help="the peer runs on every Nth excerpt (it is slow)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (timings are per process)")
    ap.add_argument("--attacks", default=",".join(ATTACKS))
    ap.add_argument("--write", type=Path, help="write the results section into this markdown file")
    args = ap.parse_args()
    attacks = args.attacks.split(",")
    aim = Aimark()
    peer = Audiowmark(args.audiowmark) if args.audiowmark else None
    methods: list = [aim] + ([peer] if peer else [])
    with tempfile.TemporaryDirectory() as td:
        data = clips(args.per_track, Path(td))
    names = list(data)
    groups = sorted({g for g, _ in data.values()})
    counts = ", ".join(f"{g} {sum(v[0] == g for v in data.values())}" for g in groups)
    print(f"{len(names)} excerpts of {EXCERPT_S:g} s: {counts}", flush=True)
    jobs = [(n, data[n][1], [aim] + ([peer] if peer and i % args.peer_every == 0 else []), attacks) for i, n in enumerate(names)]
    results: dict[str, dict] = {}
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for (n, *_), res in zip(jobs, pool.map(run_one, jobs, chunksize=1), strict=True):
            results[n] = res
            for mname, row in res.items():
                miss = [a for a, (f, _) in row["attacks"].items() if not f]
                print(f"{n:44s} {mname:10s} snr {row['snr']:5.1f}  misses: {' '.join(miss) or '-'}", flush=True)
        rng = np.random.default_rng(2026)
        fp = {}
        for m in methods:
            n = args.clean if m is aim else args.clean_peer
            picks = []
            for _ in range(n):
                x = data[names[int(rng.integers(0, len(names)))]][1]
                s = int(rng.integers(0, len(x) - 5 * SR - 1))
                picks.append(x[s : s + 5 * SR])
            chunks = [(m, picks[k :: max(1, args.jobs)]) for k in range(max(1, args.jobs))]
            t = time.perf_counter()
            hits = sum(pool.map(clean_hits, chunks))
            fp[m.name] = (hits, n, (n * 5.0) / (time.perf_counter() - t) / max(1, args.jobs))
            print(f"{m.name}: {hits} false positives in {n} clean 5 s excerpts", flush=True)

    def rows_of(mname: str, group: str | None = None) -> list[dict]:
        return [r[mname] for n, r in results.items() if mname in r and (group is None or data[n][0] == group)]

    cols = [(m.name, None) for m in methods] + [("aimark", g) for g in groups]
    head = [f"{m} ({len(rows_of(m, g))} excerpts{', ' + g if g else ''})" for m, g in cols]
    rows = [
        "| attack | " + " | ".join(f"{h} detected | bit acc." for h in head) + " | aimark bar |",
        "|---|" + "---:|---:|" * len(cols) + "---|",
    ]
    for a in attacks:
        cells = []
        for m, g in cols:
            res = [r["attacks"][a] for r in rows_of(m, g)]
            cells += [f"{100 * np.mean([f for f, _ in res]):.1f}%", f"{100 * np.mean([c for _, c in res]):.1f}%"]
        rate = 100 * np.mean([r["attacks"][a][0] for r in rows_of("aimark")])
        bar = 99 if a in TARGET_99 else 95 if a in TARGET_95 else None
        verdict = f">= {bar}%: {'met' if rate >= bar else 'MISSED'}" if bar else ""
        rows.append(f"| {a} | " + " | ".join(cells) + f" | {verdict} |")
    summary = [
        "| method | excerpts | SNR mean (min) dB | clean 5 s excerpts: false positives | embed x real time | "
        "detect x real time (marked, no attack) | detect x real time (clean 5 s) |",
        "|---|---:|---|---|---|---|---|",
    ]
    for m in methods:
        rs = rows_of(m.name)
        s = [r["snr"] for r in rs]
        hits, n, clean_rt = fp[m.name]
        emb = sum(r["embed"] for r in rs)
        det = sum(r["detect"] for r in rs if "detect" in r)
        det_s = sum(r["detect_s"] for r in rs if "detect_s" in r)
        summary.append(
            f"| {m.name} | {len(rs)} | {np.mean(s):.1f} ({np.min(s):.1f}) | {hits} / {n} | {len(rs) * EXCERPT_S / emb:.0f}x | "
            f"{det_s / det:.0f}x | {clean_rt:.0f}x |"
        )
    snrs = [r["snr"] for r in rows_of("aimark")]
    misses = sorted((a, n) for n, r in results.items() for a, (f, _) in r["aimark"]["attacks"].items() if not f)
    cmd = "python benchmarks/bench_audio_watermark.py " + " ".join(sys.argv[1:])
    text = "\n".join(
        [
            f"Command: `{cmd.strip()}`",
            "",
            f"{len(names)} excerpts of {EXCERPT_S:g} s, each embedded on its own: "
            + counts
            + " (speech: alsa-utils' announcements and espeak-ng in six voices at two rates; etr: extremetuxracer-data's "
            "tracks; wesnoth: wesnoth-1.16-music's tracks; up to "
            f"{args.per_track} excerpts per track, 30 s apart). Detection = the exact payload recovered. "
            f"The peer runs on every {args.peer_every}th excerpt. audiowmark speed includes its process start and "
            f"WAV I/O (how it is used); aimark's is in-process, one core per worker ({args.jobs} workers).",
            "",
            *summary,
            "",
            *rows,
            "",
            f"SNR of the mark per excerpt (float, before any requantisation): aimark minimum {min(snrs):.2f} dB, "
            f"{sum(v < 35.0 for v in snrs)} of {len(snrs)} excerpts below 35 dB.",
            "",
            f"aimark misses ({len(misses)}): "
            + ("; ".join(f"{a}: {n}" for a, n in misses[:60]) or "none")
            + (" ..." if len(misses) > 60 else ""),
        ]
    )
    print(text)
    if args.write:
        write_section(args.write, "audio-watermark", "Audio watermark benchmark", text)


if __name__ == "__main__":
    main()
