"""`telecbt content …`: list, show and validate clinical content."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from telecbt_cli.commands.common import CsvOpt, JsonOpt, one_format
from telecbt_cli.commands.content_opts import ContentOpt, LangOpt, load_catalog
from telecbt_cli.commands.output import (
    emit_csv,
    emit_fields,
    emit_json,
    emit_table,
    say,
    yes_no,
)
from telecbt_cli.core.store.errors import ContentError

app = typer.Typer(help="Clinical content: list, show, validate.", no_args_is_help=True, add_completion=False)


def _summary(entry: dict, lang: str) -> dict:
    from telecbt_cli.content.catalog import pick
    from telecbt_cli.core.clinical.engine import has_text

    return {"kind": entry["kind"], "id": entry["id"], "version": entry["version"],
            "title": pick(entry.get("title"), lang), "source": entry["_file"],
            "licensed_text_missing": entry["kind"] == "instrument" and not has_text(entry)}


@app.command("list")
def list_(content: ContentOpt = None, lang: LangOpt = None, json_out: JsonOpt = False, csv_out: CsvOpt = False) -> None:
    """List modules, courses and questionnaires with their versions."""
    from telecbt_cli.content.catalog import resolve_lang

    one_format(json_out, csv_out)
    catalog = load_catalog(content)
    from telecbt_cli.commands.i18n import columns, reader, value

    code = resolve_lang(None, lang or reader())
    rows = [_summary(e, code) for kind in ("course", "module", "instrument") for e in catalog.all(kind)]
    if json_out:
        emit_json(rows)
    elif csv_out:
        emit_csv(yes_no(rows), ["kind", "id", "version", "title", "source", "licensed_text_missing"])
    else:
        emit_table([{**row, "kind": value("content", row["kind"])} for row in rows],
                   columns("content", ["kind", "id", "version", "title"]))


@app.command()
def show(ident: Annotated[str, typer.Argument(metavar="ID", help="A module, course or questionnaire id.")],
         content: ContentOpt = None, lang: LangOpt = None, json_out: JsonOpt = False) -> None:
    """Show one content item as parsed (the full data with --json)."""
    from telecbt_cli.content.catalog import pick, resolve_lang

    from telecbt_cli.commands.i18n import reader, t, value

    catalog = load_catalog(content)
    code = resolve_lang(None, lang or reader())
    for kind in ("module", "instrument", "course"):
        entry = catalog.entries.get(kind, {}).get(ident)
        if entry is not None:
            break
    else:
        from telecbt_cli.core.store.errors import NotFoundError

        raise NotFoundError("no module, course or questionnaire named {ident!r}: see `telecbt content list`",
                            key="errors.content.not_found", ident=ident)
    if json_out:
        emit_json({k: v for k, v in entry.items() if k != "_file"})
        return
    emit_fields([(t("cli.content.col_id"), entry["id"]), (t("cli.content.col_kind"), value("content", kind)),
                 (t("cli.content.col_version"), entry["version"]), (t("cli.content.col_title"), pick(entry.get("title"), code)),
                 (t("cli.content.file"), entry["_file"])])
    if kind == "module":
        emit_table([{"id": s["id"], "kind": value("step", s["kind"]), "title": pick(s.get("title") or s.get("prompt"), code)}
                    for s in entry["steps"]], [("id", t("cli.module.col_step")), ("kind", t("cli.content.col_kind")),
                                               ("title", t("cli.module.col_prompt"))])
    elif kind == "instrument":
        licensed = f"({t('cli.instruments.licensed')})"
        emit_table([{"id": i["id"], "text": pick(i.get("text"), code) or licensed}
                    for i in entry["items"]], [("id", t("cli.content.item")), ("text", t("cli.content.text"))])
    else:
        emit_table([{"n": n, "module": m} for n, m in enumerate(entry["sessions"], 1)],
                   [("n", "#"), ("module", t("cli.module.module"))])


def problem_text(problem) -> str:
    """A validator's finding in the reader's language when it has a UI string, else as written."""
    if not problem.key:
        return str(problem)
    from telecbt_cli.commands.i18n import catalog, reader

    where = f"{problem.file}: {problem.path}" if problem.path else problem.file
    return f"{where}: {catalog().phrase(problem.key, reader(), problem.values)}"


@app.command()
def validate(
    path: Annotated[Optional[Path], typer.Argument(help="A content folder to check with the built-in content (default: built-in and TELECBT_CONTENT_PATH).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check content files: structure, types, ids, show_if, scoring bands, locales. Exit 1 on a problem."""
    from telecbt_cli.content.catalog import BUILTIN_DIR, build, content_dirs

    roots = [BUILTIN_DIR, *([path] if path else content_dirs(None))]
    catalog, problems = build(roots)
    counts = {kind: len(items) for kind, items in catalog.entries.items()}
    if json_out:
        emit_json({"ok": not problems, "folders": [str(r) for r in roots], "counts": counts,
                   "problems": [{"file": p.file, "path": p.path, "message": p.message} for p in problems]})
    elif problems:
        from telecbt_cli.commands.i18n import t

        for problem in problems:
            say(problem_text(problem), style="red")
        say(t("cli.content.problems", count=len(problems)), style="bold red")
    else:
        from telecbt_cli.commands.i18n import t

        say(t("cli.content.valid", modules=counts.get("module", 0), courses=counts.get("course", 0),
              questionnaires=counts.get("instrument", 0), locales=", ".join(sorted(catalog.locales))), style="green")
    if problems:
        raise typer.Exit(int(ContentError.exit_code))
