"""Batch verification: many files, in parallel, resumable.

:func:`run` verifies paths with ``jobs`` worker processes (1: in this process) and hands each
report, in input order, to ``emit``. With a ``state`` file (JSON Lines, one complete report per
line) the run is resumable: files already recorded there are skipped, a line torn by a kill is
cut off, and each new report is appended with one ``write`` before it is emitted, so after any
number of kills and resumes the state file holds every file exactly once.

Workers are forked processes that die with their parent (``PR_SET_PDEATHSIG`` on Linux), so a
killed run leaves no orphans behind.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from ..api import error_report, verify
from ..checks import VerifyOptions
from ..containers import DEFAULT_LIMITS, Limits
from ..errors import AimarkError, OutputError, UnsupportedFormat
from ..report import Report


@dataclass(frozen=True)
class Item:
    """One file to verify; ``named``: given on the command line (an unsupported format is an
    error), not found in a directory walk (skipped)."""

    path: str
    named: bool = True


@dataclass
class Outcome:
    """What verifying one item gave: its verdict and JSON line (None when skipped) and, when
    asked for, the report itself (a worker sends only the line unless the caller needs more)."""

    item: Item
    verdict: str | None
    line: str | None
    error: str | None = None  # the first finding's message, for an ``error`` verdict
    report: Report | None = None


def verify_item(item: Item, options: VerifyOptions, limits: Limits = DEFAULT_LIMITS, *, keep_report: bool = True) -> Outcome:
    """Verify one file; never raises for the file's sake (its report says what went wrong)."""
    try:
        report = verify(item.path, limits=limits, options=options)
    except UnsupportedFormat as exc:
        if not item.named:
            return Outcome(item, None, None)
        exc.path = exc.path or item.path
        report = error_report(item.path, exc)
    except AimarkError as exc:
        exc.path = exc.path or item.path
        report = error_report(item.path, exc)
    verdict = report.verdict.value
    error = report.findings[0].message if verdict == "error" and report.findings else None
    line = json.dumps(report.to_dict(), ensure_ascii=False)
    return Outcome(item, verdict, line, error, report if keep_report else None)


# -- the resumable state file ------------------------------------------------------------------
def _key(path: str) -> str:
    return os.path.realpath(path)


class State:
    """The JSON Lines file of a resumable run."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.done: set[str] = set()
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot open the state file: {exc.strerror}", path=path) from None
        self.fd = fd
        self._load()

    def _load(self) -> None:
        with open(self.path, "rb") as f:
            data = f.read()
        good = 0
        for line in data.split(b"\n")[:-1] if data else []:
            try:
                rec = json.loads(line)
            except ValueError:
                break
            if isinstance(rec, dict) and isinstance(rec.get("path"), str):
                self.done.add(_key(rec["path"]))
            good += len(line) + 1
        if good != len(data):  # a torn last line (the run was killed while writing it): cut it off
            os.truncate(self.path, good)

    def seen(self, path: str) -> bool:
        return _key(path) in self.done

    def record(self, path: str, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.done.add(_key(path))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


# -- workers -----------------------------------------------------------------------------------
_OPTIONS: VerifyOptions | None = None
_LIMITS: Limits = DEFAULT_LIMITS
_KEEP = True


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _init(options: VerifyOptions, limits: Limits, keep: bool) -> None:
    global _OPTIONS, _LIMITS, _KEEP
    _die_with_parent()
    _OPTIONS, _LIMITS, _KEEP = options, limits, keep


def _work(item: Item) -> tuple[str | None, str | None, str | None, Report | None]:
    """A worker's answer: plain fields (cheaper to send back than an :class:`Outcome`)."""
    assert _OPTIONS is not None
    out = verify_item(item, _OPTIONS, _LIMITS, keep_report=_KEEP)
    return out.verdict, out.line, out.error, out.report


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def outcomes(
    items: Sequence[Item], options: VerifyOptions, jobs: int = 1, limits: Limits = DEFAULT_LIMITS, *, keep_reports: bool = True
) -> Iterator[Outcome]:
    """The outcome of each item, in input order, verified by ``jobs`` processes (``keep_reports``
    False: only verdicts and JSON lines come back from the workers, which is faster)."""
    if jobs <= 1 or len(items) < 2:
        for item in items:
            yield verify_item(item, options, limits, keep_report=keep_reports)
        return
    chunk = max(1, min(128, len(items) // (jobs * 8) or 1))
    with _context().Pool(jobs, initializer=_init, initargs=(options, limits, keep_reports)) as pool:
        for item, got in zip(items, pool.imap(_work, items, chunksize=chunk), strict=True):
            yield Outcome(item, *got)


def run(
    items: Iterable[Item],
    options: VerifyOptions,
    emit: Callable[[Outcome], None],
    *,
    jobs: int = 1,
    state: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    keep_reports: bool = True,
) -> int:
    """Verify ``items`` and ``emit`` each outcome (skipped ones too, with ``verdict`` None).
    Returns how many items the state file already held (and were not verified again)."""
    st = State(state) if state else None
    try:
        todo = list(items)
        resumed = 0
        if st is not None:
            kept = [i for i in todo if not st.seen(i.path)]
            resumed = len(todo) - len(kept)
            todo = kept
        for out in outcomes(todo, options, jobs, limits, keep_reports=keep_reports):
            if st is not None and out.line is not None:
                st.record(out.item.path, out.line)
            emit(out)
        return resumed
    finally:
        if st is not None:
            st.close()


__all__ = ["Item", "Outcome", "State", "outcomes", "run", "verify_item"]
