"""Read and write label files (JSON Lines or CSV), joined to comments by comment id."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..codebook import Codebook
from ..errors import CommentaryError, InputError
from ..records import Labels

__all__ = ["read_labels_file", "write_labels_jsonl", "is_labels_file", "join_labels", "LabelsAppender", "parse_bool", "merge_label_sources"]


def _themes(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("["):
        return _themes(json.loads(text))
    for sep in (";", "|", ","):
        if sep in text:
            return [t.strip() for t in text.split(sep) if t.strip()]
    return [text]


_TRUE, _FALSE = {"true", "1", "yes", "y", "t"}, {"false", "0", "no", "n", "f", ""}


def parse_bool(value, *, where: str = "") -> bool:
    """A yes/no cell of a labels file: JSON true/false, or true/false, 1/0, yes/no in any case."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InputError(f"{where}: weak is {value!r}, not true or false", fix="write true or false")


def _filled(row: dict) -> bool:
    """Whether a labels table's row gives a stance or themes."""
    return any((row.get(key) or "").strip() for key in ("stance", "themes"))


def read_sheet_text(path: Path) -> str:
    """A labels file's text (UTF-8, a byte-order mark dropped), or an error saying how to save it."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (byte {exc.start:,} is {exc.object[exc.start:exc.start + 1]!r})",
                         fix="save the labels as UTF-8 (in Excel: Save As, 'CSV UTF-8')") from None


def sheet_reader(text: str) -> csv.DictReader:
    """A labels sheet's rows: comma-separated, or by what its header shows a spreadsheet saved it with
    (semicolons in a European Excel, tabs), or by Excel's ``sep=;`` first line. Only the header line
    decides: a theme list such as "listening;solution" in the rows must not."""
    from ..ingest.tabular import excel_separator

    first, _, rest = text.partition("\n")
    delimiter = excel_separator(first)
    if delimiter is not None:
        text, first = rest, rest.partition("\n")[0]
    elif "," not in first:
        delimiter = next((d for d in (";", "\t", "|") if d in first), ",")
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter or ",")


def read_labels_file(path: Path, codebook: Codebook, *, annotator: str | None = None,
                     per_annotator: bool = False, warn: Callable[[str], None] | None = None) -> list[Labels]:
    """Read labels from JSONL or CSV (columns comment_id or id, stance, themes) and check them.

    One label per comment, unless *per_annotator*: then one per comment and annotator.
    A CSV row with neither a stance nor themes is a sheet's row not labelled yet: skipped, and
    counted through *warn*. A JSONL file's last line cut off mid-label (a save interrupted by a full disk or a
    crash) is skipped and reported through *warn*; a broken line anywhere else is an error.
    """
    path = Path(path)
    if path.is_dir():
        from ..dataset import is_dataset_folder

        raise InputError(f"{path} is a folder, not a labels file", fix=(
            "a dataset's own labels are used when no labels file is given; pass a labels file (JSON Lines or CSV) "
            "to use others" if is_dataset_folder(path) else "pass a labels file (JSON Lines or CSV)"))
    if not path.is_file():
        raise InputError(f"{path} does not exist", fix="check the path of the labels file")
    text = read_sheet_text(path)
    rows: list[tuple[str, dict]] = []
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        lines = text.splitlines()
        for n, line in enumerate(lines, 1):
            if line.strip():
                try:
                    rows.append((f"line {n}", json.loads(line)))
                except ValueError as exc:
                    if n == len(lines) and not text.endswith("\n"):
                        say = warn or _default_warn
                        say(f"{path}: skipped line {n}, a label cut off by an interrupted save ({line[:40]!r})")
                        continue
                    raise InputError(f"{path}: line {n} is not valid JSON ({exc})",
                                     fix="fix or remove that line") from exc
    else:
        reader = sheet_reader(text)
        rows = [(f"row {n}", row) for n, row in enumerate(reader, 1)]
        blank = [w for w, r in rows if not _filled(r)]
        if blank:  # a sheet's rows not labelled yet: no label, not a label of "no themes"
            rows = [(w, r) for w, r in rows if _filled(r)]
            (warn or _default_warn)(f"{path}: {len(blank):,} row(s) with neither a stance nor themes, not "
                                    f"labelled yet, skipped (first: {blank[0]})")
        for where, row in rows:
            if row.get(None):  # unquoted commas: a theme list cut into fields would lose all but its first
                raise InputError(f"{path}: {where} has {len(row[None])} more field(s) than the header "
                                 f"({', '.join(reader.fieldnames or [])}): {', '.join(row[None])!r}",
                                 fix='quote a field that holds commas ("listening, solution"), or separate '
                                     'themes with | or ;')
    out: list[Labels] = []
    seen: dict[tuple, str] = {}
    for where, row in rows:
        cid = row.get("comment_id") or row.get("id")
        if not cid:
            raise InputError(f"{path}: {where} has no comment_id", fix="add the comment id to every label")
        key = (cid, row.get("annotator") or annotator) if per_annotator else (cid,)
        if key in seen:
            raise CommentaryError(f"{path}: {where} labels comment {cid} again (first at {seen[key]})",
                                  fix="keep one label per comment, or adjudicate the two")
        seen[key] = where
        version = str(row.get("codebook_version") or "").strip()
        if version and version != codebook.version:  # as label import refuses it: another codebook's labels
            raise CommentaryError(f"{path}: {where} was labelled with codebook {version}, this is {codebook.version}",
                                  fix="pass --codebook with the codebook those labels used, or relabel")
        stance = (row.get("stance") or "").strip() or None
        themes = _themes(row.get("themes"))
        codebook.check(stance, themes, where=f"{path}: {where}")
        out.append(Labels(comment_id=str(cid), stance=stance, themes=themes,
                          annotator=row.get("annotator") or annotator, created=row.get("created"),
                          codebook_version=version or codebook.version,
                          weak=parse_bool(row.get("weak"), where=f"{path}: {where}")))
    if not out:
        raise InputError(f"{path} holds no labels", fix="write one label per line")
    return out


def join_labels(labels: list[Labels], comments, where: str, *,
                skip_missing: Callable[[int], None] | None = None) -> list[Labels]:
    """*labels*, each naming its comment by commentary's id: a label keyed by the id the source gave the
    comment (a spreadsheet's own id column, kept as ``source_id``) is moved to the comment that has it,
    where exactly one has. A label naming neither is refused, with *where* the comments are; or, with
    *skip_missing*, left out, and their number passed to it (a labels file covering more comments
    than these)."""
    ids = {c.id for c in comments}
    if all(lab.comment_id in ids for lab in labels):
        return labels
    owners: dict[str, list[str]] = {}
    for c in comments:
        if c.source_id is not None:
            owners.setdefault(str(c.source_id), []).append(c.id)
    out = []
    ambiguous: list[str] = []
    for lab in labels:
        mine = owners.get(lab.comment_id, []) if lab.comment_id not in ids else []
        out.append(dataclasses.replace(lab, comment_id=mine[0]) if len(mine) == 1 else lab)
        if len(mine) > 1:
            ambiguous.append(lab.comment_id)
    if ambiguous:  # the source numbered its comments afresh under each article: "3" is several comments
        raise InputError(f"{len(ambiguous)} labels name a source id that several comments in {where} share "
                         f"(first: {ambiguous[0]!r}, {len(owners[ambiguous[0]])} comments)",
                         fix="key the labels by commentary's ids (the id column of `commentary label export`)")
    missing = [lab.comment_id for lab in out if lab.comment_id not in ids]
    if missing and skip_missing is not None:
        skip_missing(len(missing))
        return [lab for lab in out if lab.comment_id in ids]
    if missing:
        raise InputError(f"{len(missing)} labels name comments that are not in {where} (first: {missing[0]})",
                         fix="join the labels to the dataset they were made on")
    return out


def is_labels_file(path: Path, made_by: str) -> bool:
    """Whether *path* holds labels (JSON Lines) that the *made_by* labeller wrote (``rules:``, ``llm:``),
    by its first record: ``--force`` replaces such a file, never people's labels or anything else."""
    from ..dataset import first_record

    record = first_record(path)
    return (record is not None and "comment_id" in record
            and str(record.get("annotator") or "").startswith(made_by))


def write_labels_jsonl(labels: list[Labels], out) -> None:
    for lab in labels:
        out.write(json.dumps(lab.to_dict(), ensure_ascii=False) + "\n")


def _default_warn(message: str) -> None:
    from .._ui import ui

    ui.warn(message)


class LabelsAppender:
    """Appends labels to a JSONL file, one whole line at a time, under a lock held while open.

    A second writer on the same file (another ``annotate`` session) is refused instead
    of interleaving its labels. A line that cannot be written whole (a full disk) is
    taken back, so the file never ends in half a label. A cut-off last line left by an
    older crash is removed, with a warning, before the first new label.
    """

    def __init__(self, path: Path, *, warn: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sizes: list[int] = []  # the file's size before each label appended, for undo
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            self._lock()
            self._mend_tail(warn or _default_warn)
        except BaseException:
            os.close(self.fd)
            raise

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; one session per file is then the user's care
            return
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommentaryError(f"{self.path} is being written by another session (annotate runs once per "
                                  "labels file)", fix="finish the other session first, or label into another "
                                  "file with -o") from None

    def _mend_tail(self, warn: Callable[[str], None]) -> None:
        size = os.fstat(self.fd).st_size
        if size == 0 or os.pread(self.fd, 1, size - 1) == b"\n":
            return
        start = max(0, size - (1 << 20))
        tail = os.pread(self.fd, size - start, start)
        cut = tail.rfind(b"\n") + 1
        last = tail[cut:]
        try:
            json.loads(last.decode("utf-8"))
        except ValueError:
            os.ftruncate(self.fd, start + cut)
            warn(f"{self.path}: removed a label cut off by an interrupted save ({last[:40]!r})")
        else:  # a whole label that lacks only its newline
            os.write(self.fd, b"\n")

    def append(self, label: Labels) -> None:
        data = (json.dumps(label.to_dict(), ensure_ascii=False) + "\n").encode("utf-8")
        size = os.fstat(self.fd).st_size
        self._sizes.append(size)
        try:
            written = os.write(self.fd, data)
            if written != len(data):
                raise OSError(28, "No space left on device (the line was cut short)")
            os.fsync(self.fd)
        except OSError as exc:
            self._sizes.pop()
            try:
                os.ftruncate(self.fd, size)
            except OSError:
                pass
            raise CommentaryError(f"could not save the label to {self.path} ({exc.strerror or exc}); every label "
                                  "saved before is intact", fix="free some disk space, then run the same "
                                  "command again: it resumes where you stopped") from exc

    def undo(self) -> bool:
        """Take back the last label this writer appended (the file is locked, so it is ours)."""
        if not self._sizes:
            return False
        os.ftruncate(self.fd, self._sizes.pop())
        os.fsync(self.fd)
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock
            self.fd = -1

    def __enter__(self) -> LabelsAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def merge_label_sources(sources: list[list[Labels]]) -> tuple[list[Labels], dict[str, int]]:
    """One label per comment from several labels files: a person's label (not weak) wins over a
    machine's (weak: rules, a language model), and among equals the earlier file wins. Returns the
    labels and how many came from people, from machines, and how many machine labels were overruled."""
    chosen: dict[str, Labels] = {}
    overruled = 0
    for labels in sources:
        for lab in labels:
            have = chosen.get(lab.comment_id)
            if have is None:
                chosen[lab.comment_id] = lab
            elif have.weak and not lab.weak:
                chosen[lab.comment_id] = lab
                overruled += 1
            elif lab.weak and not have.weak:
                overruled += 1
    out = list(chosen.values())
    counts = {"from people": sum(not lab.weak for lab in out), "from machines (weak)": sum(lab.weak for lab in out)}
    if overruled:
        counts["machine labels overruled by people's"] = overruled
    return out, counts
