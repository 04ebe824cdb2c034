"""Audio content: the rhythm prompt, spoken-clip insertion, the watermark and the journey.

Real audio: Debian alsa-utils' speech samples (/usr/share/sounds/alsa, GPL-2) when present,
else a generated signal; ffmpeg (installed by the README's test command) makes the attacks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import aimark
from aimark import AIGCLabel
from aimark.api import ContentOptions
from aimark.audio import explicit, io, watermark
from aimark.errors import AimarkError, InputError, InvalidArgument
from aimark.watermark import ecc

from .conftest import PRODUCER


@pytest.fixture(autouse=True, scope="module")
def _ffmpeg() -> None:
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        raise RuntimeError("ffmpeg and ffprobe are required by the tests (apt-get install -y ffmpeg)")


ALSA = Path("/usr/share/sounds/alsa")
SR = 44100
PAYLOAD = bytes.fromhex("0123456789abcdef")


def ffmpeg_pcm(src: Path | bytes, *args: str, rate: int = SR, channels: int = 2) -> np.ndarray:
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-i",
        "-" if isinstance(src, bytes) else str(src),
        *args,
        "-f",
        "f32le",
        "-ac",
        str(channels),
        "-ar",
        str(rate),
        "-",
    ]
    res = subprocess.run(cmd, input=src if isinstance(src, bytes) else None, capture_output=True, timeout=120, check=True)
    return np.frombuffer(res.stdout, np.float32).reshape(-1, channels).copy()


def wav_bytes(x: np.ndarray, rate: int = SR) -> bytes:
    res = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "f32le",
            "-ar",
            str(rate),
            "-ac",
            str(x.shape[1]),
            "-i",
            "-",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            "-",
        ],
        input=x.astype(np.float32).tobytes(),
        capture_output=True,
        check=True,
        timeout=120,
    )
    return res.stdout


@pytest.fixture(scope="session")
def speech() -> np.ndarray:
    """About 11 s of real speech (the ALSA channel announcements), stereo at 44.1 kHz."""
    files = sorted(ALSA.glob("*.wav")) if ALSA.is_dir() else []
    files = [f for f in files if "Noise" not in f.name]
    if files:
        return np.concatenate([ffmpeg_pcm(f) for f in files])
    rng = np.random.default_rng(3)  # fallback: a voiced-like harmonic signal with noise
    t = np.arange(SR * 11) / SR
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    x = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / SR) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    x = 0.1 * x + 0.01 * rng.standard_normal(len(t))
    return np.repeat(x[:, None], 2, axis=1).astype(np.float32)


@pytest.fixture(scope="session")
def marked(speech: np.ndarray) -> np.ndarray:
    return watermark.embed(speech, SR, PAYLOAD)


def test_watermark_snr_and_round_trip(speech: np.ndarray, marked: np.ndarray) -> None:
    assert marked.shape == speech.shape and marked.dtype == speech.dtype
    assert watermark.snr_db(speech, marked) >= 35.0
    report = watermark.detect(marked, SR)
    assert report.found and report.payload == PAYLOAD.hex()
    assert report.p_value <= 1e-9
    assert not watermark.detect(marked, SR, key="another key").found


@pytest.mark.parametrize(
    "attack",
    [
        ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
        ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
        ["-c:a", "libopus", "-b:a", "64k", "-f", "ogg"],
        ["-af", "aresample=16000,aresample=44100", "-f", "wav"],
        ["-af", "lowpass=f=4000", "-f", "wav"],
        ["-af", "atempo=1.05", "-f", "wav"],
        ["-c:a", "libopus", "-b:a", "32k", "-f", "ogg"],
        ["-c:a", "aac", "-b:a", "48k", "-f", "adts"],
        ["-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    ],
    ids=["mp3-64k", "aac-64k", "opus-64k", "resample-16k", "lowpass-4k", "tempo-1.05", "opus-32k", "aac-48k", "mp3-64k-mono"],
)
def test_watermark_survives(marked: np.ndarray, attack: list[str]) -> None:
    data = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", *attack, "-"], input=wav_bytes(marked), capture_output=True, check=True, timeout=120
    ).stdout
    report = watermark.detect(ffmpeg_pcm(data), SR)
    assert report.found and report.payload == PAYLOAD.hex(), report.detail


def test_the_first_version_of_the_mark_is_still_read(speech: np.ndarray) -> None:
    """Audio marked by version 1 (the lower half of the band only) is read, and reported as
    that version; what is written now reports version 2."""
    v1 = watermark.embed(speech, SR, PAYLOAD, version=watermark.V1)
    report = watermark.detect(v1, SR)
    assert report.found and report.payload == PAYLOAD.hex() and report.method == watermark.V1.method
    assert watermark.detect(watermark.embed(speech, SR, PAYLOAD), SR).method == watermark.V2.method == watermark.METHOD
    assert not watermark.detect(v1, SR, key="another key").found


@pytest.mark.parametrize("rate", [8000, 16000])
def test_low_sample_rates_get_the_version_their_band_holds(speech: np.ndarray, rate: int) -> None:
    """8 kHz audio cannot hold version 2's band (up to 7 kHz): it gets version 1; 16 kHz holds it."""
    import cv2

    x = cv2.resize(speech, (speech.shape[1], len(speech) * rate // SR), interpolation=cv2.INTER_AREA)
    report = watermark.detect(watermark.embed(x, rate, PAYLOAD), rate)
    assert report.found and report.payload == PAYLOAD.hex()
    assert report.method == (watermark.V1 if rate == 8000 else watermark.V2).method
    with pytest.raises(InputError):
        watermark.embed(x, 8000, PAYLOAD, version=watermark.V2)


def test_list_viterbi_keeps_the_best_path_first_and_finds_more_frames() -> None:
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, ecc.INFO_BITS)
    coded = 2.0 * ecc.encode(bits) - 1
    plain = listed = 0
    for _ in range(40):
        soft = coded + 1.25 * rng.standard_normal(len(coded))
        paths = ecc.list_viterbi(soft, 16)
        assert np.array_equal(paths[0], ecc.viterbi(soft))
        assert len({p.tobytes() for p in paths}) == len(paths) == 16
        plain += np.array_equal(paths[0], bits)
        listed += any(np.array_equal(p, bits) for p in paths)
    assert listed > plain + 5


def test_watermark_in_a_5_second_excerpt_at_an_odd_offset(marked: np.ndarray) -> None:
    start = int(3.3 * SR) + 17
    report = watermark.detect(marked[start : start + 5 * SR], SR)
    assert report.found and report.payload == PAYLOAD.hex()


def test_clean_audio_and_short_audio_find_nothing(speech: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        s = int(rng.integers(0, len(speech) - 5 * SR))
        assert not watermark.detect(speech[s : s + 5 * SR], SR).found
    assert not watermark.detect(speech[:SR], SR).found
    with pytest.raises(InvalidArgument):
        watermark.embed(np.zeros((0, 2), np.float32), SR, PAYLOAD)


@pytest.mark.parametrize("rate,channels", [(44100, 2), (48000, 1), (16000, 1), (22050, 6)])
def test_rhythm_prompt_onsets_decode_at_every_position(rate: int, channels: int) -> None:
    rng = np.random.default_rng(rate)
    x = (0.05 * rng.standard_normal((rate * 6, channels))).astype(np.float32)
    y, starts = explicit.insert(x, rate, explicit.rhythm_tone(rate), "start,middle,end")
    pad = round(0.15 * rate)
    assert y.shape == (len(x) + 3 * (len(explicit.rhythm_tone(rate)) + 2 * pad), channels)
    found = explicit.rhythm_onsets(y, rate)
    assert len(found) == 3
    for want, got in zip(starts, found, strict=True):
        assert abs(want - got) < 0.03
    assert explicit.find_rhythm(y, rate).positions == ["start", "middle", "end"]
    assert explicit.rhythm_onsets(x, rate) == []


def test_bundled_voice_prompt_is_mandarin_speech_at_normal_speed() -> None:
    clip, rate = explicit.load_clip(explicit.default_voice())
    voiced = np.abs(clip) > 0.02 * np.abs(clip).max()
    idx = np.flatnonzero(voiced)
    spoken = (idx[-1] - idx[0]) / rate
    assert 6 / spoken * 60 >= 120 - 15  # 6 characters at about 120-160 per minute (SPEC section 1)
    assert 6 / (len(clip) / rate) * 60 <= 160


def test_voice_clip_is_inserted_and_levelled(speech: np.ndarray) -> None:
    clip = ffmpeg_pcm(ALSA / "Front_Center.wav", rate=16000, channels=1)[:, 0] if ALSA.is_dir() else speech[:16000, 0]
    base = np.zeros((SR * 3, 2), np.float32) + 0.01
    y = explicit.add_voice(base, SR, clip, 16000, "start")
    inserted = len(y) - len(base)
    assert abs(inserted - (round(len(clip) * SR / 16000) + 2 * round(0.15 * SR))) <= 1
    assert np.abs(y[:inserted]).max() > 0.01  # the clip sounds in the inserted part


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg", "opus", "m4a"])
def test_label_journey_keeps_the_kind_of_file(tmp_path: Path, speech: np.ndarray, fmt: str) -> None:
    src = tmp_path / f"in.{fmt}"
    rate = 48000 if fmt == "opus" else SR
    subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-ar", str(rate), "-metadata", "title=Keep", str(src)],
        input=wav_bytes(speech),
        check=True,
        timeout=120,
    )
    before = src.read_bytes()
    dst = tmp_path / f"out.{fmt}"
    content = ContentOptions(explicit=True, at="start,end", watermark=True)
    aimark.label_file(src, dst, AIGCLabel(PRODUCER, f"a-{fmt}"), content=content)
    assert src.read_bytes() == before
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(dst)], capture_output=True, check=True
        ).stdout
    )
    st = probe["streams"][0]
    orig = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(src)], capture_output=True, check=True
        ).stdout
    )["streams"][0]
    assert (st["codec_name"], st["sample_rate"], st["channels"]) == (orig["codec_name"], orig["sample_rate"], orig["channels"])
    tags = {k.lower(): v for k, v in {**probe["format"].get("tags", {}), **st.get("tags", {})}.items()}
    assert tags.get("title") == "Keep"
    added = float(probe["format"]["duration"]) - len(speech) / SR
    assert 2 * explicit.DEFAULT_RHYTHM.seconds < added < 2 * explicit.DEFAULT_RHYTHM.seconds + 0.8
    report = aimark.verify(dst)
    assert report.verdict == "compliant"
    assert report.watermark is not None and report.watermark.found and report.watermark.matches_label
    assert report.explicit is not None and report.explicit.positions == ["start", "end"]


