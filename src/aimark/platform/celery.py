"""The distributed worker: a Celery app at ``aimark.platform.celery:app`` (the ``worker`` extra).

Start workers on any number of machines that reach the broker and see the files::

    export AIMARK_BROKER_URL=redis://10.0.0.5:6379/0        # broker (and result backend)
    celery -A aimark.platform.celery:app worker --concurrency 2 -n verify-%h

Tasks (JSON messages; secrets such as the watermark key stay in the worker's environment,
``AIMARK_WATERMARK_KEY`` / ``AIMARK_WATERMARK_KEY_FILE``, never in a message):

* ``aimark.verify(path=None, key=None, store="dir", options=None)`` -> the report dict (the
  JSON of ``aimark verify --json``). Give a ``path`` the worker can read, or an object-store
  ``key``: the ``dir`` store reads ``$AIMARK_STORE_DIR/<key>``; :func:`register_store` adds
  others (an S3 download to a temporary file, say). ``options``: ``watermark``, ``explicit``,
  ``metadata_only``, ``decide``, ``declared_ai``.
* ``aimark.moderate(path=None, key=None, store="dir", declared_ai=None, propagate_as=None,
  output=None)`` -> ``{"report", "decision", "propagated"}``: the moderation hook; with
  ``propagate_as`` = [propagator, propagate_id] and ``output`` (a path) the propagated file is
  written there when the decision is not None.

Reliability (every setting below is on): a task is acknowledged only after it finished
(``task_acks_late``), so a worker that dies mid-task leaves it to be delivered again
(``task_reject_on_worker_lost``; with Redis, once the ``visibility_timeout`` has passed); each
worker process reserves one task at a time (``worker_prefetch_multiplier=1``); hard and soft
time limits stop a file that takes too long; the broker is swept for a dead worker's tasks every
``AIMARK_RESTORE_INTERVAL`` seconds (kombu's default sweep is about 100 s), and the sweep's lock
expires after ``AIMARK_RESTORE_LOCK`` seconds, so a worker killed while it held it does not stop
the sweeps for kombu's default 300 s; worker processes are recycled after
``AIMARK_MAX_TASKS_PER_CHILD`` tasks to bound native memory. Verify is idempotent, so a task
run twice after a crash gives the same result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery

from ..api import error_report, verify
from ..checks import VerifyOptions
from ..errors import AimarkError, InputError, InvalidArgument
from ..watermark import key_from_env
from .hooks import moderate

BROKER = os.environ.get("AIMARK_BROKER_URL", "redis://127.0.0.1:6379/0")
BACKEND = os.environ.get("AIMARK_RESULT_BACKEND", BROKER)
TIME_LIMIT = int(os.environ.get("AIMARK_TASK_TIME_LIMIT", "600"))
VISIBILITY_TIMEOUT = int(os.environ.get("AIMARK_VISIBILITY_TIMEOUT", str(4 * TIME_LIMIT)))
#: seconds between the sweeps that hand a dead worker's unacknowledged tasks to the others
#: (kombu scans only every ``unacked_restore_throttle``-th sweep, 10 by default: set to 1 here)
RESTORE_INTERVAL = int(os.environ.get("AIMARK_RESTORE_INTERVAL", str(max(1, min(10, VISIBILITY_TIMEOUT // 4)))))
#: the lock a sweep holds: a worker killed while holding it blocks every sweep until it expires
#: (kombu's default is 300 s), so it is kept a few sweeps long
RESTORE_LOCK = int(os.environ.get("AIMARK_RESTORE_LOCK", str(max(5, 3 * RESTORE_INTERVAL))))
_TRANSPORT = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
    "unacked_restore_interval": RESTORE_INTERVAL,
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": RESTORE_LOCK,
}

app = Celery("aimark", broker=BROKER, backend=BACKEND)
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_time_limit=TIME_LIMIT,
    task_soft_time_limit=max(1, TIME_LIMIT - 30) if TIME_LIMIT > 60 else TIME_LIMIT,
    worker_max_tasks_per_child=int(os.environ.get("AIMARK_MAX_TASKS_PER_CHILD", "1000")),
    broker_transport_options=_TRANSPORT,
    result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT},
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

#: object stores by name: each turns a key into a context manager yielding a readable local path
Store = Callable[[str], contextlib.AbstractContextManager[str]]
_STORES: dict[str, Store] = {}


def register_store(name: str, store: Store) -> None:
    """Add an object store for task ``key`` arguments."""
    _STORES[name] = store


@contextlib.contextmanager
def _dir_store(key: str) -> Iterator[str]:
    root = os.environ.get("AIMARK_STORE_DIR")
    if not root:
        raise InvalidArgument("the dir store needs AIMARK_STORE_DIR")
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, key))
    if os.path.commonpath([base, path]) != base:
        raise InvalidArgument(f"store key {key!r} leaves the store")
    yield path


register_store("dir", _dir_store)


@contextlib.contextmanager
def _source(path: str | None, key: str | None, store: str) -> Iterator[str]:
    if (path is None) == (key is None):
        raise InvalidArgument("give a path or an object-store key")
    if path is not None:
        yield path
        return
    assert key is not None
    opener = _STORES.get(store)
    if opener is None:
        raise InvalidArgument(f"no object store named {store!r}")
    with opener(key) as local:
        yield local


def _options(options: dict[str, Any] | None) -> VerifyOptions:
    o = dict(options or {})
    content = not o.pop("metadata_only", False)
    unknown = set(o) - {"watermark", "explicit", "decide", "declared_ai"}
    if unknown:
        raise InvalidArgument(f"unknown verify options {sorted(unknown)}")
    return VerifyOptions(
        watermark=content and bool(o.get("watermark", True)),
        explicit=content and bool(o.get("explicit", True)),
        key=key_from_env(),
        decide=bool(o.get("decide", False)),
        declared_ai=o.get("declared_ai"),
    )


@app.task(name="aimark.verify")
def verify_task(
    path: str | None = None, key: str | None = None, store: str = "dir", options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Verify one file; the report dict (an ``error`` verdict for a file that cannot be examined)."""
    name = path or key
    try:
        opts = _options(options)
        with _source(path, key, store) as local:
            report = verify(local, options=opts)
            report.path = name
    except AimarkError as exc:
        exc.path = exc.path or name
        report = error_report(name, exc)
    return report.to_dict()


@app.task(name="aimark.moderate")
def moderate_task(
    path: str | None = None,
    key: str | None = None,
    store: str = "dir",
    declared_ai: bool | None = None,
    propagate_as: list[str] | None = None,
    output: str | None = None,
) -> dict[str, Any]:
    """The moderation hook as a task (see the module docstring)."""
    from ..api import atomic_write

    name = path or key
    try:
        with _source(path, key, store) as local:
            as_pair = (propagate_as[0], propagate_as[1]) if propagate_as else None
            result = moderate(local, filename=name, declared_ai=declared_ai, propagate_as=as_pair, key=key_from_env())
    except AimarkError as exc:
        exc.path = exc.path or name
        report = error_report(name, exc)
        return {"report": report.to_dict(), "decision": None, "propagated": None}
    written = None
    if result.data is not None and output:
        try:
            atomic_write(output, result.data)
        except AimarkError as exc:
            raise InputError(f"cannot write the propagated file: {exc.message}", path=output) from None
        written = output
    return {"report": result.report.to_dict(), "decision": result.decision.to_dict(), "propagated": written}


__all__ = ["app", "moderate_task", "register_store", "verify_task"]
