"""The HTTP surface: a FastAPI app speaking the OpenAI API for one `ModelService`.

Endpoints: `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions`, `GET /health`.
Every refusal has the OpenAI error shape and a 4xx status (malformed JSON and bad parameters 400,
a missing or wrong key 401, an unknown model 404), so the official clients raise their usual
errors. With an API key every request, `/health` included, needs `Authorization: Bearer <key>`.
Request bounds (body size, JSON depth, prompt count) are in `limits.py`; a request's rendering and
tokenizing run in a worker thread, so `/health` and shutdown never wait on a template.

No `from __future__ import annotations` here: FastAPI reads the endpoint annotations at definition
time, and `Request` is imported inside `create_app` (so importing this module stays light).
"""

import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel

from .api_errors import ApiError, from_validation
from .limits import BodySizeLimit, Limits, check_prompts, parse_body
from .schemas import ChatCompletionRequest, CompletionRequest
from .service import ModelService, _sse

log = logging.getLogger("dayzero.serve")
T = TypeVar("T", bound=BaseModel)


def create_app(service: ModelService, *, api_key: str | None = None, limits: Limits | None = None) -> Any:
    """The ASGI app serving ``service``; ``api_key`` turns on bearer-token checks."""
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(401, "a valid API key is required: send `Authorization: Bearer <key>`",
                           code="invalid_api_key")

    app = FastAPI(title="dayzero", docs_url=None, redoc_url=None, dependencies=[Depends(authorize)])
    app.state.service = service
    bounds = limits or Limits()
    app.add_middleware(BodySizeLimit, limit=bounds.max_body_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = from_validation(list(exc.errors()))
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        err = ApiError(exc.status_code, str(exc.detail))
        return JSONResponse(err.body(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("request failed")  # the details go to the server's log, not to the client
        err = ApiError(500, "internal error: generation failed", type_="server_error", code="generation_failed")
        return JSONResponse(err.body(), status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        backend = service.backend
        return {"status": "ok", "model": service.model_name, "queued": backend.queued,
                "finished": dict(backend.finished)}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return service.models().model_dump()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        req = await _parse(request, ChatCompletionRequest, bounds)
        prep = await run_in_threadpool(service.prepare_chat, req, bounds)
        if req.stream:
            return StreamingResponse(_guarded(service.chat_stream(req, prep)), media_type="text/event-stream")
        return (await service.chat(req, prep)).model_dump(exclude_none=False)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        req = await _parse(request, CompletionRequest, bounds)
        check_prompts(len(req.prompts()), bounds)
        preps = await run_in_threadpool(service.prepare_completion, req)
        if req.stream:
            return StreamingResponse(_guarded(service.complete_stream(req, preps)), media_type="text/event-stream")
        return (await service.complete(req, preps)).model_dump()

    return app


async def _parse(request: Any, model: type[T], limits: Limits) -> T:
    """The body as JSON whatever its content type (`curl -d` sends form-encoded), then validated."""
    from pydantic import ValidationError

    data = parse_body(await request.body(), limits)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_validation(list(exc.errors())) from None


async def _guarded(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """A failure after the first chunk cannot change the status: send it as an error event."""
    try:
        async for line in lines:
            yield line
    except ApiError as exc:
        yield _sse(exc.body())
        yield "data: [DONE]\n\n"


class ServerThread:
    """uvicorn in a background thread: for tests, benchmarks and the terminal chat."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dayzero-uvicorn", daemon=True)

    def __enter__(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_forever(app: Any, host: str, port: int) -> None:
    """Run the app in the foreground until interrupted (SIGTERM/SIGINT: in-flight requests get 10 s)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=10)
