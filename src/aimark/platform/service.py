"""``aimark serve``: the HTTP verification service and its web page (FastAPI + uvicorn, the
``serve`` extra: importing this module needs it).

Routes::

    GET  /               the verification web page (no external assets)
    GET  /healthz        {"status": "ok", "version": ...}
    POST /v1/verify      upload: multipart field ``file``, or the raw body (``?filename=`` names
                         it); query ``decide``, ``declared_ai``; answers the JSON of
                         ``aimark verify --json`` for that file (with ``decision`` when asked)
    POST /v1/propagate   the same upload; query ``propagator``, ``propagate_id``, ``declared_ai``;
                         needs ``Authorization: Bearer <token>``; answers the propagated file
                         (204 when the decision is None: nothing to write)
    GET  /openapi.json   the OpenAPI document

Uploads stream to a temporary file, counted as they arrive: past ``max_upload`` the request is
answered 413 at once (a declared Content-Length past it is refused before any byte is read).
Every error is ``{"error": {"code", "message", "status"}}``; a malformed request is 422.
Verification runs in a thread pool of ``workers`` (a capacity limiter), off the event loop, so
a slow upload or a slow file never stalls the others. Nothing is kept after a request: the
temporary file is removed when the response is ready.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
import os
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi import UploadFile as FastAPIUpload
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from .. import __version__
from ..api import error_report, label_file, verify
from ..checks import VerifyOptions
from ..containers import DEFAULT_LIMITS, Limits
from ..errors import AimarkError, OutputError
from ..security import SigningKey, read_signing_key, sign_label
from ..watermark import Key, key_from_env
from .decision import decide
from .hooks import Moderation, moderate
from .propagate import propagated_label

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CHUNK = 1 << 16


@dataclass(frozen=True)
class Config:
    """``max_upload``: bytes; ``token``: the bearer token /v1/propagate requires (None: the route
    refuses everyone); ``workers``: files verified at once; ``key``: the watermark key."""

    max_upload: int = 100 << 20
    token: str | None = None
    workers: int = 4
    key: Key = None
    limits: Limits = field(default=DEFAULT_LIMITS)
    security_key: SigningKey | None = None  # the platform's key: ReservedCode2 of propagated files


def read_token(path: str | None) -> str | None:
    """The token from ``path`` (its first line) or else the ``AIMARK_TOKEN`` environment variable."""
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                token = f.readline().strip()
        except OSError as exc:
            raise OutputError(f"cannot read the token file: {exc.strerror}", path=path) from None
        if not token:
            raise OutputError("the token file is empty", path=path)
        return token
    return os.environ.get("AIMARK_TOKEN") or None


def _error_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status}}, ensure_ascii=False).encode()


class _TooLarge(Exception):
    pass


class UploadLimit:
    """ASGI middleware: refuse a request body past ``max_bytes`` with 413 (declared or counted)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._reply(send, 400, "bad_request", "Content-Length is not a number")
                    return
                if declared > limit:
                    await self._reply(send, 413, "upload_too_large", f"the upload exceeds {limit} bytes")
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await self._reply(send, 413, "upload_too_large", f"the upload exceeds {limit} bytes")

    @staticmethod
    async def _reply(send: Send, status: int, code: str, message: str) -> None:
        body = _error_body(status, code, message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def create_app(config: Config | None = None) -> FastAPI:
    """The FastAPI application (see the module docstring for its routes)."""
    cfg = config or Config()
    limiter = anyio.CapacityLimiter(max(1, cfg.workers))
    app = FastAPI(
        title="aimark",
        version=__version__,
        description="Verify AIGC labels (GB 45438-2025) and write platform propagation fields.",
    )

    def fail(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse(json.loads(_error_body(status, code, message)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = ["{}: {}".format(".".join(str(x) for x in e.get("loc", ())), e.get("msg", "")) for e in exc.errors()]
        return fail(422, "invalid_request", "; ".join(parts) or "malformed request")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return fail(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, _TooLarge):
            raise exc
        return fail(500, "internal_error", type(exc).__name__)

    async def receive_upload(request: Request) -> tuple[str, str] | JSONResponse:
        """Stream the upload to a temporary file: (its path, the upload's name)."""
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                form = await request.form(max_files=1, max_fields=8)
            except _TooLarge:
                raise
            except Exception as exc:  # python-multipart's parse errors, Starlette's limits
                return fail(422, "invalid_request", f"malformed multipart body: {exc}")
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                await form.close()
                return fail(422, "invalid_request", "the multipart field 'file' (a file) is missing")
            name = os.path.basename(upload.filename or "upload")
            path = _temp_path(name)
            try:
                with open(path, "wb") as out:
                    while chunk := await upload.read(CHUNK):
                        out.write(chunk)
            except BaseException:
                _remove(path)
                raise
            finally:
                await form.close()
        else:
            name = os.path.basename(request.query_params.get("filename") or "upload")
            path = _temp_path(name)
            try:
                with open(path, "wb") as out:
                    async for chunk in request.stream():
                        out.write(chunk)
            except BaseException:
                _remove(path)
                raise
        if os.path.getsize(path) == 0:
            os.unlink(path)
            return fail(422, "invalid_request", "the upload is empty")
        return path, name

    def run_verify(path: str, name: str, options: VerifyOptions) -> dict[str, Any]:
        try:
            report = verify(path, limits=cfg.limits, options=options)
        except AimarkError as exc:
            exc.path = name
            report = error_report(name, exc)
        report.path = name
        return report.to_dict()

    @app.get("/", response_class=HTMLResponse, summary="The verification web page")
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("aimark").joinpath("data/web/index.html").read_text("utf-8"))

    @app.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/verify", summary="Verify an upload (the JSON of aimark verify --json)", openapi_extra=_UPLOAD_BODY)
    async def verify_route(
        request: Request,
        decide_: bool = Query(False, alias="decide", description="add the platform decision (SPEC section 6)"),
        declared_ai: bool = Query(False, description="the uploader declares the content AI-generated"),
        filename: str | None = Query(None, description="the name of a raw-body upload (its extension tells text formats apart)"),
    ) -> Response:
        got = await receive_upload(request)
        if isinstance(got, JSONResponse):
            return got
        path, name = got
        try:
            options = VerifyOptions(key=cfg.key, decide=decide_, declared_ai=True if declared_ai else None)
            body = await anyio.to_thread.run_sync(run_verify, path, name, options, limiter=limiter)
        finally:
            _remove(path)
        return JSONResponse(body)

    @app.post("/v1/propagate", summary="Write the propagation fields (returns the labeled file)", openapi_extra=_UPLOAD_BODY)
    async def propagate_route(
        request: Request,
        propagator: str = Query(..., description="ContentPropagator: the platform's 27-character provider code"),
        propagate_id: str = Query(..., description="PropagateID: the platform's id for this content"),
        declared_ai: bool = Query(False, description="the uploader declares the content AI-generated"),
        filename: str | None = Query(None, description="the name of a raw-body upload"),
    ) -> Response:
        if not _authorized(request.headers.get("authorization"), cfg.token):
            return fail(401, "unauthorized", "a valid bearer token is required")
        got = await receive_upload(request)
        if isinstance(got, JSONResponse):
            return got
        path, name = got
        try:
            return await anyio.to_thread.run_sync(
                run_propagate, path, name, propagator, propagate_id, declared_ai, limiter=limiter
            )
        finally:
            _remove(path)

    def run_propagate(path: str, name: str, propagator: str, propagate_id: str, declared_ai: bool) -> Response:
        out = path + ".out"
        try:
            report = verify(path, limits=cfg.limits, options=VerifyOptions(key=cfg.key))
            decision = decide(report, True if declared_ai else None)
            new = propagated_label(report, decision, propagator, propagate_id)
            if new is None:
                return Response(status_code=204, headers={"X-Aimark-Decision": "none"})
            if cfg.security_key is not None:
                new = sign_label(new, cfg.security_key, "ReservedCode2")
            label_file(path, out, new, limits=cfg.limits, strict_codes=False)
            with open(out, "rb") as f:
                data = f.read()
        except AimarkError as exc:
            return fail(422, exc.code, exc.message)
        finally:
            _remove(out)
        assert decision.label is not None and decision.notice_en is not None
        headers = {
            "X-Aimark-Label": decision.label,
            "X-Aimark-Notice": decision.notice_en,
            "X-Aimark-Label-Json": new.to_inner_json(),
            "Content-Disposition": f'attachment; filename="{_ascii_name(name)}"',
        }
        return Response(data, media_type="application/octet-stream", headers=headers)

    app.add_middleware(UploadLimit, max_bytes=cfg.max_upload)
    return app


def moderation(
    propagator: str | None = None,
    propagate_id: Callable[[], str] | None = None,
    *,
    key: Key = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Callable[..., Awaitable[Moderation]]:
    """A FastAPI dependency for a platform's own upload route: it reads the multipart field
    ``file`` and the query flag ``declared_ai``, runs :func:`~aimark.platform.moderate` in a
    worker thread and gives the :class:`~aimark.platform.Moderation` (with the propagated
    bytes when ``propagator`` is set; ``propagate_id()`` makes each upload's PropagateID)::

        @app.post("/upload")
        async def upload(result: Moderation = Depends(moderation(CODE, lambda: uuid4().hex))):
            ...
    """
    if propagator is not None and propagate_id is None:
        raise ValueError("propagate_id is needed with propagator")

    async def dependency(file: FastAPIUpload, declared_ai: bool = False) -> Moderation:
        data = await file.read()
        pair = (propagator, propagate_id()) if propagator is not None and propagate_id is not None else None
        return await anyio.to_thread.run_sync(
            lambda: moderate(
                data, filename=file.filename, declared_ai=True if declared_ai else None, propagate_as=pair, key=key, limits=limits
            )
        )

    return dependency


def _temp_path(name: str) -> str:
    ext = os.path.splitext(name)[1][:16]
    fd, path = tempfile.mkstemp(prefix="aimark-upload-", suffix=ext if ext.isascii() else "")
    os.close(fd)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _ascii_name(name: str) -> str:
    safe = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return safe or "upload"


def _authorized(header: str | None, token: str | None) -> bool:
    if token is None or not header:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def serve(config: Config, *, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    if config.key is None:
        config = dataclasses.replace(config, key=key_from_env())
    path = os.environ.get("AIMARK_SECURITY_KEY")
    if config.security_key is None and path:
        config = dataclasses.replace(config, security_key=read_signing_key(path))
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)


__all__ = ["Config", "UploadLimit", "create_app", "moderation", "read_token", "serve"]
