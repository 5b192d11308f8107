"""Annotation tools' formats: export tasks (with model pre-annotations) and import finished labels.

- Label Studio: a JSON list of tasks (``data``, ``predictions``, ``annotations``), with
  a labelling config beside it (``<name>.label_config.xml``): stance as single choice,
  themes as multiple choice.
- Argilla: its Hugging Face dataset layout (``data/train-*.parquet`` and
  ``.argilla/settings.json``), records flattened as Argilla 2 writes them:
  ``stance.suggestion``, ``stance.suggestion.score``, ``stance.suggestion.agent``,
  ``stance.responses``, ``stance.responses.users``, ``stance.responses.status``, the
  same for ``themes``.
- CSV: one row per comment; ``stance`` and ``themes`` (``;``-separated) for people
  to fill in, the model's suggestions beside them. Cells are spreadsheet-safe.

Export then import loses nothing: stance, themes, annotator, time, codebook version
and the weak flag come back as they went out.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from ..codebook import Codebook
from ..errors import CommentaryError, InputError, OutputExistsError, UsageError
from ..records import Article, Comment, Labels

__all__ = ["TOOLS", "Task", "tasks_from", "export_tasks", "import_labels", "merge_labels"]

TOOLS = ("label-studio", "argilla", "csv")
_RISKY = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Task:
    """One comment to label, with its context, a model's suggestion and labels already given."""

    comment: Comment
    article_title: str | None
    suggestion: dict[str, Any] | None = None  # a classify prediction
    labels: list[Labels] | None = None
    article_text: str | None = None


def tasks_from(articles: Sequence[Article], comments: Sequence[Comment], labels: Iterable[Labels] = (),
               suggestions: dict[str, dict[str, Any]] | None = None) -> list[Task]:
    arts = {a.id: a for a in articles}
    given: dict[str, list[Labels]] = {}
    for lab in labels:
        given.setdefault(lab.comment_id, []).append(lab)
    tasks = []
    for c in comments:
        art = arts.get(c.article_id)
        tasks.append(Task(c, art.title if art else None, (suggestions or {}).get(c.id), given.get(c.id),
                          art.text if art else None))
    return tasks


def _meta(lab: Labels) -> dict[str, Any]:
    return {"annotator": lab.annotator, "created": lab.created, "codebook_version": lab.codebook_version,
            "weak": lab.weak}


ARTICLE_CHARS = 5000  # of the article's text carried in each task (the annotator reads it; the rest is cut)


# --- Label Studio -------------------------------------------------------------------------------------
def _ls_result(stance: str | None, themes: Sequence[str]) -> list[dict[str, Any]]:
    result = []
    if stance:
        result.append({"id": "stance", "from_name": "stance", "to_name": "text", "type": "choices",
                       "value": {"choices": [stance]}})
    result.append({"id": "themes", "from_name": "themes", "to_name": "text", "type": "choices",
                   "value": {"choices": list(themes)}})
    return result


def label_studio_config_head() -> str:
    """How every labelling config ``label export`` writes begins (to tell it from a user's file)."""
    return "<View>\n  <Header value=\"$article_title\"/>\n"


def label_studio_config(codebook: Codebook) -> str:
    def choices(labels) -> str:
        return "\n".join(f"    <Choice value={quoteattr(lab.id)} hint={quoteattr(lab.description)}/>" for lab in labels)

    return (label_studio_config_head() +
            "  <Collapse><Panel value=\"The article\"><Text name=\"article\" value=\"$article_text\"/></Panel></Collapse>\n"
            "  <Text name=\"text\" value=\"$text\"/>\n"
            "  <Choices name=\"stance\" toName=\"text\" choice=\"single-radio\" required=\"true\" showInline=\"true\">\n"
            f"{choices(codebook.stances)}\n  </Choices>\n"
            "  <Choices name=\"themes\" toName=\"text\" choice=\"multiple\" showInline=\"true\">\n"
            f"{choices(codebook.themes)}\n  </Choices>\n</View>\n")


