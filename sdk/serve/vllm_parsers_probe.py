"""Run vLLM's own tool-call and reasoning parsers on given model outputs (executed by vLLM's interpreter).

This file is run as a script by the interpreter of vLLM's environment, where dayzero is not installed:
it imports only vLLM and the standard library. Input (a JSON file named by argv[1]):
``{"tokenizer": DIR, "tool_parser": NAME|null, "reasoning_parser": NAME|null, "tools": [...],
"tool_outputs": [TEXT...], "reasoning_outputs": [TEXT...]}``. Output on stdout: one JSON object with
what each parser extracted, and vLLM's version.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def main() -> None:
    import vllm
    from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
    from vllm.reasoning import ReasoningParserManager
    from vllm.tokenizers import get_tokenizer
    from vllm.tool_parsers import ToolParserManager

    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    tokenizer = get_tokenizer(spec["tokenizer"])
    messages = [{"role": "user", "content": "probe"}]
    out: dict[str, Any] = {"vllm": vllm.__version__, "tool_calls": [], "reasoning": []}
    if spec.get("tool_parser"):
        request = ChatCompletionRequest(model="probe", messages=messages, tools=spec["tools"])
        parser_cls = ToolParserManager.get_tool_parser(spec["tool_parser"])
        for text in spec["tool_outputs"]:
            parser = (
                parser_cls(tokenizer, request.tools) if _takes_tools(parser_cls) else parser_cls(tokenizer)
            )
            request = parser.adjust_request(request)
            info = parser.extract_tool_calls(text, request)
            out["tool_calls"].append(
                {
                    "tools_called": info.tools_called,
                    "calls": [
                        {"name": c.function.name, "arguments": c.function.arguments} for c in info.tool_calls
                    ],
                    "content": info.content,
                }
            )
    if spec.get("reasoning_parser"):
        request = ChatCompletionRequest(model="probe", messages=messages)
        parser = ReasoningParserManager.get_reasoning_parser(spec["reasoning_parser"])(tokenizer)
        for text in spec["reasoning_outputs"]:
            reasoning, content = parser.extract_reasoning(text, request)
            out["reasoning"].append({"reasoning": reasoning, "content": content})
    print(json.dumps(out))


def _takes_tools(cls: type) -> bool:
    import inspect

    return "tools" in inspect.signature(cls.__init__).parameters


if __name__ == "__main__":
    main()
