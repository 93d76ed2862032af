"""Bounds on what one HTTP request may ask of the server.

A body past ``max_body_bytes`` is refused with 413 as soon as that is known (its ``Content-Length``,
or the bytes received so far): it is never read whole. JSON nested past ``max_json_depth`` and a
`/v1/completions` prompt list past ``max_prompts`` are 400s. Image parts (`images.py`) are bounded
in number (400), in encoded bytes and in pixels (413), and http(s) image URLs are fetched only when
``allow_image_urls`` is on. Rendering and tokenizing run in worker
threads (see `app.py`), so a slow template never holds up `/health` or a shutdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .api_errors import ApiError


@dataclass(frozen=True)
class Limits:
    """Per-request bounds; `dayzero serve --max-request-mb` sets the body size, `--max-images`,
    `--max-image-mb`, `--max-image-pixels` and `--allow-image-urls` the image bounds."""

    max_body_bytes: int = 8 * 1024 * 1024
    max_json_depth: int = 64
    max_prompts: int = 64
    max_images: int = 8  # image parts per chat request
    max_image_bytes: int = 5 * 1024 * 1024  # one image, encoded (a data URI's payload, or a download)
    max_image_pixels: int = 4096 * 4096  # one image, width x height, read from its header before decoding
    allow_image_urls: bool = False  # `dayzero serve --allow-image-urls`: fetch http(s) image parts
    image_fetch_timeout_s: float = 10.0


def _too_large(limit: int) -> dict[str, Any]:
    body = ApiError(413, f"the request body is larger than {limit} bytes", code="request_too_large").body()
    return {"body": json.dumps(body).encode(), "status": 413}


class BodySizeLimit:
    """ASGI middleware: 413 for a body past ``limit`` bytes, without reading the rest of it."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        refused = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    raise _BodyTooLarge
            return message

        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)
        except Exception:
            if refused and not started:
                await self._refuse(send)
                return
            raise

    async def _refuse(self, send: Any) -> None:
        refusal = _too_large(self.limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": refusal["body"]})


class _BodyTooLarge(Exception):
    pass


def json_depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (stopping once past ``limit``), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def parse_body(raw: bytes, limits: Limits) -> Any:
    """The body as JSON, refusing malformed, too deeply nested, or unreadable (5000-digit number) JSON with 400."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply", code="invalid_json") from None
    except ValueError as exc:  # an integer past Python's digit limit
        raise ApiError(400, f"the request body is not readable JSON: {exc}", code="invalid_json") from None
    if json_depth(data, limits.max_json_depth) > limits.max_json_depth:
        raise ApiError(
            400, f"the request body nests deeper than {limits.max_json_depth} levels", code="invalid_json"
        )
    return data


def check_prompts(count: int, limits: Limits) -> None:
    if count > limits.max_prompts:
        raise ApiError(
            400,
            f"`prompt` lists {count} prompts; this server takes at most {limits.max_prompts} per request",
            param="prompt",
            code="invalid_value",
        )