def _label_studio(tasks: Sequence[Task], codebook: Codebook) -> list[dict[str, Any]]:
    out = []
    for n, t in enumerate(tasks, 1):
        c = t.comment
        task: dict[str, Any] = {"id": n, "data": {
            "comment_id": c.id, "text": c.text, "article_id": c.article_id, "article_title": t.article_title or "",
            "article_text": (t.article_text or "")[:ARTICLE_CHARS], "author": c.author or "",
            "codebook_version": codebook.version}}
        if t.suggestion:
            s = t.suggestion
            task["predictions"] = [{"model_version": s.get("model", ""),
                                    "score": s["stance_probs"][s["stance"]],
                                    "result": _ls_result(s["stance"], s["themes"])}]
        if t.labels:
            # No completed_by: Label Studio refuses an annotator it does not know ({"email": "ana"} was
            # refused) and gives imported annotations to the importing user; who labelled is kept in meta.
            task["annotations"] = [{"created_at": lab.created, "was_cancelled": False,
                                    "result": _ls_result(lab.stance, lab.themes), "meta": _meta(lab)}
                                   for lab in t.labels]
        out.append(task)
    return out


def _from_label_studio(path: Path) -> list[tuple[str, dict[str, Any]]]:
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputError(f"{path} is not valid JSON ({exc})", fix="pass Label Studio's JSON export") from exc
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise InputError(f"{path}: expected a list of Label Studio tasks", fix="export from Label Studio as JSON")
    if tasks and all(isinstance(t, dict) and "data" not in t and "comment_id" in t for t in tasks):
        return _from_label_studio_min(path, tasks)
    rows = []
    for n, task in enumerate(tasks, 1):
        data = task.get("data") or {}
        cid = data.get("comment_id")
        if not cid:
            raise InputError(f"{path}: task {n} has no data.comment_id",
                             fix="export tasks with `commentary label export --to label-studio` so each keeps its id")
        for a, ann in enumerate(task.get("annotations") or [], 1):
            if ann.get("was_cancelled"):  # the annotator pressed Skip: no labels, but counted
                rows.append((f"task {n}, annotation {a}", {"skipped": "cancelled (skipped in Label Studio)"}))
                continue
            meta = ann.get("meta") or {}
            who = meta.get("annotator") or ann.get("completed_by")
            if isinstance(who, dict):  # an int is Label Studio's own user id, kept as it is
                who = who.get("email") or who.get("username") or who.get("id")
            stance, themes = None, []
            for r in ann.get("result") or []:
                picked = (r.get("value") or {}).get("choices") or []
                if r.get("from_name") == "stance":
                    if len(picked) > 1:
                        raise InputError(f"{path}: task {n}, annotation {a} picks {len(picked)} stances",
                                         fix="make stance a single choice in the labelling config")
                    stance = picked[0] if picked else None
                elif r.get("from_name") == "themes":
                    themes = list(picked)
            rows.append((f"task {n}, annotation {a}", {
                "comment_id": cid, "stance": stance, "themes": themes,
                "annotator": str(who) if who not in (None, "") else None,
                "created": meta.get("created") or ann.get("created_at"),
                "codebook_version": meta.get("codebook_version") or data.get("codebook_version"),
                "weak": bool(meta.get("weak", False))}))
    return rows


def _choices(value) -> list[str]:
    """A JSON-MIN cell of a Choices control: "a", {"choices": ["a", "b"]}, or ["a", "b"]."""
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        value = value.get("choices") or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _from_label_studio_min(path: Path, tasks: list[dict]) -> list[tuple[str, dict[str, Any]]]:
    """Label Studio's JSON-MIN export: one flat object per annotation, the data and each control's value."""
    rows = []
    for n, task in enumerate(tasks, 1):
        stance = _choices(task.get("stance"))
        if len(stance) > 1:
            raise InputError(f"{path}: item {n} picks {len(stance)} stances",
                             fix="make stance a single choice in the labelling config")
        who = task.get("annotator")
        rows.append((f"item {n}", {
            "comment_id": task["comment_id"], "stance": stance[0] if stance else None,
            "themes": _choices(task.get("themes")),
            "annotator": str(who) if who not in (None, "") else None,
            "created": task.get("updated_at") or task.get("created_at"),
            "codebook_version": task.get("codebook_version"), "weak": False}))
    return rows


