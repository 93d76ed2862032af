"""Image parts of chat requests: decoding, the bounds (count 400, bytes and pixels 413), URL refusal.

No model here: `sdk/serve/images.py` on hand-made requests. Images are made with PIL; the expected sizes and
refusals are worked out from the bounds given, not read back from the code.
"""

from __future__ import annotations

import base64
import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from dayzero.sdk.serve.api_errors import ApiError
from dayzero.sdk.serve.images import chat_images, data_uri, request_images
from dayzero.sdk.serve.limits import Limits
from dayzero.sdk.serve.schemas import ChatCompletionRequest


def _png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, format="PNG")
    return buf.getvalue()


def _request(*urls: str, role: str = "user") -> ChatCompletionRequest:
    content = [{"type": "image_url", "image_url": {"url": u}} for u in urls] + [
        {"type": "text", "text": "what?"}
    ]
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": role, "content": content}]}
    )


def test_data_uri_images_decode_in_order() -> None:
    req = _request(data_uri(_png(10, 20)), data_uri(_png(30, 5, (0, 0, 255))))
    found = request_images(req.messages, Limits())
    assert [f.where for f in found] == ["messages.0.content.0", "messages.0.content.1"]
    assert [f.image.size for f in found] == [(10, 20), (30, 5)]
    assert found[1].image.mode == "RGB" and found[1].image.getpixel((0, 0)) == (0, 0, 255)
    assert req.messages[0].text_with_images("<img>") == "<img><img>what?"


def test_too_many_images_is_400_naming_the_first_extra_part() -> None:
    req = _request(*[data_uri(_png(4, 4))] * 3)
    with pytest.raises(ApiError) as err:
        request_images(req.messages, Limits(max_images=2))
    assert err.value.status == 400 and err.value.param == "messages.0.content.2"


def test_image_bytes_bound_is_413_before_decoding() -> None:
    png = _png(64, 64)
    with pytest.raises(ApiError) as err:
        request_images(_request(data_uri(png)).messages, Limits(max_image_bytes=len(png) // 2))
    assert err.value.status == 413 and err.value.code == "image_too_large"
    assert err.value.param == "messages.0.content.0"


def test_pixel_bound_is_413_read_from_the_header() -> None:
    # 300 x 300 = 90,000 pixels > 80,000: refused; the file itself is tiny (one colour compresses well)
    req = _request(data_uri(_png(300, 300)))
    with pytest.raises(ApiError) as err:
        request_images(req.messages, Limits(max_image_pixels=80_000))
    assert err.value.status == 413 and "90000 pixels" in err.value.message
    assert (
        len(request_images(req.messages, Limits(max_image_pixels=90_000))) == 1
    )  # exactly at the bound: taken


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("data:image/png;base64,%%%not-base64", "invalid_image"),
        ("data:text/plain;base64,aGVsbG8=", "invalid_image"),
        ("data:image/png;base64," + base64.b64encode(b"not an image at all").decode(), "invalid_image"),
        ("file:///etc/passwd", "invalid_image"),
        ("ftp://example.com/cat.png", "invalid_image"),
        ("https://example.com/cat.png", "image_url_not_allowed"),
    ],
)
def test_bad_image_parts_are_400_naming_the_part(url: str, code: str) -> None:
    with pytest.raises(ApiError) as err:
        request_images(_request(data_uri(_png(4, 4)), url).messages, Limits())
    assert (err.value.status, err.value.code, err.value.param) == (400, code, "messages.0.content.1")


def test_image_urls_are_fetched_only_when_allowed() -> None:
    png = _png(12, 7)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cat.png"
        with pytest.raises(ApiError) as err:
            request_images(_request(url).messages, Limits())
        assert err.value.code == "image_url_not_allowed" and "--allow-image-urls" in err.value.message
        (found,) = request_images(_request(url).messages, Limits(allow_image_urls=True))
        assert found.image.size == (12, 7)
        with pytest.raises(ApiError) as err:  # the byte bound holds for downloads too
            request_images(
                _request(url).messages, Limits(allow_image_urls=True, max_image_bytes=len(png) - 1)
            )
        assert err.value.status == 413
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_text_only_model_refuses_image_parts_by_name() -> None:
    req = ChatCompletionRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "and this?"},
                        {"type": "image_url", "image_url": {"url": data_uri(_png(4, 4))}},
                    ],
                },
            ],
        }
    )
    with pytest.raises(ApiError) as err:
        chat_images(req.messages, None, Limits(), model="`tiny` (family `qwen2`)")
    assert err.value.status == 400 and err.value.param == "messages.2.content.1"
    assert "text-only" in err.value.message and "qwen2" in err.value.message
    assert (
        chat_images(_request().messages, None, Limits(), model="x") == []
    )  # no image parts: nothing to refuse


def test_image_parts_only_in_user_messages_and_known_part_types() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="image parts belong in `user` messages"):
        _request(data_uri(_png(4, 4)), role="system")
    with pytest.raises(ValidationError, match="type 'input_audio'"):
        ChatCompletionRequest.model_validate(
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            }
        )


@pytest.mark.slow  # three compiles: about 20 s here
def test_sample_image_is_checked_at_compile_time(tmp_path) -> None:
    """A recipe's `sample.image` must be a file, for a family that takes images: refused before training."""
    from dayzero.errors import RecipeError
    from dayzero.sdk.compiler import compile as compile_plan

    def recipe(model: str, image: str) -> dict:
        return {
            "name": "s",
            "model": {"id": model},
            "data": {"datasets": ["demo_sft"]},
            "method": {"stage": "sft", "adapter": "lora"},
            "train": {"output_dir": str(tmp_path / "run"), "report_to": "none"},
            "sample": {"prompt": "What colour?", "image": image},
        }

    (tmp_path / "red.png").write_bytes(_png(8, 8))
    assert compile_plan(recipe("tiny:qwen2-vl", str(tmp_path / "red.png"))).view.family.vision is not None
    with pytest.raises(RecipeError, match=r"\[sample.image\] no image file"):
        compile_plan(recipe("tiny:qwen2-vl", str(tmp_path / "missing.png")))
    with pytest.raises(RecipeError, match=r"\[sample.image\] family qwen2 is text-only"):
        compile_plan(recipe("tiny:qwen2", str(tmp_path / "red.png")))


def test_serve_command_passes_the_image_bounds(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dayzero serve --allow-image-urls --max-images ...` reach the app's Limits (the server itself is not started)."""
    import dayzero.sdk.serve as serve_pkg
    from dayzero import registry
    from dayzero.cli import main
    from dayzero.sdk.tiny import save_tiny

    seen = {}
    monkeypatch.setattr(
        serve_pkg, "service_for", lambda target, **kw: type("S", (), {"model_name": target.name, "served_names": [target.name]})()
    )
    monkeypatch.setattr(
        serve_pkg, "create_app", lambda service, api_key=None, limits=None: seen.setdefault("l", limits)
    )
    monkeypatch.setattr(serve_pkg, "serve_forever", lambda *a, **k: None)
    folder = save_tiny(registry.get("qwen2"), tmp_path / "m")
    main(
        [
            "serve",
            str(folder),
            "--allow-image-urls",
            "--max-images",
            "3",
            "--max-image-mb",
            "0.5",
            "--max-image-pixels",
            "1000",
        ]
    )
    limits = seen["l"]
    assert (limits.allow_image_urls, limits.max_images, limits.max_image_pixels) == (True, 3, 1000)
    assert limits.max_image_bytes == 512 * 1024
