"""One static HTML page per family: its facts, checkpoints and conformance report, linked from the matrix.

Built from the family entry and the report on disk (nothing is run), deterministic (no dates, sorted
where the data is unordered), with no JavaScript or external assets, like the matrix page it sits
beside: `<report_dir>/<id>.html`, next to `<id>.json` and `<id>.md`.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .owned import FAMILY_HTML, write_owned
from .report import content_sha256

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:72rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:left;vertical-align:top}
dl{margin:.2rem 0 .2rem 1rem}dt{font-weight:bold;float:left;clear:left;margin-right:.5rem}dd{margin:0 0 .15rem 0}
code{font-size:.85rem}.pass{background:#d9f2d9}.fail,.error{background:#f7d4d4}.skip{background:#f4ecd0}
.na{background:#eee;color:#888}.warn{background:#fbeedd;color:#8a5a00}.supported{font-weight:bold;color:#1a7f37}
"""
# Sections shown as facts, in this order; the header and the checkpoint table cover the rest.
_SECTIONS = (
    "match",
    "tokenizer",
    "template",
    "architecture",
    "quantization",
    "export",
    "serving",
    "requires",
    "verified_against",
    "conformance",
    "changelog",
)


def modality(family: Any) -> str:
    """What the family takes in, as the schema decides it (`Family.modality`: `vision` or `text`), so the
    matrix column, its filter classes and the family page all say the same."""
    return family.modality


def page_name(family_id: str) -> str:
    return f"{family_id}.html"


def render_family_page(registry: Any, family_id: str, report: dict[str, Any] | None) -> str:
    """The page of one family of ``registry``, with ``report`` (its conformance report JSON) when there is one."""
    from .report import family_sha256

    fam = registry.families[family_id]
    data = fam.model_dump(mode="json", by_alias=True, exclude_none=True)
    esc = html.escape
    status_cls = "supported" if fam.status == "supported" else ""
    parts = [
        f"<h1>{esc(fam.name)} <code>{esc(fam.id)}</code></h1>",
        '<p><a href="index.html">support matrix</a></p>',
        "<table><tbody>",
        f'<tr><th>status</th><td class="{status_cls}" id="status">{esc(str(fam.status))}</td></tr>',
        f'<tr><th>modality</th><td id="modality">{esc(modality(fam))}</td></tr>',
        f"<tr><th>revision</th><td>{fam.revision}</td></tr>",
        f"<tr><th>registry</th><td>{esc(registry.version)}</td></tr>",
        f"<tr><th>chat format</th><td>{esc(fam.template.format)}</td></tr>",
        f"<tr><th>class</th><td><code>{esc(fam.architecture.model_class)}</code>{_remote_code(fam)}</td></tr>",
        "</tbody></table>",
        *_checkpoints(fam),
        *_report(
            report,
            intact=report is not None and content_sha256(report) == report.get("sha256"),
            stale=report is not None and report.get("family_sha256") != family_sha256(registry, fam),
            family_id=family_id,
        ),
        "<h2>Facts</h2>",
    ]
    for key in _SECTIONS:
        if key in data and data[key] not in ({}, [], None):
            parts.append(f'<h3 id="{esc(key)}">{esc(key)}</h3>{_facts(data[key])}')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(fam.id)}: dayzero family</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _remote_code(fam: Any) -> str:
    """What a remote-code family's page must say next to its class: whose code it is and what was not checked."""
    rc = fam.architecture.remote_code
    if rc is None:
        return ""
    return (f' <span id="remote-code">remote code: the vendor\'s <code>{html.escape(rc.modeling_file)}</code> '
            "(config.json <code>auto_map</code>); needs <code>model.trust_remote_code: true</code>. Not run: the "
            "tiny-instance architecture, train, export and serve checks; the layout is data from the vendor's file "
            "(see verified_against).</span>")


def _checkpoints(fam: Any) -> list[str]:
    esc = html.escape
    if not fam.checkpoints:
        return ["<h2>Checkpoints</h2><p>none listed (matched by config only)</p>"]
    rows = []
    for ckpt in fam.checkpoints:
        overrides = ckpt.overrides.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        )
        rows.append(
            f'<tr class="checkpoint"><td>{esc(ckpt.hf)}</td><td>{esc(ckpt.modelscope or "")}</td>'
            f"<td>{esc(str(ckpt.size or ''))}</td><td>{esc(str(ckpt.kind))}</td>"
            f"<td>{_facts(overrides) if overrides else ''}</td></tr>"
        )
    return [
        f"<h2>Checkpoints ({len(fam.checkpoints)})</h2>",
        '<table id="checkpoints"><thead><tr><th>Hugging Face</th><th>ModelScope</th><th>size</th><th>kind</th>'
        "<th>overrides</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]


def _report(report: dict[str, Any] | None, *, intact: bool, stale: bool, family_id: str) -> list[str]:
    esc = html.escape
    if report is None:
        return ['<h2>Conformance</h2><p id="verdict">no report</p>']
    verdict = "passed" if report.get("passed") and intact else "not passed"
    note = " (stale: the family changed since)" if stale else ("" if intact else " (hash mismatch)")
    rows = []
    for check in report.get("checks", []):
        cls = "na" if check["status"] == "n/a" else check["status"]
        if check.get("severity") == "warning" and cls in ("fail", "error", "skip"):
            cls = "warn"
        rows.append(
            f'<tr class="check"><td><code>{esc(check["id"])}</code></td><td class="{esc(cls)}">'
            f"{esc(check['status'])}</td><td>{esc(str(check.get('severity', '')))}</td>"
            f"<td>{esc(str(check.get('summary', '')))}</td></tr>"
        )
    return [
        "<h2>Conformance</h2>",
        f'<p id="verdict">{esc(verdict + note)}; report <a href="{esc(family_id)}.json">JSON</a>, '
        f'<a href="{esc(family_id)}.md">Markdown</a>; sha256 <code>{esc(str(report.get("sha256", "")))}</code></p>',
        '<table id="checks"><thead><tr><th>check</th><th>status</th><th>severity</th><th>summary</th></tr></thead>'
        "<tbody>",
        *rows,
        "</tbody></table>",
    ]


def _facts(value: Any) -> str:
    """Nested family data as nested definition lists (mappings) and lists; scalars as code."""
    esc = html.escape
    if isinstance(value, dict):
        items = "".join(f"<dt>{esc(str(k))}</dt><dd>{_facts(v)}</dd>" for k, v in value.items())
        return f"<dl>{items}</dl>"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(f"<code>{esc(_scalar(v))}</code>" for v in value) or "[]"
        return "<ol>" + "".join(f"<li>{_facts(v)}</li>" for v in value) + "</ol>"
    return f"<code>{esc(_scalar(value))}</code>"


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_family_pages(
    registry: Any, report_dir: Path, reports: dict[str, dict[str, Any] | None]
) -> list[Path]:
    """Write `<id>.html` for every family (reports by id, None where a family has none)."""
    written = []
    for fid in sorted(registry.families):
        path = report_dir / page_name(fid)
        write_owned(path, render_family_page(registry, fid, reports.get(fid)), FAMILY_HTML)
        written.append(path)
    return written