# --- Argilla --------------------------------------------------------------------------------------------
# What Argilla 2's SDK writes (``Settings.to_json``, ``Dataset.to_disk``, ``Dataset.to_hub``) and reads back
# with ``Settings.from_json`` and ``Dataset.from_hub`` / ``from_disk``; tests/test_labelling.py runs the
# real SDK on an export.
_ARGILLA_USERS = uuid.UUID("5f0c1f4e-8c1b-4d53-9a57-6b1c0c6d2a11")  # namespace: annotator name -> user id
_NOT_ON_A_SERVER = {"id": None, "inserted_at": None, "updated_at": None}  # what the SDK writes before creation
_ONE_ANNOTATOR_EACH = {"strategy": "overlap", "min_submitted": 1}


def _argilla_user_id(annotator: str | None) -> str:
    """The user id an annotator's existing labels carry in an Argilla export.

    Argilla keys responses by its users' UUIDs, which only the target server knows; a stable UUID per
    annotator name lets the labels travel (Argilla gives responses from unknown users to the importing
    user) and come back under their name (the export's ``commentary_labels`` metadata maps them).
    """
    return str(uuid.uuid5(_ARGILLA_USERS, annotator or ""))


def _argilla_field(name: str, title: str, required: bool) -> dict[str, Any]:
    return {**_NOT_ON_A_SERVER, "name": name, "title": title, "settings": {"type": "text", "use_markdown": False}, "required": required, "description": None,
            "dataset_id": None, "type": "text"}


def _argilla_question(name: str, title: str, kind: str, labels: Sequence[str], required: bool,
                      description: str | None) -> dict[str, Any]:
    settings: dict[str, Any] = {"type": kind, "options": [{"text": x, "value": x} for x in labels],
                                "visible_options": None}
    if kind == "multi_label_selection":
        settings["options_order"] = "natural"
    return {**_NOT_ON_A_SERVER, "name": name, "title": title, "settings": settings, "description": description, "required": required, "dataset_id": None,
            "type": kind}


def _argilla_settings(codebook: Codebook) -> dict[str, Any]:
    """``.argilla/settings.json`` as ``rg.Settings.to_json`` writes it."""
    return {
        "guidelines": codebook.description,
        "questions": [
            _argilla_question("stance", "Stance toward the article", "label_selection", codebook.stance_ids, True,
                              "One: the commenter's position on the article's main argument."),
            _argilla_question("themes", "Themes", "multi_label_selection", codebook.theme_ids, False,
                              "Any number: what the comment does or talks about.")],
        "fields": [_argilla_field("text", "Comment", True), _argilla_field("article_title", "Article", False),
                   _argilla_field("article_text", "The article's text", False)],
        "vectors": [],
        "metadata": [{**_NOT_ON_A_SERVER, "name": n, "title": n,
                      "settings": {"visible_for_annotators": True, "type": "terms", "values": None},
                      "visible_for_annotators": True, "dataset_id": None}
                     for n in ("comment_id", "article_id", "author", "codebook_version", "commentary_labels")],
        "allow_extra_metadata": False,
        "distribution": _ONE_ANNOTATOR_EACH,
        "mapping": None,
    }


def _argilla_dataset(name: str, codebook: Codebook) -> dict[str, Any]:
    """``.argilla/dataset.json`` as ``Dataset.to_disk`` writes it (a dataset not yet on a server)."""
    return {**_NOT_ON_A_SERVER, "name": name, "status": "draft", "guidelines": codebook.description,
            "allow_extra_metadata": False, "distribution": _ONE_ANNOTATOR_EACH, "workspace_id": None,
            "last_activity_at": None}


