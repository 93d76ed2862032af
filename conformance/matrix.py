"""The support matrix: one static HTML page, families x checks, each row linking to its family's page.

Built from the reports on disk (not by running anything), so it always shows what was recorded.
No JavaScript and no external assets: the page opens from a file, a CI artifact or GitHub Pages.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .family_page import modality, page_name, write_family_pages
from .owned import MATRIX_HTML, write_owned
from .report import content_sha256

SWEEP_PAGE = "day0-sweep.md"
SWEEP_HTML = "day0-sweep.html"

_SYMBOL = {"pass": "✓", "fail": "✗", "error": "!", "skip": "–", "n/a": "·"}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;font-size:.85rem}
th,td{border:1px solid #ccc;padding:.25rem .45rem;text-align:center}
th.check{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap;font-weight:normal}
td.family{text-align:left;white-space:nowrap}
.warn{background:#fbeedd;color:#8a5a00}.pass{background:#d9f2d9}.fail,.error{background:#f7d4d4}.skip{background:#f4ecd0}.na{background:#eee;color:#888}
.supported{font-weight:bold;color:#1a7f37}.stale{color:#b35900}
.filters label{margin-right:1rem}
#f-supported:checked~table tbody tr:not(.st-supported),#f-experimental:checked~table tbody tr:not(.st-experimental),
#f-passed:checked~table tbody tr:not(.passed),#f-vision:checked~table tbody tr:not(.mod-vision){display:none}
"""
# Filters are radio buttons and CSS (no JavaScript): the checked one hides the rows that do not match.
_FILTERS = (("all", "all families"), ("supported", "supported"), ("experimental", "experimental"),
            ("passed", "report passed"), ("vision", "vision-language"))


def _load(report_dir: Path, fid: str) -> dict[str, Any] | None:
    path = report_dir / f"{fid}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def _remote_code_mark(fam: Any) -> str:
    """A remote-code family is marked in the matrix: its class checks do not run, so it can never be `supported`."""
    rc = fam.architecture.remote_code
    if rc is None:
        return ""
    tip = html.escape(f"{fam.architecture.model_class} is the vendor's remote code ({rc.modeling_file}): the "
                      "architecture, train, export and serve checks are not run; needs model.trust_remote_code", quote=True)
    return f' <span class="remote-code" title="{tip}">(remote code)</span>'


def render_matrix(registry: Any, report_dir: Path) -> str:
    """The HTML page for every family of ``registry`` and the reports in ``report_dir``."""
    from .report import family_sha256
    from .vllm_record import CHECK_ID as VLLM_CHECK
    from .vllm_record import merged as vllm_merged

    reports = {fid: _load(report_dir, fid) for fid in sorted(registry.families)}
    vllm = {fid: vllm_merged(registry, fid, rep, report_dir) for fid, rep in reports.items()}
    check_ids: list[str] = []
    for rep in reports.values():
        for c in (rep or {}).get("checks", []):
            if c["id"] not in check_ids:
                check_ids.append(c["id"])
    if any(vllm.values()) and VLLM_CHECK not in check_ids:
        check_ids.append(VLLM_CHECK)
    head = "".join(f'<th class="check" title="{html.escape(c)}">{html.escape(c)}</th>' for c in check_ids)
    rows = []
    for fid, rep in reports.items():
        fam = registry.families[fid]
        status_cls = "supported" if fam.status == "supported" else ""
        hub_ids = [c.hf for c in fam.checkpoints] + [c.modelscope for c in fam.checkpoints if c.modelscope]
        cells = [f'<td class="family"><a href="{html.escape(page_name(fid))}">{html.escape(fid)}</a></td>',
                 f'<td class="{status_cls}">{html.escape(str(fam.status))}</td>',
                 f"<td>{html.escape(modality(fam))}{_remote_code_mark(fam)}</td>",
                 f'<td title="{html.escape(chr(10).join(hub_ids), quote=True)}">{len(fam.checkpoints)}</td>']
        if rep is None:
            cells.append(f'<td colspan="{len(check_ids) + 1}">no report</td>')
        else:
            by_id = {c["id"]: c for c in rep.get("checks", [])}
            if vllm[fid] is not None:  # the separate record when this report skipped the check (vllm_record.py)
                by_id[VLLM_CHECK] = vllm[fid]
            intact = content_sha256(rep) == rep.get("sha256")
            stale = rep.get("family_sha256") != family_sha256(registry, fam)
            verdict = "passed" if rep.get("passed") and intact else "not passed"
            note = " (stale)" if stale else ("" if intact else " (hash mismatch)")
            cells.append(f'<td class="{"pass" if verdict == "passed" else "fail"}{" stale" if stale else ""}">'
                         f'<a href="{html.escape(fid)}.json">{verdict}{note}</a></td>')
            for cid in check_ids:
                c = by_id.get(cid)
                if c is None:
                    cells.append('<td class="na">·</td>')
                    continue
                cls = "na" if c["status"] == "n/a" else c["status"]
                if c.get("severity") == "warning" and cls in ("fail", "error", "skip"):
                    cls = "warn"  # reported, never gating: not painted like a blocking failure
                where = f" [{c['recorded']}]" if c.get("recorded") else ""
                where += " STALE: the family's facts changed since it ran" if c.get("stale") else ""
                tip = html.escape(f"{cid}: {c['status']} — {c['summary']}{where}", quote=True)
                cls += " stale" if c.get("stale") else ""
                cells.append(f'<td class="{cls}" title="{tip}">{_SYMBOL.get(c["status"], "?")}</td>')
        passed = rep is not None and rep.get("passed") and content_sha256(rep) == rep.get("sha256")
        row_cls = f"st-{fam.status} mod-{fam.modality}" + (" passed" if passed else "")
        rows.append(f'<tr id="{html.escape(fid)}" class="{row_cls}">{"".join(cells)}</tr>')
    legend = " ".join(f"{sym} {name}" for name, sym in _SYMBOL.items()) + "; pale orange: a warning-level check"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>dayzero support matrix (registry {html.escape(registry.version)})</title>"
        f"<style>{_STYLE}</style></head><body>\n"
        f"<h1>dayzero support matrix</h1><p>registry {html.escape(registry.version)}, "
        f"{len(reports)} families. Legend: {html.escape(legend)}. Hover a cell for the check's summary.</p>\n"
        + (f'<p><a href="{SWEEP_HTML}">Day-0 sweep</a> (<a href="{SWEEP_PAGE}">Markdown</a>): every causal-LM '
           "architecture of the installed transformers, drafted and trained one LoRA step.</p>\n"
           if (report_dir / SWEEP_PAGE).is_file() else "")
        + '<div class="filters">'
        + "".join(f'<input type="radio" name="filter" id="f-{k}"{" checked" if k == "all" else ""}>'
                  f'<label for="f-{k}">{html.escape(v)}</label>' for k, v in _FILTERS)
        + "\n"
        + f'<table id="matrix"><thead><tr><th>family</th><th>status</th><th>modality</th>'
        f'<th title="Hugging Face and ModelScope ids (hover)">checkpoints</th><th>report</th>{head}</tr></thead>\n'
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table></div>\n</body></html>\n"
    )


def write_matrix(registry: Any, report_dir: Path) -> Path:
    """`index.html` and the page of every family it links (`family_page.py`)."""
    path = report_dir / "index.html"
    write_owned(path, render_matrix(registry, report_dir), MATRIX_HTML)
    write_family_pages(registry, report_dir, {fid: _load(report_dir, fid) for fid in registry.families})
    return path
