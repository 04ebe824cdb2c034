"""Batch verify: ``--jobs N`` gives the same reports as one job, and a run killed with SIGKILL
and resumed with ``--resume STATE`` reports each file exactly once, with no torn line. (The
speed bar is a benchmark: ``benchmarks/bench_batch.py``.)"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aimark
from aimark import AIGCLabel
from aimark.cli import main

from .conftest import PRODUCER


def _corpus(d: Path, n: int, size: int = 96) -> list[Path]:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    buf = io.BytesIO()
    Image.fromarray((rng.random((size, size, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    base = buf.getvalue()
    out = []
    for i in range(n):
        p = d / f"sub{i % 3}" / f"f{i:04d}.png"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(aimark.label_bytes(base, AIGCLabel(PRODUCER, f"id-{i}")) if i % 4 else base)
        out.append(p)
    (d / "notes.md").write_text("# hi\n\nplain text\n")
    (d / "blob.bin").write_bytes(b"\x00\x01\x02 not a known format")  # found in a walk: skipped
    return out


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(x) for x in text.splitlines()]


def test_jobs_give_the_same_reports_as_one_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _corpus(tmp_path / "c", 40)
    code1 = main(["verify", str(tmp_path / "c"), "-r", "--json", "--no-watermark"])
    one = capsys.readouterr()
    code2 = main(["verify", str(tmp_path / "c"), "-r", "--json", "--no-watermark", "--jobs", "2"])
    two = capsys.readouterr()
    assert code1 == code2 == 1  # some files have no label
    assert _lines(one.out) == _lines(two.out) and len(_lines(one.out)) == 41
    assert "1 skipped (format not supported)" in two.err
    assert main(["verify", str(tmp_path / "c"), "--jobs", "0"]) == 2


def test_killed_and_resumed_run_reports_each_file_exactly_once(tmp_path: Path) -> None:
    files = _corpus(tmp_path / "c", 600, size=128)
    state = tmp_path / "state.jsonl"
    # (--no-explicit: text recognition would make each file about ten times slower, and is not what is tested)
    cmd = [sys.executable, "-m", "aimark", "verify", str(tmp_path / "c"), "-r", "--json", "--no-explicit", "--jobs", "2"]
    cmd += ["--resume", str(state)]
    with open(tmp_path / "out1", "wb") as out1:
        proc = subprocess.Popen(cmd, stdout=out1, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 120
        while (not state.exists() or state.read_bytes().count(b"\n") < 120) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.5)
    ps = subprocess.run(["ps", "-o", "stat=", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert [st for st in ps if not st.startswith("Z")] == [], "worker processes outlived the killed run"  # zombies are dead
    done_first = state.read_bytes().count(b"\n")
    assert 120 <= done_first < len(files) + 1, "the run finished before it was killed: make it longer"
    with open(tmp_path / "out2", "wb") as out2:
        res = subprocess.run(cmd, stdout=out2, stderr=subprocess.PIPE, timeout=300)
    assert res.returncode == 1 and b"already in" in res.stderr
    recorded = [json.loads(line) for line in state.read_text().splitlines()]  # every line whole
    paths = [r["path"] for r in recorded]
    expected = {str(p) for p in files} | {str(tmp_path / "c" / "notes.md")}
    assert sorted(paths) == sorted(expected)  # each file exactly once
    first = [r["path"] for r in _lines((tmp_path / "out1").read_text())]
    second = [r["path"] for r in _lines((tmp_path / "out2").read_text())]
    assert not set(first) & set(second) and len(first) == len(set(first)) and len(second) == len(set(second))
    assert set(first) | set(second) <= expected and len(second) == len(expected) - done_first