def _argilla_rows(tasks: Sequence[Task], codebook: Codebook) -> list[dict[str, Any]]:
    """Records flattened as ``Dataset.to_hub`` writes them: fields and metadata by name, then per question
    ``.suggestion`` (``.score``, ``.agent``) and ``.responses`` (``.users``, ``.status``)."""
    rows = []
    for t in tasks:
        c, s, labs = t.comment, t.suggestion, t.labels or []
        users = [_argilla_user_id(lab.annotator) for lab in labs]
        rows.append({
            "id": c.id, "status": "completed" if labs else "pending",
            "text": c.text, "article_title": t.article_title or "",
            "article_text": (t.article_text or "")[:ARTICLE_CHARS],
            "comment_id": c.id, "article_id": c.article_id, "author": c.author or "",
            "codebook_version": codebook.version,
            "commentary_labels": json.dumps({u: {"annotator": lab.annotator, **_meta(lab)}
                                             for u, lab in zip(users, labs)}),
            "stance.suggestion": s["stance"] if s else None,
            "stance.suggestion.score": s["stance_probs"][s["stance"]] if s else None,
            "stance.suggestion.agent": s.get("model") if s else None,
            "themes.suggestion": list(s["themes"]) if s else None,
            "themes.suggestion.score": [s["theme_probs"][x] for x in s["themes"]] if s else None,
            "themes.suggestion.agent": s.get("model") if s else None,
            "stance.responses": [lab.stance for lab in labs],
            "stance.responses.users": users,
            "stance.responses.status": ["submitted"] * len(labs),
            "themes.responses": [list(lab.themes) for lab in labs],
            "themes.responses.users": users,
            "themes.responses.status": ["submitted"] * len(labs),
        })
    return rows


_ARGILLA_FILES = {".": (".argilla", "data", "README.md"), ".argilla": ("settings.json", "dataset.json"),
                  "data": ("train-00000-of-00001.parquet",)}


def _is_argilla_export(folder: Path) -> bool:
    """An Argilla export ``_write_argilla`` wrote, holding nothing else (raises ``ForeignFilesError``
    naming what else it holds: ``--force`` must not delete a user's files saved into it)."""
    from ..dataset import holds_only

    if not ((folder / ".argilla" / "settings.json").is_file() and (folder / "data").is_dir()):
        return False
    for sub, names in _ARGILLA_FILES.items():
        holds_only(folder / sub, names, "an Argilla export")
    return True


def _write_argilla(folder: Path, tasks: Sequence[Task], codebook: Codebook, *, force: bool = False) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..dataset import atomic_dir

    with atomic_dir(folder, force=force, ours=_is_argilla_export, what="an Argilla export") as tmp:
        table = pa.Table.from_pylist(_argilla_rows(tasks, codebook), schema=_argilla_schema())
        (tmp / "data").mkdir()
        pq.write_table(table, tmp / "data" / "train-00000-of-00001.parquet")
        (tmp / ".argilla").mkdir()
        (tmp / ".argilla" / "settings.json").write_text(json.dumps(_argilla_settings(codebook), indent=2) + "\n")
        (tmp / ".argilla" / "dataset.json").write_text(
            json.dumps(_argilla_dataset(folder.name, codebook), indent=2) + "\n")
        (tmp / "README.md").write_text(
            "# Comments to label\n\nExported by commentary in the layout Argilla 2 pushes to the Hugging Face Hub "
            "(`Dataset.to_hub`): push this folder to a Hub dataset repository and load it with "
            "`rg.Dataset.from_hub(repo_id, settings=\"auto\")`, or build the dataset from "
            "`rg.Settings.from_json(\".argilla/settings.json\")` and log the rows of `data/*.parquet`.\n")


def _argilla_schema():
    import pyarrow as pa

    s, ls = pa.string(), pa.list_(pa.string())
    return pa.schema([
        ("id", s), ("status", s), ("text", s), ("article_title", s), ("article_text", s), ("comment_id", s),
        ("article_id", s), ("author", s), ("codebook_version", s), ("commentary_labels", s),
        ("stance.suggestion", s), ("stance.suggestion.score", pa.float64()), ("stance.suggestion.agent", s),
        ("themes.suggestion", ls), ("themes.suggestion.score", pa.list_(pa.float64())), ("themes.suggestion.agent", s),
        ("stance.responses", ls), ("stance.responses.users", ls), ("stance.responses.status", ls),
        ("themes.responses", pa.list_(ls)), ("themes.responses.users", ls), ("themes.responses.status", ls),
    ])


