"""``aimark serve`` over real HTTP on loopback: a real uvicorn process, real uploads.

200 concurrent mixed uploads (images, audio, documents, video) must all be answered with the
JSON that ``aimark verify --json`` prints for the same file; p50/p99 latency and the server's
peak RSS are printed. Limits (413), malformed requests (422), the token (401), the OpenAPI
document and that nothing is kept after a request are checked on the same server.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

import aimark
from aimark.cli import main

from .platform_media import PLATFORM, make_uploads, running_server

TOKEN = "test-token-7f3a"
MAX_MB = 2


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("svc-uploads")
    out = make_uploads(d)
    mp4 = d / "clip.mp4"
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
        timeout=120,
    )
    aimark.label_file(mp4, d / "labeled.mp4", aimark.AIGCLabel("001191110102MACQD9K64010000", "vid-1"))
    out["video"] = d / "labeled.mp4"
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    with running_server(tmp_path_factory.mktemp("svc"), TOKEN, MAX_MB) as running:
        yield running


def cli_json(path: Path, *flags: str) -> dict[str, object]:
    buf = io.StringIO()
    import contextlib

    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        main(["verify", "--json", *flags, str(path)])
    return json.loads(buf.getvalue().splitlines()[0])


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_200_concurrent_mixed_uploads(server: tuple[str, subprocess.Popen[bytes], Path], uploads: dict[str, Path]) -> None:
    base, proc, spool = server
    files = [uploads[k] for k in ("labeled", "watermark_only", "clean", "wav", "markdown", "text_explicit", "video")]
    expected = {}
    for f in files:
        want = cli_json(f, "--decide")
        want["path"] = f.name
        expected[f.name] = want
    jobs = [files[i % len(files)] for i in range(200)]

    def one(path: Path) -> tuple[float, int, dict[str, object]]:
        t = time.perf_counter()
        with httpx.Client(timeout=120) as c:
            r = c.post(base + "/v1/verify", params={"decide": "true"}, files={"file": (path.name, path.read_bytes())})
        return time.perf_counter() - t, r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, jobs))
    lat = sorted(r[0] for r in results)
    assert [r[1] for r in results] == [200] * 200
    for path, (_, _, body) in zip(jobs, results, strict=True):
        assert body == expected[path.name], path.name
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    rss = _peak_rss(proc.pid)
    kinds = f"{len(jobs)} concurrent uploads (50 clients, {len(files)} kinds)"
    print(f"\n{kinds}: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, server peak RSS {rss / 2**20:.0f} MiB")

    assert rss < 1 << 30
    assert list(spool.iterdir()) == []  # nothing kept after the requests


def test_limits_malformed_requests_and_error_shape(server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    base, _, spool = server
    big = os.urandom(MAX_MB * 2**20 + 10)
    r = httpx.post(base + "/v1/verify", files={"file": ("big.bin", big)}, timeout=60)
    assert r.status_code == 413 and r.json()["error"]["code"] == "upload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
        for i in range(0, len(big), 1 << 16):
            yield big[i : i + (1 << 16)]

    r = httpx.post(base + "/v1/verify", params={"filename": "big.bin"}, content=chunks(), timeout=60)
    assert r.status_code == 413 and r.json()["error"]["status"] == 413
    for kwargs in (
        {"files": {"other": ("a.txt", b"hello")}},  # no field "file"
        {"content": b"--xx\r\ngarbage", "headers": {"content-type": "multipart/form-data; boundary=xx"}},
        {"content": b"", "params": {"filename": "empty.png"}},
    ):
        r = httpx.post(base + "/v1/verify", timeout=30, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 422, r.text
        assert set(r.json()["error"]) == {"code", "message", "status"}
    r = httpx.post(base + "/v1/verify", params={"decide": "maybe"}, content=b"x", timeout=30)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = httpx.get(base + "/nowhere", timeout=30)
    assert r.status_code == 404 and r.json()["error"]["status"] == 404
    time.sleep(0.2)
    assert list(spool.iterdir()) == []


def test_raw_body_upload_is_the_cli_json(server: tuple[str, subprocess.Popen[bytes], Path], uploads: dict[str, Path]) -> None:
    base, _, _ = server
    r = httpx.post(base + "/v1/verify", params={"filename": "notes.md"}, content=uploads["markdown"].read_bytes(), timeout=30)
    want = cli_json(uploads["markdown"])
    want["path"] = "notes.md"
    assert r.status_code == 200 and r.json() == want


def test_propagate_needs_the_token(server: tuple[str, subprocess.Popen[bytes], Path], uploads: dict[str, Path]) -> None:
    base, _, _ = server
    params = {"propagator": PLATFORM, "propagate_id": "web-1"}
    files = {"file": ("w.jpg", uploads["watermark_only"].read_bytes())}
    assert httpx.post(base + "/v1/propagate", params=params, files=files, timeout=30).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    r = httpx.post(base + "/v1/propagate", params=params, files=files, headers=wrong, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    ok = {"Authorization": f"Bearer {TOKEN}"}
    r = httpx.post(base + "/v1/propagate", params=params, files=files, headers=ok, timeout=60)
    assert r.status_code == 200 and r.headers["x-aimark-label"] == "3"
    report = aimark.verify_bytes(r.content)
    assert report.labels[0].aigc["ContentPropagator"] == PLATFORM and report.labels[0].aigc["PropagateID"] == "web-1"
    clean = {"file": ("c.jpg", uploads["clean"].read_bytes())}
    assert httpx.post(base + "/v1/propagate", params=params, files=clean, headers=ok, timeout=60).status_code == 204
    r = httpx.post(base + "/v1/propagate", params={"propagator": PLATFORM}, files=clean, headers=ok, timeout=60)
    assert r.status_code == 422


def test_openapi_lists_every_route(server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    base, _, _ = server
    doc = httpx.get(base + "/openapi.json", timeout=30).json()
    assert {"/", "/healthz", "/v1/verify", "/v1/propagate"} <= set(doc["paths"])
    body = doc["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body and "application/octet-stream" in body
    params = {p["name"] for p in doc["paths"]["/v1/propagate"]["post"]["parameters"]}
    assert {"propagator", "propagate_id", "declared_ai"} <= params


def test_fastapi_dependency_recipe(uploads: dict[str, Path]) -> None:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from aimark.platform import Moderation
    from aimark.platform.service import moderation

    app = FastAPI()
    counter = iter(range(1, 100))

    @app.post("/upload")
    async def upload(result: Moderation = Depends(moderation(PLATFORM, lambda: f"post-{next(counter)}"))) -> dict[str, object]:  # noqa: B008
        labeled = aimark.verify_bytes(result.data).labels[0].aigc if result.data else None
        return {"notice": result.decision.notice, "label": result.decision.label, "written": labeled}

    with TestClient(app) as client:
        r = client.post("/upload", files={"file": ("w.jpg", uploads["watermark_only"].read_bytes())})
        body = r.json()
        assert body["label"] == "3" and body["written"]["PropagateID"] == "post-1"
        r = client.post("/upload", params={"declared_ai": "true"}, files={"file": ("c.jpg", uploads["clean"].read_bytes())})
        assert r.json()["label"] == "2" and r.json()["written"]["Label"] == "2"
