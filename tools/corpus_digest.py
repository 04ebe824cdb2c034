"""Label a fixed corpus through the CLI and print the SHA-256 of every output.

A refactoring check: run it on the tree before and after a change and compare the two JSON
files; every labeled output must be byte-identical (and every refusal must stay a refusal)::

    python tools/corpus_digest.py --corpus /tmp/aimark-corpus --out after.json
    PYTHONPATH=/path/to/old/src python tools/corpus_digest.py --corpus /tmp/aimark-corpus --out before.json
    python tools/corpus_digest.py --compare before.json after.json

The corpus is generated on the first run (Pillow from scikit-image's photos, ffmpeg for audio
and video, python-docx/openpyxl/python-pptx/pypdf for documents: the test extra) and reused
afterwards, so both runs see the same input bytes. Each input is labeled with several option
sets (metadata only, explicit, watermark, both, placements), and each output is relabeled once.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PRODUCER = "001191110102MACQD9K64010000"
PRODUCER2 = "001191440300708461136T1XGW3"


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=300)


def make_corpus(d: Path) -> None:
    import numpy as np
    from PIL import Image
    from skimage import data as skdata

    d.mkdir(parents=True, exist_ok=True)
    photo = Image.fromarray(np.ascontiguousarray(skdata.astronaut()[40:296, 80:400]))
    exif = Image.Exif()
    exif[0x010F] = "corpus-camera"
    photo.save(d / "photo.jpg", quality=90)
    photo.save(d / "photo-exif.jpg", quality=80, exif=exif.tobytes(), progressive=True)
    photo.save(d / "photo.png")
    photo.convert("L").save(d / "gray.png")
    photo.convert("RGBA").save(d / "rgba.png")
    photo.save(d / "photo.webp", quality=85)
    photo.save(d / "lossless.webp", lossless=True)
    photo.save(d / "exif.webp", quality=80, exif=exif.tobytes())
    photo.convert("P").save(d / "photo.gif")
    photo.save(d / "photo.tiff", compression="tiff_lzw")
    photo.save(d / "exif.tiff", exif=exif.tobytes())

    sr = 44100
    t = np.arange(sr * 6) / sr
    rng = np.random.default_rng(3)
    sig = 0.25 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.03 * rng.standard_normal(t.size)
    pcm = (np.stack([sig, np.roll(sig, 300)], 1) * 32767).astype("<i2")
    import wave

    with wave.open(str(d / "tone.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    src = str(d / "tone.wav")
    tags = ["-metadata", "title=Corpus", "-metadata", "artist=aimark"]
    _ffmpeg("-i", src, "-c:a", "libmp3lame", "-b:a", "128k", *tags, str(d / "tone.mp3"))
    _ffmpeg("-i", src, "-c:a", "libmp3lame", "-id3v2_version", "3", *tags, str(d / "tone-v23.mp3"))
    _ffmpeg("-i", src, "-c:a", "flac", *tags, str(d / "tone.flac"))
    _ffmpeg("-i", src, "-c:a", "libvorbis", *tags, str(d / "tone.ogg"))
    _ffmpeg("-i", src, "-c:a", "libopus", *tags, str(d / "tone.opus"))
    _ffmpeg("-i", src, "-c:a", "aac", "-b:a", "96k", *tags, str(d / "tone.m4a"))
    _ffmpeg("-i", src, "-c:a", "aac", "-movflags", "+faststart", *tags, str(d / "faststart.m4a"))
    _ffmpeg("-i", src, "-c:a", "aac", "-movflags", "use_metadata_tags", "-metadata", "AIGC=old", str(d / "keys.m4a"))
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=1",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        "-shortest",
        str(d / "clip.mp4"),
    )

    (d / "plain.txt").write_text("第一段内容。\n\nThe second paragraph of plain text, long enough to carry a mark. " * 8)
    (d / "notes.md").write_text("---\ntitle: Notes\ntags: [a, b]\n---\n\n# Notes\n\n" + "Some markdown text here. " * 40)
    (d / "bare.md").write_text("# Heading\n\n" + "Markdown without front matter. " * 40)
    (d / "page.html").write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body><p>'
        + "A paragraph of HTML body text. " * 40
        + "</p></body></html>"
    )
    import docx
    import openpyxl
    import pptx
    from pypdf import PdfWriter

    doc = docx.Document()
    for i in range(6):
        doc.add_paragraph(f"Paragraph {i}: the quick brown fox jumps over the lazy dog. " * 4)
    doc.save(str(d / "doc.docx"))
    wb = openpyxl.Workbook()
    wb.active["A1"] = "cell"
    wb.save(str(d / "book.xlsx"))
    pres = pptx.Presentation()
    pres.slides.add_slide(pres.slide_layouts[5]).shapes.title.text = "Slide"
    pres.save(str(d / "deck.pptx"))
    w = PdfWriter()
    w.add_blank_page(200, 200)
    w.add_metadata({"/Title": "Corpus"})
    with open(d / "doc.pdf", "wb") as f:
        w.write(f)
    # inputs that already carry labels at foreign sites (the writers must clear them)
    foreign = '{"AIGC":{"Label":"1","ContentProducer":"' + PRODUCER2 + '","ProduceID":"old"}}'
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:o="urn:other/">'
        "<dc:format>image/webp</dc:format><o:AIGC>{}</o:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    photo.save(d / "comment.jpg", quality=85, comment=foreign.encode())
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-EXIF:UserComment={foreign}", str(d / "comment.jpg")], check=True)
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("AIGC", foreign)
    info.add_text("Software", "corpus")
    photo.save(d / "text.png", pnginfo=info)
    photo.save(d / "xmp.webp", quality=80, xmp=xmp.encode())
    photo.save(d / "xmp.jpg", quality=80, xmp=xmp.encode())
    photo.convert("P").save(d / "comment.gif", comment=foreign.encode())
    riff_info = b"INFO" + b"AIGC" + (len(foreign) + 1).to_bytes(4, "little") + foreign.encode() + b"\x00"
    riff_info += b"\x00" if len(riff_info) & 1 else b""
    wav = (d / "tone.wav").read_bytes()
    body = wav[12:] + b"LIST" + len(riff_info).to_bytes(4, "little") + riff_info
    (d / "info.wav").write_bytes(b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WAVE" + body)
    (d / "README").write_text("generated by tools/corpus_digest.py\n")


IMAGE = {".jpg", ".png", ".webp", ".gif", ".tiff"}
AUDIO = {".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a"}
TEXT = {".txt", ".md", ".html", ".docx", ".xlsx", ".pptx", ".pdf"}


def option_sets(path: Path) -> list[list[str]]:
    ext = path.suffix
    sets: list[list[str]] = [[]]
    if ext in IMAGE:
        sets += [["--explicit"], ["--watermark"], ["--explicit", "--watermark", "--position", "top-left"]]
    elif ext in AUDIO:
        sets += [["--explicit"], ["--watermark"], ["--explicit", "voice", "--at", "start,end", "--watermark"]]
    elif ext in TEXT:
        sets += [["--explicit"], ["--watermark"], ["--explicit", "--at", "start,end", "--watermark"]]
    else:
        sets += [["--explicit"], ["--watermark"]]
    return sets


def normalized(path: Path) -> bytes:
    """The file's bytes; for Ogg, with each page's serial number and CRC zeroed (an encoder
    picks a random serial per run, so re-encoded Ogg/Opus files differ only there)."""
    data = bytearray(path.read_bytes())
    if data[:4] == b"OggS":
        pos = 0
        while pos + 27 <= len(data) and data[pos : pos + 4] == b"OggS":
            nseg = data[pos + 26]
            body = sum(data[pos + 27 : pos + 27 + nseg])
            data[pos + 14 : pos + 18] = bytes(4)
            data[pos + 22 : pos + 26] = bytes(4)
            pos += 27 + nseg + body
    return bytes(data)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    from aimark.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue().strip()


def verify_json(path: Path) -> object:
    """``aimark verify --json`` of one file, without its path (temporary names differ)."""
    code, out, _ = run_cli(["verify", "--json", str(path)])
    lines = out.strip().splitlines()
    if not lines:
        return f"exit {code}"
    report = json.loads(lines[0])
    report.pop("path", None)
    return report


def digest(corpus: Path, extra_inputs: list[Path]) -> dict[str, object]:
    import time

    # new ZIP entries (OOXML custom.xml) carry the local time: fix the clock so runs compare
    fixed = time.struct_time((2026, 1, 2, 3, 4, 6, 4, 2, 0))
    time.localtime = lambda *_: fixed  # type: ignore[assignment]
    out: dict[str, object] = {}
    inputs = sorted(p for p in corpus.iterdir() if p.is_file()) + extra_inputs
    with tempfile.TemporaryDirectory() as tmp:
        for src in inputs:
            out[f"verify {src.name}"] = verify_json(src)
            for opts in option_sets(src):
                case = f"{src.name} {' '.join(opts)}".strip()
                dst = Path(tmp) / f"out{src.suffix}"
                code, _, err = run_cli(["label", str(src), "-o", str(dst), "--producer", PRODUCER, "--produce-id", "c-1", *opts])
                if code != 0:
                    out[case] = f"exit {code}"
                    print(f"{case}: exit {code}: {err}", file=sys.stderr)
                    continue
                out[case] = hashlib.sha256(normalized(dst)).hexdigest()
                out[f"verify {case}"] = verify_json(dst)
                again = Path(tmp) / f"again{src.suffix}"
                code, _, err = run_cli(["label", str(dst), "-o", str(again), "--producer", PRODUCER2, "--produce-id", "c-2"])
                out[case + " | relabel"] = hashlib.sha256(normalized(again)).hexdigest() if code == 0 else f"exit {code}"
                os.unlink(dst)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(again)
    return out


def _kept(old: object, new: object) -> bool:
    """``new`` equals ``old``, except that a report may gain fields (the JSON contract)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and _kept(v, new[k]) for k, v in old.items())
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_kept(x, y) for x, y in zip(old, new, strict=True))
    return old == new


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/aimark-corpus"))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    args = ap.parse_args()
    if args.compare:
        a, b = (json.loads(p.read_text()) for p in args.compare)
        diff = sorted(k for k in a.keys() | b.keys() if not _kept(a.get(k), b.get(k)))
        print(f"{len(a.keys() | b.keys()) - len(diff)} of {len(a.keys() | b.keys())} cases identical; {len(diff)} differ")
        for k in diff:
            print(f"  {k}: {json.dumps(a.get(k), ensure_ascii=False)}\n    -> {json.dumps(b.get(k), ensure_ascii=False)}")
        return 1 if diff else 0
    if not (args.corpus / "README").exists():
        make_corpus(args.corpus)
    examples = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"
    result = digest(args.corpus, [examples] if examples.exists() else [])
    text = json.dumps(result, indent=1, sort_keys=True)
    if args.out:
        args.out.write_text(text + "\n")
    labels = {k: v for k, v in result.items() if not k.startswith("verify ")}
    labeled = sum(1 for v in labels.values() if not str(v).startswith("exit"))
    reports = len(result) - len(labels)
    print(f"{len(labels)} label cases, {labeled} labeled outputs, {len(labels) - labeled} refusals; {reports} reports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