def _from_argilla(path: Path) -> list[tuple[str, dict[str, Any]]]:
    import datasets
    from datasets import load_dataset, load_from_disk

    datasets.disable_progress_bars()  # the import's own line says what was read; no bars on stderr
    datasets.logging.set_verbosity_error()
    try:
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            ds = load_from_disk(str(path))
        else:
            files = sorted(str(p) for p in path.rglob("*.parquet"))
            if not files:
                raise InputError(f"{path} holds no parquet files", fix="pass the folder of an Argilla export")
            ds = load_dataset("parquet", data_files=files, split="train")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable Argilla dataset ({exc})", fix="pass the exported folder") from exc
    if hasattr(ds, "keys") and not hasattr(ds, "column_names"):
        ds = ds[next(iter(ds.keys()))]
    need = {"stance.responses", "stance.responses.users"}
    if not need <= set(ds.column_names):
        raise InputError(f"{path} has no {', '.join(sorted(need - set(ds.column_names)))} column",
                         fix="export the Argilla dataset with its responses (with_records=True)")
    rows = []
    for n, rec in enumerate(ds, 1):
        cid = rec.get("comment_id") or rec.get("id")
        extra = json.loads(rec.get("commentary_labels") or "{}")
        stance_by = dict(zip(rec.get("stance.responses.users") or [], zip(rec.get("stance.responses") or [],
                                                                          rec.get("stance.responses.status") or [])))
        themes_by = dict(zip(rec.get("themes.responses.users") or [], zip(rec.get("themes.responses") or [],
                                                                          rec.get("themes.responses.status") or [])))
        for user in dict.fromkeys(list(stance_by) + list(themes_by)):
            stance, s_status = stance_by.get(user, (None, None))
            themes, t_status = themes_by.get(user, ([], None))
            if "discarded" in (s_status, t_status) or "draft" in (s_status, t_status):
                status = "discarded" if "discarded" in (s_status, t_status) else "drafts, not submitted"
                rows.append((f"record {n} ({cid}), user {user}", {"skipped": status}))
                continue
            meta = extra.get(user, {})  # labels this project exported carry their annotator's name
            annotator = meta.get("annotator", user) if meta else (f"argilla:{user}" if _is_uuid(user) else user)
            rows.append((f"record {n} ({cid}), user {user}", {
                "comment_id": cid, "stance": stance, "themes": list(themes or []), "annotator": annotator or None,
                "created": meta.get("created"),
                "codebook_version": meta.get("codebook_version") or rec.get("codebook_version"),
                "weak": bool(meta.get("weak", False))}))
    return rows


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# --- CSV ------------------------------------------------------------------------------------------------
CSV_COLUMNS = ["comment_id", "article_id", "article_title", "author", "text", "suggested_stance",
               "suggested_stance_probability", "suggested_themes", "stance", "themes", "annotator", "created",
               "codebook_version", "weak"]


def _safe(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_RISKY) else value


def _unsafe(value: str | None) -> str | None:
    if value and value.startswith("'") and value[1:2] and value[1:2] in _RISKY:
        return value[1:]
    return value


def _csv_rows(tasks: Sequence[Task], codebook: Codebook):
    for t in tasks:
        c, s = t.comment, t.suggestion
        base = [c.id, c.article_id, t.article_title or "", c.author or "", c.text,
                s["stance"] if s else "", f"{s['stance_probs'][s['stance']]:.4f}" if s else "",
                ";".join(s["themes"]) if s else ""]
        for lab in t.labels or [None]:
            if lab is None:
                yield base + ["", "", "", "", codebook.version, ""]
            else:
                yield base + [lab.stance or "", ";".join(lab.themes), lab.annotator or "", lab.created or "",
                              lab.codebook_version or codebook.version, "true" if lab.weak else ""]