@pytest.mark.parametrize("fmt,args", [("flac", ["-sample_fmt", "s32"]), ("wav", ["-c:a", "pcm_s24le"])])
def test_24_bit_files_keep_their_depth_and_the_snr(tmp_path: Path, speech: np.ndarray, fmt: str, args: list[str]) -> None:
    src = tmp_path / f"in24.{fmt}"
    subprocess.run(["ffmpeg", "-v", "error", "-i", "-", *args, str(src)], input=wav_bytes(speech), check=True, timeout=120)
    dst = tmp_path / f"out24.{fmt}"
    aimark.label_file(src, dst, AIGCLabel(PRODUCER, "deep"), content=ContentOptions(watermark=True))

    def depth(p: Path) -> str:
        st = json.loads(
            subprocess.run(
                ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(p)], capture_output=True, check=True
            ).stdout
        )["streams"][0]
        return str(st.get("bits_per_raw_sample") or st.get("bits_per_sample"))

    assert depth(src) == depth(dst) == "24"
    a = ffmpeg_pcm(src, rate=SR, channels=speech.shape[1])
    b = ffmpeg_pcm(dst, rate=SR, channels=speech.shape[1])
    assert watermark.snr_db(a, b[: len(a)]) >= 35.0  # the written file, against its input


def test_cli_audio_label_and_verify(tmp_path: Path, speech: np.ndarray) -> None:
    src = tmp_path / "in.wav"
    src.write_bytes(wav_bytes(speech))
    dst = tmp_path / "out.wav"
    run = subprocess.run(
        [
            "aimark",
            "label",
            str(src),
            "-o",
            str(dst),
            "--producer",
            PRODUCER,
            "--produce-id",
            "cli-1",
            "--explicit",
            "rhythm",
            "--at",
            "end",
            "--watermark",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    out = subprocess.run(["aimark", "verify", "--json", str(dst)], capture_output=True, text=True)
    data = json.loads(out.stdout.splitlines()[0])
    assert data["verdict"] == "compliant" and data["watermark"]["found"] and data["explicit"]["positions"] == ["end"]
    voiced = tmp_path / "v.wav"
    run = subprocess.run(
        ["aimark", "label", str(src), "-o", str(voiced), "--producer", PRODUCER, "--produce-id", "v", "--explicit", "voice"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    clip, clip_sr = explicit.load_clip(explicit.default_voice())
    added = len(ffmpeg_pcm(voiced)) - len(speech)
    assert abs(added - (round(len(clip) * SR / clip_sr) + 2 * round(0.15 * SR))) <= 2
    bad = subprocess.run(
        [
            "aimark",
            "label",
            str(src),
            "-o",
            str(tmp_path / "x.wav"),
            "--producer",
            PRODUCER,
            "--produce-id",
            "x",
            "--explicit",
            "voice",
            "--voice",
            str(tmp_path / "missing.wav"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_content_step_refuses_bad_audio(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" + bytes(300))
    with pytest.raises(AimarkError):
        aimark.label_file(bad, tmp_path / "o.mp3", AIGCLabel(PRODUCER, "x"), content=ContentOptions(watermark=True))
    assert not (tmp_path / "o.mp3").exists()
    short = tmp_path / "short.wav"
    short.write_bytes(wav_bytes(np.zeros((SR, 2), np.float32) + 0.01))
    with pytest.raises(InputError):
        aimark.label_file(short, tmp_path / "s.wav", AIGCLabel(PRODUCER, "x"), content=ContentOptions(watermark=True))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".aimark-")]


def test_io_keeps_pcm_depth(tmp_path: Path) -> None:
    x = (0.1 * np.sin(np.arange(SR) / 10))[:, None].repeat(2, 1).astype(np.float32)
    for codec in ("pcm_s24le", "pcm_f32le"):
        data = subprocess.run(
            ["ffmpeg", "-v", "error", "-f", "f32le", "-ar", str(SR), "-ac", "2", "-i", "-", "-c:a", codec, "-f", "wav", "-"],
            input=x.tobytes(),
            capture_output=True,
            check=True,
        ).stdout
        samples, info = io.decode(data, "wav")
        again, info2 = io.decode(io.encode(samples, info), "wav")
        assert info2.codec == codec and info2.rate == SR and info2.channels == 2
        assert np.abs(again - samples).max() < 1e-6
