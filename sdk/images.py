"""Loading one image from what a dataset row or a chat request names: a local path or a base64 data URI.

Why one module: training rows (sharegpt / OpenAI messages, LLaMA-Factory's `images` column) and the
server's `image_url` request parts name images the same ways, and must refuse the same things with the
same words. URLs are refused unless the caller allows them (dayzero runs offline: nothing is fetched
behind the user's back, and a server must not become a proxy to arbitrary hosts). Every image is bounded
before it is decoded (bytes) and after (pixels, sides), so a 40k x 40k PNG bomb is an error, not a hang.

Errors are `ImageError` (a `DataError`) whose ``reason`` is a short counted word (`image_missing`,
`image_url`, `image_decode`, `image_size`...), so a data pipeline turns them into row problems
(file:line, which image, why) and a server into a 400 naming the part.

Pillow is imported inside the functions (registry lookups and `--help` never load it).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dayzero.errors import DataError, Where

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["ImageError", "ImageLimits", "image_ref", "load_image"]

_DATA_URI = re.compile(
    r"^data:(?P<mime>image/[\w.+-]+)?(?P<params>(;[\w-]+=[^;,]*)*)(?P<b64>;base64)?,(?P<data>.*)$", re.S
)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


class ImageError(DataError):
    """An image could not be loaded: ``reason`` is a short word to count, the message says which and why."""

    def __init__(
        self, reason: str, message: str, *, where: Where | None = None, hint: str | None = None
    ) -> None:
        self.reason = reason
        super().__init__(message, where=where, hint=hint)


@dataclass(frozen=True)
class ImageLimits:
    """Bounds every loaded image must keep (the defaults fit any released VLM's processor input)."""

    max_bytes: int = 20 * 1024 * 1024  # encoded size, checked before decoding
    max_pixels: int = 64 * 1024 * 1024  # width * height after decoding (Pillow's own bomb limit is 89M)
    min_side: int = 1
    max_side: int = 16384


def image_ref(part: Any) -> str | bytes | Any:
    """What an image part names: the path / data URI / URL string, raw bytes, or a PIL image as given.

    Accepts the OpenAI form ``{"type": "image_url", "image_url": {"url": ...}}`` (or ``"image_url": "..."``),
    and the transformers / TRL form ``{"type": "image", "image": ...}`` (also ``url`` / ``path`` keys);
    a bare string is itself the reference.
    """
    if isinstance(part, str | bytes):
        return part
    if isinstance(part, dict):
        for key in ("image_url", "image", "url", "path"):
            if key in part and part[key] is not None:
                value = part[key]
                if key == "image_url" and isinstance(value, dict):
                    value = value.get("url")
                if value is not None:
                    return value
        raise ImageError(
            "image_missing",
            f"image part names no image (keys: {sorted(part)})",
            hint='give {"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}} or '
            '{"type": "image", "image": "path/to/file.png"}',
        )
    if type(part).__module__.startswith("PIL."):
        return part
    raise ImageError(
        "image_missing", f"an image must be a path, a data URI or an image part, got {type(part).__name__}"
    )


def _decode_data_uri(uri: str, limits: ImageLimits) -> bytes:
    match = _DATA_URI.match(uri)
    if match is None or not match.group("b64"):
        raise ImageError("image_decode", "a data URI must be `data:image/<type>;base64,<data>`")
    data = match.group("data").strip()
    if len(data) * 3 // 4 > limits.max_bytes:
        raise ImageError("image_size", f"image data is over {limits.max_bytes} bytes")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError("image_decode", f"the data URI is not valid base64 ({exc})") from None


def _read_file(ref: str, base_dir: Path | None, limits: ImageLimits) -> bytes:
    path = Path(ref[len("file://") :] if ref.startswith("file://") else ref).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ImageError("image_missing", f"image file {str(path)!r} does not exist")
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ImageError("image_size", f"image file {str(path)!r} is {size} bytes, over {limits.max_bytes}")
    return path.read_bytes()


def _open(data: bytes, what: str, limits: ImageLimits) -> Image:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only: check the size before decoding
            width, height = probe.size
            _check_size(width, height, what, limits)
            probe.load()
            image = probe.convert("RGB")
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(
            "image_decode", f"{what} is not a readable image ({type(exc).__name__}: {exc})"
        ) from None
    return image


def _check_size(width: int, height: int, what: str, limits: ImageLimits) -> None:
    if min(width, height) < limits.min_side or max(width, height) > limits.max_side:
        raise ImageError(
            "image_size",
            f"{what} is {width}x{height}; each side must be {limits.min_side}..{limits.max_side} pixels",
        )
    if width * height > limits.max_pixels:
        raise ImageError(
            "image_size", f"{what} is {width}x{height} = {width * height} pixels, over {limits.max_pixels}"
        )


def load_image(
    part: Any, *, base_dir: Path | None = None, allow_urls: bool = False, limits: ImageLimits | None = None
) -> Image:
    """The image a part, path or data URI names, decoded as RGB and within ``limits``.

    ``base_dir`` resolves relative paths (a dataset's folder). URLs (`http://`, `https://`, ...) are
    refused unless ``allow_urls``, and even then only fetched by a caller that can (dayzero itself fetches
    nothing): here they are always an error naming the URL.
    """
    limits = limits or ImageLimits()
    ref = image_ref(part)
    if type(ref).__module__.startswith("PIL."):
        _check_size(*ref.size, "the image", limits)
        return ref.convert("RGB")
    if isinstance(ref, bytes):
        if len(ref) > limits.max_bytes:
            raise ImageError("image_size", f"image data is {len(ref)} bytes, over {limits.max_bytes}")
        return _open(ref, "the image data", limits)
    if not isinstance(ref, str) or not ref.strip():
        raise ImageError("image_missing", "the image reference is empty")
    ref = ref.strip()
    if ref.startswith("data:"):
        return _open(_decode_data_uri(ref, limits), "the data URI", limits)
    if _URL.match(ref) and not ref.startswith("file://"):
        shown = ref if len(ref) <= 80 else ref[:77] + "..."
        if not allow_urls:
            raise ImageError(
                "image_url",
                f"image URL {shown!r} refused: dayzero works offline and fetches no URL",
                hint="download the image and give its local path, or inline it as a base64 data URI",
            )
        raise ImageError(
            "image_url",
            f"image URL {shown!r}: fetching URLs is not implemented here",
            hint="fetch it in the caller and pass the bytes",
        )
    return _open(_read_file(ref, base_dir, limits), f"image file {ref!r}", limits)