def _from_csv(path: Path) -> list[tuple[str, dict[str, Any]]]:
    from .io import read_sheet_text, sheet_reader

    reader = sheet_reader(read_sheet_text(path))
    if not reader.fieldnames or "comment_id" not in reader.fieldnames or "stance" not in reader.fieldnames:
        raise InputError(f"{path} has no comment_id and stance columns",
                         fix="start from `commentary label export --to csv` and fill in stance and themes")
    rows = []
    for n, row in enumerate(reader, 2):
        row = {k: _unsafe(v) for k, v in row.items() if k}
        if not (row.get("stance") or "").strip() and not (row.get("themes") or "").strip():
            continue  # not labelled yet
        rows.append((f"line {n}", {
            "comment_id": row["comment_id"], "stance": (row.get("stance") or "").strip() or None,
            "themes": [x.strip() for x in (row.get("themes") or "").replace("|", ";").split(";") if x.strip()],
            "annotator": (row.get("annotator") or "").strip() or None, "created": row.get("created") or None,
            "codebook_version": (row.get("codebook_version") or "").strip() or None,
            "weak": (row.get("weak") or "").strip().lower() in ("true", "1", "yes")}))
    return rows


def is_export_file(path: Path, tool: str, writes: set[tuple[str, str]] | None = None) -> bool:
    """Whether *path* is a *tool* export that ``label export`` wrote (a CSV by its header, a Label
    Studio file by its first task) holding no labels but those it was written with, which ``--force``
    may replace. *writes* are the (comment id, labels) pairs the new export writes; a label in the file
    that is not among them was entered by someone (a sheet begun), so the file is theirs."""
    writes = writes or set()
    if tool == "csv":
        try:
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
                rows = csv.DictReader(fh)
                return rows.fieldnames == CSV_COLUMNS and _entered(
                    (row.get("comment_id") or "", (row.get("stance") or "").strip(), (row.get("themes") or "").strip())
                    for row in rows) <= writes
        except (OSError, csv.Error):
            return False
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (isinstance(tasks, list) and tasks and all(isinstance(t, dict) for t in tasks)):
        return False
    data = tasks[0].get("data")
    return (isinstance(data, dict) and {"comment_id", "codebook_version"} <= set(data)
            and _entered(_ls_labels(t) for t in tasks) <= writes)


def _entered(rows) -> set[tuple[str, str]]:
    """(comment id, its labels as one string) for each row or task that holds labels."""
    return {(cid, "|".join(parts)) for cid, *parts in rows if any(parts)}


def _ls_labels(task: dict[str, Any]) -> tuple[str, str]:
    data = task.get("data") if isinstance(task.get("data"), dict) else {}
    return (str(data.get("comment_id") or ""), json.dumps(task.get("annotations") or "", sort_keys=True))


def _export_writes(tasks: Sequence[Task], tool: str, codebook: Codebook) -> set[tuple[str, str]]:
    """The labels a new *tool* export of *tasks* writes, as ``is_export_file`` compares them."""
    if tool == "csv":
        at = CSV_COLUMNS.index("stance"), CSV_COLUMNS.index("themes")
        return _entered((row[0], str(row[at[0]]).strip(), str(row[at[1]]).strip()) for row in _csv_rows(tasks, codebook))
    return _entered(_ls_labels(t) for t in _label_studio(tasks, codebook))


def _is_ls_config(path: Path) -> bool:
    try:
        return Path(path).read_text(encoding="utf-8").startswith(label_studio_config_head())
    except (OSError, UnicodeDecodeError):
        return False


# --- the two entry points ---------------------------------------------------------------------------
def export_tasks(tasks: Sequence[Task], tool: str, output: Path, codebook: Codebook, *, force: bool = False) -> list[Path]:
    """Write *tasks* for *tool*; returns the paths written."""
    from ..dataset import atomic_file, claim_output

    if tool not in TOOLS:
        raise UsageError(f"unknown annotation tool {tool!r}", fix=f"use one of {', '.join(TOOLS)}")
    config = output.with_suffix(".label_config.xml")
    if tool != "argilla":  # argilla's folder is claimed by its own writer
        writes = _export_writes(tasks, tool, codebook) if (output.exists() and force) else set()
        for path, ours in [(output, lambda p: is_export_file(p, tool, writes))] + (
                [(config, _is_ls_config)] if tool == "label-studio" else []):
            if path.is_dir():
                raise OutputExistsError(f"{path} is a folder", fix=f"name a file for the {tool} export")
            claim_output(path, force=force, ours=ours, what=f"a {tool} export", folder=False)
    if tool == "argilla":
        _write_argilla(output, tasks, codebook, force=force)
        return [output]
    if tool == "label-studio":
        with atomic_file(output, force=True) as fh:
            json.dump(_label_studio(tasks, codebook), fh, ensure_ascii=False, indent=1)
            fh.write("\n")
        with atomic_file(config, force=True) as fh:
            fh.write(label_studio_config(codebook))
        return [output, config]
    with atomic_file(output, force=True) as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for row in _csv_rows(tasks, codebook):
            writer.writerow([_safe(v) for v in row])
    return [output]


