"""The Celery worker with a real Redis broker (Debian's ``redis-server`` on loopback, started
here on a free port) and two real worker processes: 1,000 verify tasks, one worker killed
with SIGKILL mid-run, every result arrives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import aimark
from aimark import AIGCLabel

from .conftest import PRODUCER
from .platform_media import PLATFORM, free_port, make_uploads

VISIBILITY = 6


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("the worker tests need redis-server (apt-get install redis-server)")
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(d)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.monotonic() + 20
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    d = tmp_path_factory.mktemp("store")
    up = make_uploads(d / "media")
    files = [up["labeled"], up["clean"], up["wav"], up["markdown"], up["text_explicit"]]
    for i in range(15):
        p = d / "media" / f"extra-{i}.md"
        p.write_text(f"# note {i}\n\nbody\n")
        aimark.label_file(p, p, AIGCLabel(PRODUCER, f"md-{i}"), in_place=True)
        files.append(p)
    return d, files


def _worker(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "celery", "-A", "aimark.platform.celery:app", "worker", "--concurrency", "1"]
    cmd += [
        "--pool",
        "prefork",
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "warning",
    ]
    return subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)


def test_1000_tasks_survive_a_killed_worker(broker: str, store: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, files = store
    env = {
        **os.environ,
        "AIMARK_BROKER_URL": broker,
        "AIMARK_VISIBILITY_TIMEOUT": str(VISIBILITY),
        "AIMARK_RESTORE_INTERVAL": "1",
        "AIMARK_STORE_DIR": str(root),
    }
    from aimark.platform import celery as worker_app

    app = worker_app.app
    app.conf.broker_url = app.conf.result_backend = broker
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, "visibility_timeout": VISIBILITY}
    workers = [_worker(f"w{i}", env, tmp_path / f"w{i}.log") for i in (1, 2)]
    try:
        ping = worker_app.verify_task.delay(path=str(files[0]), options={"metadata_only": True})
        assert ping.get(timeout=60)["verdict"] == "compliant"
        results = []
        for i in range(1000):
            f = files[i % len(files)]
            if i % 2:
                results.append(worker_app.verify_task.delay(key=str(f.relative_to(root)), options={"metadata_only": True}))
            else:
                results.append(worker_app.verify_task.delay(path=str(f), options={"decide": True}))
        deadline = time.monotonic() + 120
        while sum(r.ready() for r in results[:400]) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(workers[0].pid, signal.SIGKILL)  # the worker and its pool process, mid-run
        workers[0].wait()
        done_at_kill = sum(r.ready() for r in results)
        killed_at = time.monotonic()
        assert done_at_kill < 1000, "every task finished before the kill: the test proves nothing"
        got = [r.get(timeout=180) for r in results]
        after = time.monotonic() - killed_at
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
                try:
                    w.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(w.pid, signal.SIGKILL)
    assert len(got) == 1000
    for i, rep in enumerate(got):
        f = files[i % len(files)]
        assert rep["path"] == (str(f.relative_to(root)) if i % 2 else str(f))
        opts = aimark.VerifyOptions(watermark=False, explicit=False) if i % 2 else aimark.VerifyOptions()
        assert rep["verdict"] == aimark.verify(f, options=opts).verdict.value
        if not i % 2:
            assert "decision" in rep
    print(
        f"\n1000 tasks, {done_at_kill} done when w1 was killed; all 1000 results {after:.1f} s later (visibility {VISIBILITY} s)"
    )


def test_moderate_task_and_store_keys(broker: str, store: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, files = store
    env = {**os.environ, "AIMARK_BROKER_URL": broker, "AIMARK_STORE_DIR": str(root)}
    from aimark.platform import celery as worker_app

    worker_app.app.conf.broker_url = worker_app.app.conf.result_backend = broker
    w = _worker("m1", env, tmp_path / "m1.log")
    try:
        out = tmp_path / "propagated.jpg"
        r = worker_app.moderate_task.delay(path=str(files[0]), propagate_as=[PLATFORM, "task-1"], output=str(out)).get(timeout=60)
        assert r["decision"]["label"] == "1" and r["propagated"] == str(out)
        assert aimark.verify(out).labels[0].aigc["PropagateID"] == "task-1"
        bad = worker_app.verify_task.delay(key="../../etc/passwd").get(timeout=60)
        assert bad["verdict"] == "error" and "leaves the store" in bad["findings"][0]["message"]
        missing = worker_app.verify_task.delay(path=str(tmp_path / "nope.png")).get(timeout=60)
        assert missing["verdict"] == "error" and missing["findings"][0]["code"] == "input_error"
    finally:
        os.killpg(w.pid, signal.SIGTERM)
        w.wait(20)
