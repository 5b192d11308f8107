"""The versioned label scheme: load it, validate it (naming the line of any mistake), check labels."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import CodebookError

__all__ = ["Codebook", "LabelDef", "load_codebook", "default_codebook_path", "DEFAULT_CODEBOOK"]

DEFAULT_CODEBOOK = "codebook.yaml"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TOP_KEYS = {"name", "version", "description", "stance", "themes", "rules_of_thumb"}
_GROUP_KEYS = {"description", "labels"}
_LABEL_KEYS = {"id", "description", "counts", "not", "examples"}


@dataclass(frozen=True)
class LabelDef:
    """One label: its id, what it means, what counts and what does not, and examples."""

    id: str
    description: str
    counts: tuple[str, ...] = ()
    not_: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    """The stance labels (exactly one per comment) and themes (any number)."""

    name: str
    version: str
    description: str
    stances: tuple[LabelDef, ...]
    themes: tuple[LabelDef, ...]
    rules_of_thumb: tuple[str, ...] = ()
    path: str | None = None
    sha256: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def stance_ids(self) -> list[str]:
        return [s.id for s in self.stances]

    @property
    def theme_ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def check(self, stance: str | None, themes: Iterable[str], *, where: str = "") -> None:
        """Raise CodebookError when *stance* or a theme is not in this codebook."""
        prefix = f"{where}: " if where else ""
        if stance is not None and stance not in self.stance_ids:
            raise CodebookError(
                f"{prefix}unknown stance {stance!r} (codebook {self.version} has "
                f"{', '.join(self.stance_ids)})",
                fix="fix the label, or pass --codebook with the codebook it was labelled with",
            )
        bad = [t for t in themes if t not in self.theme_ids]
        if bad:
            raise CodebookError(
                f"{prefix}unknown theme{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))} "
                f"(codebook {self.version} has {', '.join(self.theme_ids)})",
                fix="fix the label, or pass --codebook with the codebook it was labelled with",
            )


def default_codebook_path() -> Path:
    """The codebook shipped inside the package."""
    return Path(str(resources.files("commentary") / "data" / DEFAULT_CODEBOOK))


class _Doc:
    """A YAML document as plain values, remembering the line of every node."""

    def __init__(self, text: str, name: str) -> None:
        import yaml

        self.name = name
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f"line {mark.line + 1}: " if mark else ""
            raise CodebookError(f"{name}: {line}not valid YAML ({getattr(exc, 'problem', exc)})",
                                fix="fix the YAML syntax there") from exc
        if node is None:
            raise CodebookError(f"{name} is empty", fix="start from `commentary codebook --write`")
        self.root = node

    def fail(self, node, message: str, fix: str) -> CodebookError:
        return CodebookError(f"{self.name}: line {node.start_mark.line + 1}: {message}", fix=fix)

    def mapping(self, node, allowed: set[str], what: str) -> dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what} must be a mapping of keys to values", "check the indentation")
        out: dict[str, Any] = {}
        for key, value in node.value:
            name = key.value
            if name in out:
                raise self.fail(key, f"{what} has {name!r} twice", "keep one of them")
            if name not in allowed:
                raise self.fail(key, f"unknown key {name!r} in {what} (expected {', '.join(sorted(allowed))})",
                                "remove it or fix its spelling")
            out[name] = value
        return out

    def text(self, node, what: str, *, required: bool = True) -> str:
        import yaml

        if not isinstance(node, yaml.ScalarNode) or (required and not str(node.value).strip()):
            raise self.fail(node, f"{what} must be non-empty text", "write it as a plain string")
        return str(node.value).strip()

    def texts(self, node, what: str) -> tuple[str, ...]:
        import yaml

        if node is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{what} must be a list", "write it as a YAML list (- item)")
        return tuple(self.text(item, f"each item of {what}") for item in node.value)


def _labels(doc: _Doc, node, group: str, *, allow_empty: bool = False) -> tuple[LabelDef, ...]:
    import yaml

    if not isinstance(node, yaml.SequenceNode) or (not node.value and not allow_empty):
        raise doc.fail(node, f"{group}.labels must be a non-empty list", "list the labels under it")
    seen: set[str] = set()
    out = []
    for item in node.value:
        fields = doc.mapping(item, _LABEL_KEYS, f"a {group} label")
        if "id" not in fields:
            raise doc.fail(item, f"a {group} label has no id", "add `id: some_label`")
        label_id = doc.text(fields["id"], "id")
        if not _ID.match(label_id):
            raise doc.fail(fields["id"], f"label id {label_id!r} must be lower_snake_case",
                           "use letters, digits and underscores, starting with a letter")
        if label_id in seen:
            raise doc.fail(fields["id"], f"label id {label_id!r} appears twice in {group}",
                           "give each label its own id")
        seen.add(label_id)
        if "description" not in fields:
            raise doc.fail(item, f"label {label_id!r} has no description", "add `description: ...`")
        out.append(LabelDef(
            id=label_id, description=doc.text(fields["description"], f"{label_id}.description"),
            counts=doc.texts(fields.get("counts"), f"{label_id}.counts"),
            not_=doc.texts(fields.get("not"), f"{label_id}.not"),
            examples=doc.texts(fields.get("examples"), f"{label_id}.examples"),
        ))
    return tuple(out)


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load and validate a codebook file (default: the one shipped with commentary)."""
    import yaml

    path = Path(path) if path else default_codebook_path()
    if not path.is_file():
        raise CodebookError(f"codebook {path} does not exist",
                            fix="write one with `commentary codebook --write FILE`")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodebookError(f"{path} is not UTF-8", fix="re-save it as UTF-8") from exc
    doc = _Doc(text, str(path))
    top = doc.mapping(doc.root, _TOP_KEYS, "the codebook")
    for key in ("version", "stance", "themes"):
        if key not in top:
            raise doc.fail(doc.root, f"the codebook has no {key!r}", f"add a `{key}:` section")
    groups = {}
    for group in ("stance", "themes"):
        fields = doc.mapping(top[group], _GROUP_KEYS, group)
        if "labels" not in fields:
            raise doc.fail(top[group], f"{group} has no labels", "add `labels:` with a list")
        # A stance-only codebook (themes: labels: []) suits data labelled for stance alone.
        groups[group] = _labels(doc, fields["labels"], group, allow_empty=group == "themes")
    if len(groups["stance"]) < 2:
        raise doc.fail(top["stance"], "stance needs at least two labels", "add the missing labels")
    clash = {s.id for s in groups["stance"]} & {t.id for t in groups["themes"]}
    if clash:
        raise doc.fail(top["themes"], f"{', '.join(sorted(clash))} is both a stance and a theme",
                       "rename one of them")
    return Codebook(
        name=doc.text(top["name"], "name") if "name" in top else "codebook",
        version=doc.text(top["version"], "version"),
        description=doc.text(top["description"], "description") if "description" in top else "",
        stances=groups["stance"], themes=groups["themes"],
        rules_of_thumb=doc.texts(top.get("rules_of_thumb"), "rules_of_thumb"),
        path=str(path), sha256=hashlib.sha256(data).hexdigest(),
        raw=yaml.safe_load(text),
    )
