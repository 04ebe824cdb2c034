"""SNR of the *written file* after ``aimark label --watermark``, against the input file, per
clip and output format, beside the SNR of a plain re-encode of the same input (the same
decode + encode with nothing added), so that what the mark costs and what the codec costs are
told apart.

    apt-get install extremetuxracer-data      # the music (GPL-2+)
    python benchmarks/bench_audio_snr.py [--write benchmarks/RESULTS.md]

Clips: a 20 s excerpt from 15 s into each Ogg track of Debian's extremetuxracer-data
(``/usr/share/games/etr/music``; tracks shorter than 35 s are left out), written by Debian's
ffmpeg as 16-bit WAV, FLAC, Ogg Vorbis (q 5) and MP3 (192 kbit/s); those files are the inputs.
Both files are decoded by ffmpeg to 44.1 kHz stereo float for the comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import aimark
from _results import write_section
from aimark import AIGCLabel, ContentOptions
from aimark.audio import io as aio
from bench_audio_watermark import pcm, snr

MUSIC = Path("/usr/share/games/etr/music")
FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": [],
    "ogg": ["-c:a", "libvorbis", "-q:a", "5"],
    "mp3": ["-b:a", "192k"],
}


def ffmpeg(*args: object) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], capture_output=True, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", type=Path)
    args = ap.parse_args()
    tracks = sorted(MUSIC.glob("*.ogg"))
    if not tracks:
        raise SystemExit("no music: apt-get install extremetuxracer-data")
    marked: dict[str, list[float]] = {f: [] for f in FORMATS}
    plain: dict[str, list[float]] = {f: [] for f in FORMATS}
    used = []
    with tempfile.TemporaryDirectory() as td:
        d = Path(td)
        for t in tracks:
            probe = d / "probe.wav"
            ffmpeg("-ss", "15", "-t", "20", "-i", t, "-c:a", "pcm_s16le", probe)
            if len(pcm(probe)) < 19 * 44100:
                continue
            used.append(t.stem)
            for ext, enc in FORMATS.items():
                src, out, ref = d / f"in.{ext}", d / f"out.{ext}", d / f"plain.{ext}"
                ffmpeg("-ss", "15", "-t", "20", "-i", t, *enc, src)
                label = AIGCLabel("001191110102MACQD9K64010000", t.stem)
                aimark.label_file(src, out, label, content=ContentOptions(watermark=True))
                samples, info = aio.decode(src.read_bytes(), ext, aimark.DEFAULT_LIMITS, audio_only=True)
                ref.write_bytes(bytes(aio.encode(samples, info)))
                a = pcm(src)
                marked[ext].append(snr(a, pcm(out)))
                plain[ext].append(snr(a, pcm(ref)))
            print(t.stem, " ".join(f"{e} {marked[e][-1]:.2f}/{plain[e][-1]:.2f}" for e in FORMATS), flush=True)
    lines = [
        f"{len(used)} clips of 20 s ({', '.join(used)}); SNR of the file written by `aimark label --watermark` "
        "against its input, and of a plain re-encode (nothing added) against the same input.",
        "",
        "| output | marked SNR mean dB | marked SNR min dB | plain re-encode SNR mean dB | plain min dB | "
        "marked >= 35 dB on every clip |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for ext in FORMATS:
        m, p = np.array(marked[ext]), np.array(plain[ext])
        lines.append(
            f"| {ext} | {m.mean():.2f} | {m.min():.2f} | {p.mean():.2f} | {p.min():.2f} | {'yes' if m.min() >= 35 else 'no'} |"
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        body = f"`python benchmarks/bench_audio_snr.py --write benchmarks/RESULTS.md`\n\n{text}\n"
        write_section(args.write, "audio-snr", "Audio: SNR of the written file", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
