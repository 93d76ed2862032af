"""Image parts of a chat request: decoded, bounded, and refused with the part they are about.

OpenAI clients send an image as ``{"type": "image_url", "image_url": {"url": ...}}``. The url is a
base64 ``data:image/...`` URI (the usual case, and the only one accepted by default), or an http(s)
address, fetched only when the server was started with ``--allow-image-urls`` (a server that fetches
any address a client names can be made to reach hosts the client cannot). Every refusal is an
`ApiError` naming the part (`messages.2.content.1`): too many images or an unreadable one is a 400,
an image past the byte or pixel bound a 413. Decoding is `sdk.images.load_image` (the loader training
rows use), which checks the pixel bound on the header, before the image is decoded, so a small file
that decodes to gigapixels (a "decompression bomb") costs nothing.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .api_errors import ApiError

if TYPE_CHECKING:
    from dayzero.sdk.vision_inputs import VisionEncoder

    from .limits import Limits
    from .schemas import ChatMessage


@dataclass(frozen=True)
class RequestImage:
    """One decoded image and the request part it came from."""

    image: Any  # PIL.Image.Image, RGB
    where: str  # `messages.<i>.content.<j>`


def chat_images(
    messages: list[ChatMessage], vision: VisionEncoder | None, limits: Limits, *, model: str
) -> list[Any]:
    """The request's images, decoded, for a model whose vision encoder is ``vision``; image parts sent to a
    text-only model (``vision`` None) are refused, naming the first."""
    where = first_image_part(messages)
    if where is None:
        return []
    if vision is None:
        raise ApiError(
            400,
            f"`{where}`: the model {model} is text-only: its family has no `vision` section, so image parts are "
            "not served",
            param=where,
            code="images_not_supported",
        )
    found = request_images(messages, limits)
    if len(found) > 1 and not vision.vision.multi_image:
        raise ApiError(
            400,
            f"`{found[1].where}`: the model {model} takes one image per conversation "
            "(`vision.multi_image: false`)",
            param=found[1].where,
            code="too_many_images",
        )
    return [item.image for item in found]


def vision_inputs(vision: VisionEncoder, prompt: str, images: list[Any]) -> dict[str, Any]:
    """The model inputs of a rendered prompt and its images; a template that lost an image is a 400."""
    from dayzero.errors import DayzeroError
    from dayzero.sdk.vision_inputs import ImageCountError

    from .api_errors import from_dayzero

    try:
        return vision.encode(prompt, images)
    except ImageCountError as exc:  # a placeholder or image token in the text itself, or one the template lost
        raise ApiError(
            400,
            f"the prompt's image placeholders and the images do not pair up: {exc}",
            param="messages",
            code="template_error",
        ) from None
    except DayzeroError as exc:
        raise from_dayzero(exc, param="messages") from None


def request_images(messages: list[ChatMessage], limits: Limits) -> list[RequestImage]:
    """Every image part of ``messages``, in order, decoded to RGB; a part past the limits is refused."""
    parts = [
        (f"messages.{i}.content.{j}", part.image_url.url)
        for i, message in enumerate(messages)
        if isinstance(message.content, list)
        for j, part in enumerate(message.content)
        if part.type == "image_url"
    ]
    if len(parts) > limits.max_images:
        raise ApiError(
            400,
            f"the request holds {len(parts)} images; this server takes at most {limits.max_images} per request",
            param=parts[limits.max_images][0],
            code="too_many_images",
        )
    return [RequestImage(load_part(url, where, limits), where) for where, url in parts]


def first_image_part(messages: list[ChatMessage]) -> str | None:
    """Where the first image part is (`messages.<i>.content.<j>`), or None: for a text-only model's refusal."""
    for i, message in enumerate(messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if part.type == "image_url":
                    return f"messages.{i}.content.{j}"
    return None


def load_part(url: str, where: str, limits: Limits) -> Any:
    """The RGB image an `image_url` part names: a data URI, or (when allowed) an http(s) download.

    Decoding and the byte / pixel bounds are `sdk.images.load_image`'s, the loader training data goes
    through; only a `data:` URI or downloaded bytes reach it, never a bare string (which it would read as
    a path on the server's disk).
    """
    from dayzero.sdk.images import ImageError, ImageLimits, load_image

    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        ref: str | bytes = url
    elif scheme in ("http", "https"):
        if not limits.allow_image_urls:
            raise ApiError(
                400,
                f"`{where}`: image URLs are not fetched by this server; send the image inline as a base64 "
                "`data:image/...;base64,` URI (or start the server with --allow-image-urls)",
                param=where,
                code="image_url_not_allowed",
            )
        ref = _download(url, where, limits)
    else:
        raise ApiError(
            400,
            f"`{where}`: an image url must be a `data:image/...;base64,` URI or http(s), got {url[:40]!r}",
            param=where,
            code="invalid_image",
        )
    bounds = ImageLimits(max_bytes=limits.max_image_bytes, max_pixels=limits.max_image_pixels)
    try:
        return load_image(ref, limits=bounds)
    except ImageError as exc:  # too large: 413; unreadable: 400
        status, code = (413, "image_too_large") if exc.reason == "image_size" else (400, "invalid_image")
        raise ApiError(status, f"`{where}`: {exc.message}", param=where, code=code) from None


def _download(url: str, where: str, limits: Limits) -> bytes:
    """GET ``url`` (allowed by the server's operator), reading no more than the byte bound."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "dayzero-serve"})
    try:
        with urllib.request.urlopen(
            request, timeout=limits.image_fetch_timeout_s
        ) as response:  # http(s) only
            data = response.read(limits.max_image_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ApiError(
            400, f"`{where}`: cannot fetch the image url: {exc}", param=where, code="image_fetch_failed"
        ) from None
    if len(data) > limits.max_image_bytes:
        raise ApiError(
            413,
            f"`{where}`: the image is over {limits.max_image_bytes} bytes; this server takes no more per image",
            param=where,
            code="image_too_large",
        )
    return data


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    """``data`` as a base64 data URI (the terminal chat sends a local file this way)."""
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
