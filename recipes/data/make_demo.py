"""Writes the bundled demo datasets (deterministic: fixed seed, no network). Run from the repo root:

    .venv/bin/python recipes/data/make_demo.py

The outputs are committed next to this script; re-running it must leave `git diff` empty. They are
small on purpose: the quickstart and the tests train tiny models on them in seconds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 1234

CAPITALS = [("France", "Paris"), ("Japan", "Tokyo"), ("Kenya", "Nairobi"), ("Peru", "Lima"), ("Canada", "Ottawa"),
            ("Egypt", "Cairo"), ("Norway", "Oslo"), ("Chile", "Santiago"), ("India", "New Delhi"),
            ("Italy", "Rome"), ("Spain", "Madrid"), ("Ghana", "Accra"), ("Cuba", "Havana"), ("Nepal", "Kathmandu"),
            ("Poland", "Warsaw"), ("Vietnam", "Hanoi"), ("Morocco", "Rabat"), ("Austria", "Vienna")]
COLORS = {"sky on a clear day": "blue", "grass": "green", "snow": "white", "coal": "black", "a ripe banana": "yellow",
          "a ripe tomato": "red", "an orange": "orange", "a violet": "purple"}
UNITS = [("kilometres", "metres", 1000), ("hours", "minutes", 60), ("kilograms", "grams", 1000),
         ("minutes", "seconds", 60), ("metres", "centimetres", 100)]
CITIES = ["Paris", "Tokyo", "Lima", "Oslo", "Cairo", "Rome"]
WEATHER = ["sunny", "cloudy", "rainy", "windy", "snowy"]
TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two integers.",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                       "required": ["a", "b"]}}},
]
IDENTITY_Q = ["Who are you?", "What is your name?", "Introduce yourself.", "Who made you?", "Who created you?",
              "Are you ChatGPT?", "What should I call you?", "Tell me about yourself.", "Who trained you?",
              "What are you?", "Hi, who am I talking to?", "Which company built you?"]
IDENTITY_A = ["I am {{name}}, an assistant created by {{author}}. How can I help you today?",
              "My name is {{name}}. I was made by {{author}} to answer questions and help with tasks.",
              "I'm {{name}}, an AI assistant developed by {{author}}.",
              "Hello! I am {{name}}, trained by {{author}}. What can I do for you?"]


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str, **extra: object) -> dict:
    return {"role": "assistant", "content": text, **extra}


def arithmetic(rng: random.Random) -> tuple[str, str, int]:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(["+", "-", "*"])
    value = {"+": a + b, "-": a - b, "*": a * b}[op]
    return f"What is {a} {op} {b}?", f"{a} {op} {b} = {value}.", value


def sft_rows(rng: random.Random) -> list[dict]:
    rows: list[dict] = []
    for _ in range(90):  # single-turn arithmetic
        q, a, _ = arithmetic(rng)
        rows.append({"messages": [user(q), assistant(a)]})
    for country, capital in CAPITALS * 4:  # capitals, some with a system prompt
        msgs = [user(f"What is the capital of {country}?"), assistant(f"The capital of {country} is {capital}.")]
        if rng.random() < 0.3:
            msgs.insert(0, {"role": "system", "content": "You are a concise geography tutor."})
        rows.append({"messages": msgs})
    for thing, color in list(COLORS.items()) * 3:  # multi-turn
        big, small, k = rng.choice(UNITS)
        n = rng.randint(2, 12)
        rows.append({"messages": [
            user(f"What color is {thing}?"), assistant(f"It is usually {color}."),
            user(f"Thanks. How many {small} are in {n} {big}?"), assistant(f"{n} {big} are {n * k} {small}."),
        ]})
    for _ in range(30):  # reasoning traces
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        rows.append({"messages": [
            user(f"Is {a} * {b} larger than 2000?"),
            assistant(f"{'Yes' if a * b > 2000 else 'No'}, {a} * {b} = {a * b}.",
                      reasoning_content=f"{a} * {b} = {a * b}. Compare with 2000: "
                      f"{a * b} is {'greater' if a * b > 2000 else 'not greater'}."),
        ]})
    for _ in range(24):  # tool calls
        if rng.random() < 0.5:
            city, weather = rng.choice(CITIES), rng.choice(WEATHER)
            call = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": city}}}
            msgs = [user(f"What's the weather in {city}?"), assistant("", tool_calls=[call]),
                    {"role": "tool", "content": json.dumps({"weather": weather})},
                    assistant(f"It is {weather} in {city} right now.")]
        else:
            a, b = rng.randint(100, 999), rng.randint(100, 999)
            call = {"type": "function", "function": {"name": "add", "arguments": {"a": a, "b": b}}}
            msgs = [user(f"Use the calculator: {a} plus {b}?"), assistant("", tool_calls=[call]),
                    {"role": "tool", "content": json.dumps({"result": a + b})}, assistant(f"{a} + {b} = {a + b}.")]
        rows.append({"messages": msgs, "tools": TOOLS})
    rng.shuffle(rows)
    return rows


def identity_rows() -> list[dict]:
    return [{"instruction": q, "input": "", "output": IDENTITY_A[i % len(IDENTITY_A)]}
            for i, q in enumerate(IDENTITY_Q * 3)]


def sharegpt_rows(rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(20):
        city, weather = rng.choice(CITIES), rng.choice(WEATHER)
        rows.append({
            "conversations": [
                {"from": "human", "value": f"Weather in {city}, please."},
                {"from": "function_call", "value": json.dumps({"name": "get_weather", "arguments": {"city": city}})},
                {"from": "observation", "value": json.dumps({"weather": weather})},
                {"from": "gpt", "value": f"{city}: {weather}."},
            ],
            "tools": json.dumps(TOOLS[:1]),
        })
    for country, capital in CAPITALS:
        rows.append({"conversations": [{"from": "human", "value": f"Capital of {country}?"},
                                       {"from": "gpt", "value": capital}],
                     "system": "Answer with one word."})
    return rows


def preference_rows(rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(60):
        q, a, value = arithmetic(rng)
        wrong = value + rng.choice([-10, -2, -1, 1, 3, 10])
        rows.append({"prompt": [user(q)], "chosen": [assistant(a)],
                     "rejected": [assistant(a.replace(f"= {value}.", f"= {wrong}."))]})
    for country, capital in CAPITALS * 2:
        other = rng.choice([c for _, c in CAPITALS if c != capital])
        rows.append({"prompt": [user(f"What is the capital of {country}?")],
                     "chosen": [assistant(f"The capital of {country} is {capital}.")],
                     "rejected": [assistant(f"The capital of {country} is {other}.")]})
    rng.shuffle(rows)
    return rows


def kto_rows(rng: random.Random) -> list[dict]:
    rows = []
    for _ in range(50):
        q, a, value = arithmetic(rng)
        good = rng.random() < 0.5
        text = a if good else a.replace(f"= {value}.", f"= {value + rng.choice([-3, 1, 7])}.")
        rows.append({"prompt": [user(q)], "completion": [assistant(text)], "label": good})
    for thing, color in COLORS.items():
        rows.append({"prompt": [user(f"What color is {thing}?")], "completion": [assistant(f"It is {color}.")],
                     "label": True})
        rows.append({"prompt": [user(f"What color is {thing}?")],
                     "completion": [assistant("I would rather not say.")], "label": False})
    return rows


def pretrain_rows(rng: random.Random) -> list[dict]:
    rows = []
    for country, capital in CAPITALS:
        rows.append({"text": f"{capital} is the capital of {country}. Many travellers visit {capital} every year, "
                             f"and it is one of the best known cities of {country}."})
    for thing, color in COLORS.items():
        rows.append({"text": f"The colour of {thing} is {color}. Children learn early that {thing} is {color}."})
    for _ in range(60):
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        rows.append({"text": f"Adding {a} and {b} gives {a + b}; multiplying them gives {a * b}."})
    return rows


def prompt_rows(rng: random.Random) -> list[dict]:
    """Prompts with a reference answer (online RL and evaluation): the answer alone, in `completion`."""
    rows = []
    for _ in range(48):
        q, _, value = arithmetic(rng)
        rows.append({"prompt": [user(q)], "completion": str(value)})
    for country, capital in CAPITALS[:8]:
        rows.append({"prompt": [user(f"What is the capital of {country}?")], "completion": capital})
    return rows


FILES = ("sft_demo.jsonl", "identity.json", "sharegpt_demo.json", "preference_demo.jsonl", "kto_demo.jsonl",
         "pretrain_demo.jsonl", "prompts_demo.jsonl")


def main(out: Path = HERE) -> None:
    def jsonl(name: str, rows: list[dict]) -> None:
        (out / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    def array(name: str, rows: list[dict]) -> None:
        (out / name).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    rng = random.Random(SEED)
    jsonl("sft_demo.jsonl", sft_rows(rng))
    array("identity.json", identity_rows())
    array("sharegpt_demo.json", sharegpt_rows(rng))
    jsonl("preference_demo.jsonl", preference_rows(rng))
    jsonl("kto_demo.jsonl", kto_rows(rng))
    jsonl("pretrain_demo.jsonl", pretrain_rows(rng))
    jsonl("prompts_demo.jsonl", prompt_rows(random.Random(SEED + 1)))  # its own stream: the files above stay as they were


if __name__ == "__main__":
    main()
