"""`dayzero registry ...`: look families up, validate, export, diff, and keep the lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dayzero.cli import app
from dayzero.cli.output import print_json, print_table

registry_app = typer.Typer(help="Look up and maintain the family registry.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for other tools.")]


@registry_app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="Only families with this status.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the families in the registry."""
    from dayzero import registry

    fams = registry.families(status=status)
    if as_json:
        print_json(
            {
                "registry_version": registry.version,
                "families": [
                    {"id": f.id, "name": f.name, "revision": f.revision, "status": f.status,
                     "architectures": f.match.architectures, "checkpoints": [c.hf for c in f.checkpoints]}
                    for f in fams
                ],
            }
        )
        return
    rows = [[f.id, f.name, f.revision, f.status, ", ".join(f.match.architectures)] for f in fams]
    print_table(f"dayzero registry {registry.version}", ["id", "name", "rev", "status", "architectures"], rows)


@registry_app.command("show")
def show(family_id: str, as_json: JsonFlag = False) -> None:
    """Show everything the registry knows about one family."""
    from dayzero import registry

    if as_json:
        print_json(registry.get_json(family_id))
    else:
        import yaml

        data = registry.get(family_id).model_dump(mode="json", by_alias=True, exclude_none=True)
        print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")


@registry_app.command("resolve")
def resolve(target: Annotated[str, typer.Argument(help="A family id, hub id, config.json or model directory.")],
            as_json: JsonFlag = False) -> None:
    """Find the family (and checkpoint) of a model."""
    from dayzero import registry

    res = registry.resolve(target)
    if as_json:
        print_json(res.as_dict())
    else:
        ckpt = f" checkpoint {res.checkpoint.hf} ({res.checkpoint.size}, {res.checkpoint.kind})" if res.checkpoint else ""
        print(f"{res.family.id} (revision {res.family.revision}, {res.family.status}), matched by {res.matched_by}{ckpt}")


@registry_app.command("validate")
def validate(files: Annotated[list[Path] | None, typer.Argument(help="Extra family files to check with the registry.")] = None,
             root: Annotated[Path | None, typer.Option(help="A families folder other than the bundled one.")] = None) -> None:
    """Validate every family (and FILES) with the cross-file checks and the lock."""
    from dayzero.registry import lock, store

    reg = store.load(root, extra_files=files or [])
    problems = lock.stale(reg, lock.read(reg.root / store.LOCK_FILE))
    from dayzero.conformance.gate import supported_without_report

    problems += supported_without_report(reg)
    if problems:
        from dayzero.errors import RegistryError

        raise RegistryError("; ".join(problems))
    print(f"ok: {len(reg.families)} families, {len(reg.formats)} formats, {len(reg.rules)} rules (registry {reg.version})")


@registry_app.command("export")
def export(out: Path) -> None:
    """Write the whole registry as one JSON file (with its version and sha256) for other tools."""
    from dayzero import registry
    from dayzero.atomic import atomic_write_text
    from dayzero.registry.exchange import export_document

    doc = export_document(registry.default())
    atomic_write_text(out, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out} (registry {doc['registry_version']}, sha256 {doc['sha256'][:12]}...)")


@registry_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of `registry export`'s document (family, chat-format and rules files under $defs)."""
    from dayzero.registry.exchange import json_schema

    print_json(json_schema())


@registry_app.command("diff")
def diff(old: Path, new: Path, as_json: JsonFlag = False) -> None:
    """What changed between two registry exports, by family and field; exit 1 when a change was not versioned."""
    from dayzero.registry.exchange import diff as diff_
    from dayzero.registry.exchange import load_export

    changes = diff_(load_export(old), load_export(new))
    if as_json:
        print_json(changes)
        if changes["not_bumped"] or changes["registry_version_not_bumped"]:
            raise typer.Exit(1)
        return
    print(f"registry {changes['registry_version'][0]} -> {changes['registry_version'][1]}")
    for fid in changes["added"]:
        print(f"+ {fid}")
    for fid in changes["removed"]:
        print(f"- {fid}")
    for fid, fields in changes["changed"].items():
        for field, (a, b) in fields.items():
            print(f"~ {fid}.{field}: {json.dumps(a, ensure_ascii=False)} -> {json.dumps(b, ensure_ascii=False)}")
    flagged = False
    for fid in changes["not_bumped"]:
        print(f"! {fid}: facts changed but its revision did not increase (bump `revision`, add a changelog line)")
        flagged = True
    if changes["registry_version_not_bumped"]:
        print(f"! the registry version is still {changes['registry_version'][1]} although families changed "
              "(new family: minor; changed fact: patch)")
        flagged = True
    if flagged:
        raise typer.Exit(1)


@registry_app.command("rules")
def rules(as_json: JsonFlag = False) -> None:
    """List the cross-option rules the SDK enforces."""
    from dayzero import registry

    items = [r.model_dump(mode="json") for r in registry.rules()]
    if as_json:
        print_json(items)
        return
    print_table("rules", ["id", "severity", "when", "message"],
                [[r["id"], r["severity"], json.dumps(r["when"]), r["message"]] for r in items])


@registry_app.command("lock")
def lock_(root: Annotated[Path | None, typer.Option(help="A families folder other than the bundled one.")] = None) -> None:
    """Refresh families/registry.lock.json (refuses when a family changed without a revision bump)."""
    from dayzero.registry import lock, store

    path = lock.refresh(store.load(root))
    print(f"wrote {path}")