def import_labels(path: Path, tool: str, codebook: Codebook, *, dataset_ids: set[str] | None = None,
                  annotator: str | None = None, warn: Callable[[str], None] | None = None) -> list[Labels]:
    """Read finished labels from *tool*'s export and check every one of them.

    Annotations the tool holds without finished labels (skipped in Label Studio, discarded or
    drafts in Argilla) are left out, and counted through *warn*."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", fix="check the path")
    readers = {"label-studio": _from_label_studio, "argilla": _from_argilla, "csv": _from_csv}
    if tool not in readers:
        raise UsageError(f"unknown annotation tool {tool!r}", fix=f"use one of {', '.join(TOOLS)}")
    rows = readers[tool](path)
    out: list[Labels] = []
    seen: dict[tuple[str, str | None], str] = {}
    unknown: list[str] = []
    skipped = Counter(row["skipped"] for _, row in rows if "skipped" in row)
    rows = [(where, row) for where, row in rows if "skipped" not in row]
    if skipped and warn:
        n = skipped.total()
        warn(f"{path}: left out {n:,} annotation{'s' if n != 1 else ''} with no finished labels: "
             + ", ".join(f"{k:,} {why}" for why, k in skipped.most_common()))
    for where, row in rows:
        who = row["annotator"] or annotator
        key = (str(row["comment_id"]), who)
        if key in seen:
            raise CommentaryError(f"{path}: {where} labels comment {key[0]} again for annotator {who!r} "
                                  f"(first at {seen[key]})", fix="keep one annotation per comment and annotator")
        seen[key] = where
        version = row["codebook_version"]
        if version and version != codebook.version:
            raise CommentaryError(f"{path}: {where} was labelled with codebook {version}, this is {codebook.version}",
                                  fix="pass --codebook with the codebook those labels used, or relabel")
        if row["stance"] is None:
            raise CommentaryError(f"{path}: {where} has themes but no stance",
                                  fix="give every labelled comment a stance")
        codebook.check(row["stance"], row["themes"], where=f"{path}: {where}")
        if dataset_ids is not None and key[0] not in dataset_ids:
            unknown.append(key[0])
        out.append(Labels(comment_id=key[0], stance=row["stance"], themes=row["themes"], annotator=who,
                          created=row["created"], codebook_version=version or codebook.version, weak=row["weak"]))
    if unknown:
        raise CommentaryError(f"{path}: {len(unknown)} labelled comment ids are not in the dataset "
                              f"(first: {', '.join(unknown[:3])})", fix="import into the dataset the tasks came from")
    if not out:
        held = f" ({skipped.total():,} left out as unfinished)" if skipped else ""
        raise InputError(f"{path} holds no finished annotations{held}", fix="label some comments in the tool first")
    return out


def merge_labels(existing: Sequence[Labels], new: Sequence[Labels], where: str) -> list[Labels]:
    """Add *new* to *existing*; the same comment and annotator labelled differently is refused, never overwritten."""
    have = {(lab.comment_id, lab.annotator): lab for lab in existing}
    out = list(existing)
    for lab in new:
        old = have.get((lab.comment_id, lab.annotator))
        if old is None:
            out.append(lab)
            have[(lab.comment_id, lab.annotator)] = lab
        elif (old.stance, sorted(old.themes)) != (lab.stance, sorted(lab.themes)):
            raise CommentaryError(
                f"{where} already has {lab.annotator!r}'s label for comment {lab.comment_id} "
                f"({old.stance}; {', '.join(old.themes) or 'no themes'}) and the import differs "
                f"({lab.stance}; {', '.join(lab.themes) or 'no themes'})",
                fix="adjudicate it, or import into a new file with -o")
    return out
