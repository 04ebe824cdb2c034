"""The ``aimark`` command: exit codes, one-line errors, the --json shape, walking folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from aimark.cli import main

from .conftest import PRODUCER, ExifTool, ImageMaker

REPO = Path(__file__).resolve().parents[1]
LABEL_ARGS = ["--producer", PRODUCER, "--produce-id", "cli-1"]


@pytest.fixture
def photos(tmp_path: Path, make_image: ImageMaker) -> Path:
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    (d / "a.jpg").write_bytes(make_image("jpeg"))
    (d / "b.png").write_bytes(make_image("png"))
    (d / "sub" / "c.webp").write_bytes(make_image("webp"))
    (d / "readme.txt").write_text("not an image")
    (d / "data.bin").write_bytes(b"\x00\x01\x02 no format aimark knows")
    return d


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_label_then_verify(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], exiftool: ExifTool) -> None:
    out = tmp_path / "a-aigc.jpg"
    code, stdout, _ = run(capsys, "label", str(photos / "a.jpg"), "-o", str(out), *LABEL_ARGS)
    assert code == 0 and "labeled [jpeg]" in stdout
    assert json.loads(exiftool.aigc(out))["ProduceID"] == "cli-1"
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 0 and f"{out}: compliant [jpeg]" in stdout and "1 compliant" in stdout


def test_verify_json_shape_and_exit_codes(photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labeled = tmp_path / "ok.png"
    run(capsys, "label", str(photos / "b.png"), "-o", str(labeled), *LABEL_ARGS)
    code, stdout, stderr = run(capsys, "verify", "--json", str(labeled), str(photos / "a.jpg"))
    assert code == 1  # one file has no label
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [r["verdict"] for r in lines] == ["compliant", "not_found"]
    first = lines[0]
    assert set(first) >= {"path", "format", "verdict", "labels", "findings"}
    assert set(first["labels"][0]) >= {"site", "aigc", "findings"}
    assert first["labels"][0]["aigc"]["ProduceID"] == "cli-1"
    assert "2 files" in stderr  # the summary stays off stdout in --json mode


def test_directory_walk_skips_unsupported(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(capsys, "verify", str(photos))
    assert code == 1 and "3 files" in stdout and "1 skipped" in stdout  # a.jpg, b.png, readme.txt; data.bin skipped
    code, stdout, _ = run(capsys, "verify", "--recursive", "--quiet", str(photos))
    assert "4 files" in stdout and "c.webp" not in stdout.replace("3 files", "")
    code, stdout, _ = run(capsys, "verify", "--json", str(photos / "**" / "*.webp"))
    assert [json.loads(x)["path"] for x in stdout.splitlines()] == [str(photos / "sub" / "c.webp")]


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "/nonexistent/file.jpg"],
        ["verify", "{photos}/data.bin"],
        ["label", "{photos}/a.jpg", "-o", "{photos}/a.jpg", *LABEL_ARGS],
        ["label", "{photos}/a.jpg", *LABEL_ARGS],
        ["label", "{photos}/a.jpg", "-o", "{photos}/x.jpg", "--producer", "doubao", "--produce-id", "1"],
        ["label", "{photos}/a.jpg", "-o", "{photos}/x.jpg", "--producer", PRODUCER, "--produce-id", "has space"],
        ["label", "{photos}/readme.txt", "-o", "{photos}/x.jpg", *LABEL_ARGS],
    ],
)
def test_errors_are_one_line_and_exit_2(argv: list[str], photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in photos.iterdir())
    code, _, stderr = run(capsys, *[a.format(photos=photos) for a in argv])
    assert code == 2
    errors = [line for line in stderr.splitlines() if line.startswith("aimark: error:")]
    assert len(errors) == 1 and "Traceback" not in stderr
    assert sorted(p.name for p in photos.iterdir()) == before


def test_in_place_and_allow_names(photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = photos / "b.png"
    code, _, _ = run(capsys, "label", str(target), "--in-place", *LABEL_ARGS)
    assert code == 0
    code, _, _ = run(capsys, "label", str(target), "--in-place", "--allow-names", "--producer", "doubao", "--produce-id", "7")
    assert code == 0
    code, stdout, _ = run(capsys, "verify", "--json", str(target))
    rec = json.loads(stdout)
    assert code == 1 and rec["verdict"] == "noncompliant"  # a name is written on request, but flagged
    assert rec["labels"][0]["aigc"]["ContentProducer"] == "doubao" and len(rec["labels"]) == 1


def test_console_script_runs(photos: Path, tmp_path: Path) -> None:
    """The installed entry point (or ``python -m aimark``) works as a separate process."""
    exe = shutil.which("aimark")
    cmd = [exe] if exe else [sys.executable, "-m", "aimark"]
    out = tmp_path / "p.jpg"
    res = subprocess.run([*cmd, "label", str(photos / "a.jpg"), "-o", str(out), *LABEL_ARGS], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    res = subprocess.run([*cmd, "verify", "--json", str(out)], capture_output=True, text=True)
    assert res.returncode == 0 and json.loads(res.stdout)["verdict"] == "compliant"
    res = subprocess.run([*cmd, "verify", str(tmp_path / "missing.jpg")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no such file" in res.stderr  # one line
    assert "1 errors" in res.stdout and "Traceback" not in res.stderr
