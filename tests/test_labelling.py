"""The labelling workflow: rules and weak labels, annotation tools' formats, agreement, label issues."""

from __future__ import annotations

import json

import pytest

from commentary.codebook import load_codebook
from commentary.dataset import read_dataset, write_dataset
from commentary.errors import CommentaryError
from commentary.records import Labels

from conftest import REPO

STARTER = REPO / "data" / "starter"

TEST_SPLIT = REPO / "data" / "starter" / "test"
N_TEST = len(read_dataset(TEST_SPLIT).comments)

STANCE_RULES = r"""version: "1.0"
codebook: "1.0"
rules:
  - name: agree-words
    label: stance:agree
    regex: ['\b(agree|spot on|exactly|right|thank|good|brilliant)\b']
    unless: ['\bbut\b']
  - name: disagree-words
    label: stance:disagree
    regex: ['\b(wrong|nonsense|disagree|won''t|rubbish|no)\b']
  - name: mixed-but
    label: stance:mixed
    regex: ['\b(agree|right|yes)\b.*\bbut\b']
  - name: neutral-question
    label: stance:neutral
    question: true
  - name: listening
    label: listening
    phrases: [listen, listened, listening]
"""


def test_default_rules_report_coverage_and_accuracy_on_gold(cli):
    res = cli("label", "rules", TEST_SPLIT, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    rows = {r["rule"]: r for r in report["rules"]}
    assert rows["nothing-new-said-so"]["label"] == "nothing_new"
    fired = [r for r in rows.values() if r["fired"]]
    assert len(fired) >= 8
    for r in fired:  # measured against the split's own gold labels
        assert r["gold_fired"] == r["fired"] and 0 <= r["accuracy"] <= 1
        assert r["coverage"] == pytest.approx(r["fired"] / N_TEST)
    assert report["summary"]["stance_accuracy_on_gold"] >= 0.7


def test_weak_labels_train_a_model_marked_weak(cli, tmp_path, home):
    train_split = REPO / "data" / "starter" / "train"
    from commentary.label.rules import default_rules_path

    shipped = default_rules_path().read_text(encoding="utf-8")
    theme_rules = shipped[shipped.index("  # --- themes"):shipped.index("  # --- stance")]
    rules = tmp_path / "rules.yaml"
    rules.write_text(STANCE_RULES.replace("  - name: listening\n    label: listening\n"
                                          "    phrases: [listen, listened, listening]\n", theme_rules),
                     encoding="utf-8")
    weak = tmp_path / "weak.jsonl"
    res = cli("label", "rules", train_split, "--rules", rules, "-o", weak, "--combine", "majority", "--json")
    assert res.exit_code == 0, res.stderr
    majority = json.loads(res.stdout)["summary"]
    labels = [json.loads(line) for line in weak.read_text().splitlines()]
    assert labels and all(lab["weak"] and lab["annotator"] == "rules:majority" for lab in labels)
    assert {lab["stance"] for lab in labels} == {"agree", "disagree", "mixed", "neutral"}
    assert 0.5 < majority["stance_accuracy_on_gold"] < 1
    res = cli("train", train_split, "--labels", weak, "--cv-folds", "2", "--name", "weakly")
    assert res.exit_code == 0, res.stderr
    manifest = json.loads((home / "models" / "weakly" / "v1" / "manifest.json").read_text())
    assert manifest["training_data"]["weak"] == len(labels)
    # the labels file is named beside the dataset: the dataset's own labels were not what it learnt from
    import hashlib

    [kept] = manifest["training_data"]["labels_files"]
    assert kept == {"path": str(weak), "sha256": hashlib.sha256(weak.read_bytes()).hexdigest()}
    assert f"with the labels of `{weak}`" in (home / "models" / "weakly" / "v1" / "README.md").read_text()


def test_label_model_settles_conflicts_by_each_rules_gold_accuracy():
    from commentary.label.rules import apply_rules, combine, load_rules
    from commentary.records import Comment

    book = load_codebook()
    texts = ["great but wrong"] * 4 + ["great stuff"] * 10 + ["wrong again"] * 10
    comments = [Comment(id=f"c{i}", article_id="a", text=t) for i, t in enumerate(texts)]
    # gold: "great" comments are mostly agree; "wrong" ones are mostly neutral, so the disagree rule is poor
    gold = {f"c{i}": Labels(f"c{i}", "agree" if i < 13 else ("disagree" if i < 16 else "neutral"), [])
            for i in range(4, 24)}
    path = REPO / "build" / "test-rules.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text('version: "1"\nrules:\n  - {name: great, label: "stance:agree", phrases: [great]}\n'
                    '  - {name: wrong, label: "stance:disagree", phrases: [wrong]}\n', encoding="utf-8")
    votes = apply_rules(load_rules(path, book), comments)
    majority = {lab.comment_id: lab.stance for lab in combine(votes, book, "majority").labels}
    model = {lab.comment_id: lab.stance for lab in combine(votes, book, "label-model", gold=gold).labels}
    assert "c0" not in majority  # one vote each way: majority cannot say
    assert model["c0"] == "agree"  # the rule that is right 9 times in 10 outweighs the one right 3 in 10
    assert "c20" not in model  # a lone vote of a rule right 3 times in 10 is not a label


def _fired_by_each_engine(monkeypatch, texts):
    """The shipped rules' firings with RE2 (the default) and with Python's re (RE2 made unimportable)."""
    import sys

    from commentary.label.rules import fired, load_rules

    rules = load_rules(None, None).rules
    assert type(rules[0]._search[0]).__module__.startswith("re2") and rules[0]._search[1]
    fast = fired(rules, texts)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "re2", None)
        rules_re = load_rules(None, None).rules
        assert type(rules_re[0]._search[0]).__module__ == "re" and not rules_re[0]._search[1]
        slow = fired(rules_re, texts)
    return rules, fast, slow


def test_rules_fire_the_same_on_re2_as_on_python_re(monkeypatch):
    texts = [c.text for part in ("train", "dev", "test") for c in read_dataset(STARTER / part).comments]
    texts += [
        "Another one-size fits all plan from the top down.",  # phrases across hyphens
        "Nothing\u00a0new here: \u201cwe\u2019ve known this for years\u201d.",  # a no-break space, curly quotes
        "nothing new",  # a phrase at both edges of the text
        "Théâtre-nothing newé",  # letters beyond ASCII next to a phrase: not a whole word
        "Bosses?", "micromanagement", "It\u2019s time to fund more nurses.", "Where is the evidence?",
    ]
    rules, fast, slow = _fired_by_each_engine(monkeypatch, texts)
    assert (fast == slow).all()
    by_name = {r.name: j for j, r in enumerate(rules)}
    n = len(texts)
    assert fast[n - 8, by_name["hierarchy-words"]] and fast[n - 7, by_name["nothing-new-said-so"]]
    assert fast[n - 6, by_name["nothing-new-said-so"]] and not fast[n - 5, by_name["nothing-new-said-so"]]
    assert fast.sum() > len(texts) // 2  # the rules fire on real work, not on nothing


def test_rules_fire_the_same_on_either_engine_on_real_comments(monkeypatch):
    import pandas as pd

    from conftest import corpus

    texts = [str(t) for t in pd.read_csv(corpus("sfu_ctc") / "SFU_constructiveness_toxicity.csv",
                                         encoding_errors="replace")["comment"]]
    texts += [str(t) for t in pd.read_csv(corpus("pxtextmining_nhs") / "v6framework_230831.csv")["FFT answer"]][:3000]
    _, fast, slow = _fired_by_each_engine(monkeypatch, texts)
    assert (fast == slow).all() and fast.sum() > 1000


def test_a_rule_re2_cannot_take_runs_on_python_re_without_a_word(tmp_path, capfd):
    from commentary.label.rules import fired, load_rules

    path = tmp_path / "rules.yaml"
    path.write_text('version: "1"\nrules:\n  - {name: not-after-no, label: solution, regex: [\'(?<!no )plan\']}\n'
                    '  - {name: doubled, label: evidence, regex: [\'\\b(\\w+) \\1\\b\']}\n', encoding="utf-8")
    rules = load_rules(path, None).rules
    got = fired(rules, ["we need a plan", "there is no plan", "the the data", "the data"])
    assert got.tolist() == [[True, False], [False, False], [False, True], [False, False]]
    assert "re2" not in capfd.readouterr().err.lower()


def test_a_bad_rules_file_names_the_line(cli, tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text(STANCE_RULES.replace("label: listening", "label: listenin"), encoding="utf-8")
    res = cli("label", "rules", TEST_SPLIT, "--rules", bad)
    assert res.exit_code == 1 and "line 18" in res.stderr and "'listenin'" in res.stderr
    bad.write_text(STANCE_RULES.replace("(wrong|", "(wrong|("), encoding="utf-8")
    res = cli("label", "rules", TEST_SPLIT, "--rules", bad)
    assert res.exit_code == 1 and "line 10" in res.stderr and "bad regular expression" in res.stderr
    # a rules file alone, without a dataset, is checked the same way
    res = cli("label", "rules", "--rules", bad)
    assert res.exit_code == 1 and "line 10" in res.stderr and "bad regular expression" in res.stderr


def test_the_shipped_deciding_rules_fire_only_on_stance_said_outright():
    """The deciding rules override the model, so they must be sure: a new user's probe of the first
    version found them forcing agree on "Great article? Hardly." and disagree on "I disagree with Jane"."""
    from commentary.label.rules import Rule, deciding_rules_spec, fired

    rules = [Rule.from_spec(spec) for spec in deciding_rules_spec(None)]
    said = {"I disagree with this piece.": "disagree", "Rubbish article.": "disagree",
            "I strongly disagree, the data say otherwise.": "disagree",
            "I wholeheartedly disagree with the author's assumption that pageants exploit women.": "disagree",
            "Great article. Arrest should be for people who need help.": "agree", "Agreed!": "agree",
            "I completely agree, the agency spend will only go up.": "agree", "Great article, spot on.": "agree",
            "Thank you for this. Sharing it with my whole ward.": "agree", "I couldn't agree more.": "agree"}
    unsaid = ["I agree with Jane. This article is naive.", "I agree with nothing in this article.",
              "I hardly agree with this piece.", "I rarely disagree with this columnist. Today she is spot on.",
              "I disagree with Jane. The author nailed it.", "I agree with the article's critics below.",
              "Great article? Hardly.", "Great article title, shame about the content.", "Not a great article.",
              "Far from a great article.", "Great article... if you enjoy fairy tales.",
              "Oh great article, another consultant telling nurses what they know.",
              '"Great article" said nobody who has worked a night shift.',
              'My manager sent this round saying "I disagree with this piece". I think it is right.',
              "Thank you for this nonsense.", "I read a great article in the Guardian that demolished this.",
              "Good post, Jane! The article itself is nonsense.", "I disagree with this piece, however it is fair.",
              "Great article! Check out our free guide at the link in our profile.", "I agree, Jane.",
              "I agree the pay matters. I don't agree with the ban.", "Do you agree? The premise is wrong."]
    hits = fired(rules, list(said) + unsaid)
    got = [{rules[j].target for j in row.nonzero()[0]} for row in hits]
    assert got[:len(said)] == [{stance} for stance in said.values()]
    assert [text for text, g in zip(unsaid, got[len(said):]) if g] == []


def test_only_a_stance_rule_can_decide(tmp_path):
    from commentary.codebook import load_codebook
    from commentary.errors import CodebookError
    from commentary.label.rules import deciding_rules_spec, load_rules

    path = tmp_path / "rules.yaml"
    path.write_text('version: "1"\nrules:\n'
                    '  - {name: says-no, label: "stance:disagree", decides: true, phrases: [i say no]}\n'
                    '  - {name: weak-no, label: "stance:disagree", phrases: [nope]}\n', encoding="utf-8")
    assert [r["name"] for r in deciding_rules_spec(path)] == ["says-no"]  # a user's own deciding rule
    path.write_text('version: "1"\nrules:\n  - {name: old, label: nothing_new, decides: true, phrases: [old]}\n',
                    encoding="utf-8")
    with pytest.raises(CodebookError, match="line 3.*only a stance rule can decide"):
        load_rules(path, load_codebook())
    path.write_text('version: "1"\nrules:\n  - {name: x, label: "stance:agree", decides: maybe, phrases: [yes]}\n',
                    encoding="utf-8")
    with pytest.raises(CodebookError, match="decides must be true or false"):
        load_rules(path, load_codebook())


def test_rules_write_gives_an_editable_copy_that_loads(cli, tmp_path):
    out = tmp_path / "mine.yaml"
    assert cli("label", "rules", "--write", out).exit_code == 0
    res = cli("label", "rules", TEST_SPLIT, "--rules", out, "--json")
    assert res.exit_code == 0 and len(json.loads(res.stdout)["rules"]) >= 10
    # checked alone, it says what it holds and how to apply it
    res = cli("label", "rules", "--rules", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert "rules, all valid for codebook 1.0" in res.stderr and "2 deciding stance rules" in res.stderr
    assert f"commentary label rules DATASET --rules {out}" in res.stderr


@pytest.mark.parametrize("tool,name", [("label-studio", "tasks.json"), ("argilla", "argilla"),
                                        ("csv", "tasks.csv")])
def test_export_then_import_loses_nothing(cli, tool, name, tmp_path):
    out = tmp_path / name
    res = cli("label", "export", TEST_SPLIT, "--to", tool, "-o", out, "--no-model")
    assert res.exit_code == 0, res.stderr
    back = tmp_path / "back.jsonl"
    res = cli("label", "import", out, "--from", tool, "-d", TEST_SPLIT, "-o", back)
    assert res.exit_code == 0, res.stderr
    got = [json.loads(line) for line in back.read_text().splitlines()]
    assert got == [lab.to_dict() for lab in read_dataset(TEST_SPLIT).labels]


@pytest.fixture
def argilla_client():
    """The real Argilla SDK's client. Before it builds settings or records it asks the server who the user
    is (GET /api/v1/me) and which users exist (GET /api/v1/users); a loopback stub answers those two and
    nothing else, so everything below is validated by the SDK's own models and import code."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    rg = pytest.importorskip("argilla")
    me = {"id": "00000000-0000-0000-0000-000000000001", "username": "owner", "first_name": "Owner",
          "last_name": None, "role": "owner", "api_key": "test", "inserted_at": "2026-12-01T00:00:00",
          "updated_at": "2026-12-01T00:00:00"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = {"/api/v1/me": me, "/api/v1/users": {"items": [me]}}.get(self.path.split("?")[0])
            self.send_response(200 if body else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {"detail": "not in the stub"}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield rg, rg.Argilla(api_url=f"http://127.0.0.1:{server.server_address[1]}", api_key="test"), me["id"]
    finally:
        server.shutdown()
        server.server_close()


def test_the_real_annotation_tools_take_the_exports_and_give_back_their_labels(cli, small, tmp_path, home,
                                                                                argilla_client, monkeypatch):
    import warnings

    from datasets import load_dataset

    lsi = pytest.importorskip("label_studio_sdk.label_interface")
    converter = pytest.importorskip("label_studio_sdk.converter")
    book = load_codebook()
    ds = read_dataset(TEST_SPLIT)
    assert cli("train", small, "--cv-folds", "2", "--promote").exit_code == 0

    # Label Studio: the SDK's LabelInterface validates every task, prediction and annotation against the config
    tasks_path = tmp_path / "ls" / "tasks.json"
    assert cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", tasks_path).exit_code == 0
    tasks = json.loads(tasks_path.read_text())
    ui = lsi.LabelInterface(tasks_path.with_suffix(".label_config.xml").read_text())
    assert all(ui.validate_task({"data": t["data"]}) for t in tasks)
    assert all(ui.validate_prediction(p, return_errors=True) == [] for t in tasks for p in t["predictions"])
    assert all(ui.validate_annotation(a) for t in tasks for a in t["annotations"])
    broken = json.loads(json.dumps(tasks[0]["predictions"][0]))
    broken["result"][0]["value"]["choices"] = ["strongly agree"]
    assert ui.validate_prediction(broken, return_errors=True)  # the check can fail
    # ... and its converter's JSON-MIN export of those annotations imports as the labels that went out
    conv = converter.Converter(config=str(tasks_path.with_suffix(".label_config.xml").read_text()),
                               project_dir=None, download_resources=False)
    conv.convert_to_json_min(str(tasks_path), str(tmp_path / "min"), is_dir=False)
    back = tmp_path / "back.jsonl"
    res = cli("label", "import", tmp_path / "min" / "result.json", "--from", "label-studio", "-d", TEST_SPLIT,
              "-o", back)
    assert res.exit_code == 0, res.stderr
    got = {g["comment_id"]: (g["stance"], sorted(g["themes"])) for g in map(json.loads, back.read_text().splitlines())}
    assert got == {lab.comment_id: (lab.stance, sorted(lab.themes)) for lab in ds.labels}

    # Argilla 2: the SDK reads the settings and the dataset model, and its Hub import turns the rows into records
    rg, client, me = argilla_client
    folder = tmp_path / "argilla"
    assert cli("label", "export", TEST_SPLIT, "--to", "argilla", "-o", folder).exit_code == 0
    settings = rg.Settings.from_json(folder / ".argilla" / "settings.json")
    assert [q.name for q in settings.questions] == ["stance", "themes"]
    assert settings.questions[0].labels == book.stance_ids and settings.questions[1].labels == book.theme_ids
    from argilla._models import DatasetModel

    assert DatasetModel(**json.loads((folder / ".argilla" / "dataset.json").read_text())).name == "argilla"
    dataset = rg.Dataset(name="comments", settings=settings, client=client)
    logged = []
    monkeypatch.setattr(type(dataset.records), "log", lambda self, records, **kw: logged.extend(records))
    rows = load_dataset("parquet", data_files=[str(p) for p in (folder / "data").glob("*.parquet")], split="train")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rg.Dataset._log_dataset_records(hf_dataset=rows, dataset=dataset)
    assert [r.id for r in logged] == [c.id for c in ds.comments]
    first, gold = logged[0], {lab.comment_id: lab for lab in ds.labels}[ds.comments[0].id]
    assert first.fields["text"] == ds.comments[0].text and first.fields["article_text"]
    stance = next(sg for sg in first.suggestions if sg.question_name == "stance")
    assert stance.value in book.stance_ids and stance.agent == "commentary@v1" and 0 < stance.score <= 1
    given = {r.question_name: r for r in first.responses}
    assert given["stance"].value == gold.stance and sorted(given["themes"].value) == sorted(gold.themes)
    assert str(given["stance"].user_id) == me  # labels from people the server does not know go to its user

    # rows as Argilla writes them for its own users (UUIDs, none of this project's metadata) import under those ids
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(next((folder / "data").glob("*.parquet")))
    users = [[me] * len(u) for u in table.column("stance.responses.users").to_pylist()]
    table = table.set_column(table.schema.get_field_index("commentary_labels"), "commentary_labels",
                             pa.array(["{}"] * table.num_rows))
    for col in ("stance.responses.users", "themes.responses.users"):
        table = table.set_column(table.schema.get_field_index(col), col, pa.array(users))
    pq.write_table(table, next((folder / "data").glob("*.parquet")))
    res = cli("label", "import", folder, "--from", "argilla", "-d", TEST_SPLIT, "-o", tmp_path / "from-argilla.jsonl")
    assert res.exit_code == 0, res.stderr
    got = [json.loads(x) for x in (tmp_path / "from-argilla.jsonl").read_text().splitlines()]
    assert len(got) == len(ds.labels) and {g["annotator"] for g in got} == {f"argilla:{me}"}


def test_exports_carry_the_models_suggestions(cli, small, tmp_path, home):
    assert cli("train", small, "--cv-folds", "2", "--promote").exit_code == 0
    ls = tmp_path / "t.json"
    assert cli("label", "export", TEST_SPLIT, "-o", ls).exit_code == 0
    tasks = json.loads(ls.read_text())
    pred = tasks[0]["predictions"][0]
    assert pred["model_version"] == "commentary@v1"
    assert [r["from_name"] for r in pred["result"]] == ["stance", "themes"]
    config = ls.with_suffix(".label_config.xml").read_text()
    assert 'name="stance"' in config and 'choice="multiple"' in config and 'value="nothing_new"' in config
    sheet = tmp_path / "t.csv"
    assert cli("label", "export", TEST_SPLIT, "--to", "csv", "-o", sheet).exit_code == 0
    import csv

    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert len(rows) == N_TEST and all(r["suggested_stance"] in {"agree", "disagree", "mixed", "neutral"} for r in rows)
    folder = tmp_path / "ar"
    assert cli("label", "export", TEST_SPLIT, "--to", "argilla", "-o", folder).exit_code == 0
    import pyarrow.parquet as pq

    table = pq.read_table(next((folder / "data").glob("*.parquet"))).to_pylist()
    assert table[0]["stance.suggestion.agent"] == "commentary@v1"
    assert json.loads((folder / ".argilla" / "settings.json").read_text())["questions"][1]["type"] == \
        "multi_label_selection"


def _ls_tasks(cli, tmp_path):
    out = tmp_path / "tasks.json"
    assert cli("label", "export", TEST_SPLIT, "-o", out, "--no-model", "--labels",
               REPO / "data" / "starter" / "second_pass.jsonl").exit_code == 0
    tasks = json.loads(out.read_text())
    for t in tasks:  # as Label Studio gives them back: two annotations by user 7
        t["annotations"] = [{"completed_by": 7, "created_at": "2026-11-28T10:00:00Z", "was_cancelled": False,
                             "result": [{"from_name": "stance", "to_name": "text", "type": "choices",
                                         "value": {"choices": ["agree"]}},
                                        {"from_name": "themes", "to_name": "text", "type": "choices",
                                         "value": {"choices": ["listening"]}}]}] if t["id"] <= 2 else []
    return tasks


def test_label_studio_annotations_come_back_with_their_annotator(cli, tmp_path):
    tasks = _ls_tasks(cli, tmp_path)
    src = tmp_path / "done.json"
    src.write_text(json.dumps(tasks))
    out = tmp_path / "labels.jsonl"
    res = cli("label", "import", src, "-d", TEST_SPLIT, "-o", out)
    assert res.exit_code == 0, res.stderr
    got = [Labels.from_dict(json.loads(line)) for line in out.read_text().splitlines()]
    assert [(g.stance, g.themes, g.annotator) for g in got] == [("agree", ["listening"], "7")] * 2


def test_labels_keyed_by_the_sources_own_ids_travel_into_an_export(cli, tmp_path):
    table = tmp_path / "consult.csv"
    table.write_text("comment_id,article,comment\n"
                     "p1,Ward rounds,Nobody asked the nurses before changing the rota\n"
                     "p2,Ward rounds,The new rota gives us time with patients\n"
                     "q1,Parking,Staff parking costs too much\n")
    assert cli("ingest", table, "-o", tmp_path / "ds").exit_code == 0
    labels = tmp_path / "own-ids.jsonl"
    labels.write_text("".join(json.dumps(Labels(cid, stance, themes, annotator="ana", codebook_version="1.0")
                                         .to_dict()) + "\n"
                              for cid, stance, themes in [("p1", "disagree", ["listening"]), ("q1", "agree", [])]))
    sheet = tmp_path / "sheet.csv"
    res = cli("label", "export", tmp_path / "ds", "--to", "csv", "-o", sheet, "--labels", labels, "--no-model")
    assert res.exit_code == 0, res.stderr
    import csv

    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    assert sorted((r["text"][:6], r["stance"], r["themes"]) for r in rows if r["stance"]) == [
        ("Nobody", "disagree", "listening"), ("Staff ", "agree", "")]
    # ids a source numbered afresh under each article are several comments each: named, not "missing"
    table.write_text("comment_id,article,comment\n1,Ward rounds,Nobody asked the nurses\n"
                     "1,Parking,Staff parking costs too much\n")
    assert cli("ingest", table, "-o", tmp_path / "ds2").exit_code == 0
    labels.write_text(json.dumps(Labels("1", "agree", [], annotator="ana", codebook_version="1.0").to_dict()) + "\n")
    res = cli("label", "export", tmp_path / "ds2", "--to", "csv", "-o", tmp_path / "s2.csv", "--labels", labels,
              "--no-model")
    assert res.exit_code == 1 and "name a source id that several comments" in res.stderr, res.stderr


def test_labels_of_another_codebook_or_encoding_are_refused_wherever_they_are_read(cli, tmp_path):
    """label import refused labels made on codebook 2.0; train, evaluate and attach took them silently."""
    from commentary.label.io import read_labels_file

    cid = read_dataset(TEST_SPLIT).comments[0].id
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"comment_id,stance,themes,codebook_version\n{cid},agree,listening,2.0\n")
    with pytest.raises(CommentaryError, match="row 1 was labelled with codebook 2.0, this is 1.0"):
        read_labels_file(sheet, load_codebook())
    res = cli("label", "attach", TEST_SPLIT, sheet, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "labelled with codebook 2.0" in res.stderr and not (tmp_path / "out").exists()
    sheet.write_bytes(f"comment_id,stance,themes\n{cid},agree,listening\n# Caf\xe9 note\n".encode("cp1252"))
    res = cli("label", "attach", TEST_SPLIT, sheet, "-o", tmp_path / "out")
    assert res.exit_code == 1 and "is not UTF-8 text" in res.stderr and "CSV UTF-8" in res.stderr, res.stderr


def test_a_sheet_saved_by_a_european_excel_reads_by_its_semicolons(cli, tmp_path):
    from commentary.label.io import read_labels_file

    ids = [c.id for c in read_dataset(TEST_SPLIT).comments[:2]]
    for name, text in [("semi.csv", f"comment_id;stance;themes\n{ids[0]};agree;\"listening;solution\"\n{ids[1]};mixed;\n"),
                       ("sep.csv", f"sep=;\ncomment_id;stance;themes\n{ids[0]};agree;\"listening;solution\"\n"
                                   f"{ids[1]};mixed;\n")]:
        sheet = tmp_path / name
        sheet.write_text(text)
        got = read_labels_file(sheet, load_codebook())
        assert [(g.stance, g.themes) for g in got] == [("agree", ["listening", "solution"]), ("mixed", [])]
        out = tmp_path / f"{name}.jsonl"
        res = cli("label", "import", sheet, "--from", "csv", "-d", TEST_SPLIT, "-o", out, "--annotator", "ana")
        assert res.exit_code == 0 and len(out.read_text().splitlines()) == 2, res.stderr
    # a comma sheet whose theme lists use semicolons stays a comma sheet
    sheet = tmp_path / "comma.csv"
    sheet.write_text(f"comment_id,stance,themes\n{ids[0]},agree,listening;solution\n")
    assert read_labels_file(sheet, load_codebook())[0].themes == ["listening", "solution"]


def test_skipped_label_studio_annotations_are_left_out_and_counted(cli, tmp_path):
    tasks = _ls_tasks(cli, tmp_path)
    # a third annotator pressed Skip on the first task: Label Studio keeps it, with no choices
    tasks[0]["annotations"].append({"completed_by": 9, "was_cancelled": True, "result": []})
    src = tmp_path / "done.json"
    src.write_text(json.dumps(tasks))
    out = tmp_path / "labels.jsonl"
    res = cli("label", "import", src, "-d", TEST_SPLIT, "-o", out)
    assert res.exit_code == 0, res.stderr
    assert "left out 1 annotation with no finished labels: 1 cancelled" in res.stderr
    assert len(out.read_text().splitlines()) == 2
    only_skips = [dict(t, annotations=[{"completed_by": 9, "was_cancelled": True, "result": []}]) for t in tasks[:3]]
    src.write_text(json.dumps(only_skips))
    res = cli("label", "import", src, "-d", TEST_SPLIT, "-o", tmp_path / "none.jsonl")
    assert res.exit_code == 1 and "no finished annotations (3 left out as unfinished)" in res.stderr, res.stderr


def test_bad_imports_say_what_and_keep_existing_labels(cli, tmp_path):
    tasks = _ls_tasks(cli, tmp_path)
    src = tmp_path / "done.json"
    out = tmp_path / "labels.jsonl"
    existing = Labels(tasks[0]["data"]["comment_id"], "disagree", [], annotator="7", codebook_version="1.0")
    out.write_text(json.dumps(existing.to_dict()) + "\n")
    before = out.read_text()

    def attempt(mutate, expected):
        broken = json.loads(json.dumps(tasks))
        mutate(broken)
        src.write_text(json.dumps(broken))
        res = cli("label", "import", src, "-d", TEST_SPLIT, "-o", out)
        assert res.exit_code == 1 and expected in res.stderr, res.stderr
        assert out.read_text() == before

    def unknown_label(t):
        t[1]["annotations"][0]["result"][0]["value"]["choices"] = ["supportive"]

    def foreign_id(t):
        t[1]["data"]["comment_id"] = "not-a-comment"

    def duplicate(t):
        t[1]["annotations"].append(t[1]["annotations"][0])

    def other_codebook(t):
        t[1]["data"]["codebook_version"] = "0.9"

    attempt(unknown_label, "unknown stance 'supportive'")
    attempt(foreign_id, "1 labelled comment ids are not in the dataset")
    attempt(duplicate, "again for annotator '7'")
    attempt(other_codebook, "labelled with codebook 0.9, this is 1.0")
    attempt(lambda t: None, "already has '7''s label")  # the import differs from a label already there


def test_agreement_kappa_for_two_and_alpha_for_three(cli, tmp_path):
    ids = ["c1", "c2", "c3", "c4"]
    # Krippendorff's nominal alpha by hand for these: D_o = 4/12, D_e = 72/132, alpha = 1 - D_o/D_e = 0.3889
    votes = {"ann": "aada", "bob": "aadd", "cat": "adddd"[:4]}
    files = []
    for who, v in votes.items():
        f = tmp_path / f"{who}.jsonl"
        f.write_text("".join(json.dumps({"comment_id": c, "stance": "agree" if x == "a" else "disagree",
                                         "themes": [], "annotator": who}) + "\n" for c, x in zip(ids, v)))
        files.append(f)
    res = cli("label", "agreement", *files, "--json")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["stance"]["alpha"] == pytest.approx(1 - (4 / 12) / (72 / 132), abs=1e-4)
    assert {d["comment_id"] for d in out["disagreements"]} == {"c2", "c4"}
    two = json.loads(cli("label", "agreement", *files[:2], "--json").stdout)
    # two annotators: the JSON carries the table's statistic, Cohen's kappa (ann aada vs bob aadd: 0.5)
    assert two["statistic"] == "cohen_kappa" and two["n"] == 4 and two["stance"]["kappa"] == pytest.approx(0.5)
    # a theme nobody used has no kappa (undefined), not a perfect 1.000
    assert two["themes"]["hierarchy"]["kappa"] is None and two["themes"]["hierarchy"]["agreement"] == 1.0
    table = cli("label", "agreement", *files)
    assert "Krippendorff's alpha" in table.stdout and "2 comments differ" in table.stderr
    assert "n/a: nothing_new" in table.stderr and "1.000" not in table.stdout
    # the same file twice is not two annotators (it agreed with itself: kappa 1.000)
    res = cli("label", "agreement", files[0], files[0])
    assert res.exit_code == 2 and "hold the same labels" in res.stderr
    # a file holding two annotators beside a third file counts as two, by their names
    both = tmp_path / "both.jsonl"
    both.write_text(files[0].read_text() + files[1].read_text())
    three = json.loads(cli("label", "agreement", both, files[2], "--json").stdout)
    assert three["stance"]["alpha"] == pytest.approx(out["stance"]["alpha"], abs=1e-6)


def test_label_issues_rank_planted_errors_first(cli, tmp_path):
    train_split = REPO / "data" / "starter" / "train"
    ds = read_dataset(train_split)
    flip = {"agree": "disagree", "disagree": "agree"}
    planted = {lab.comment_id for lab in [lab for lab in ds.labels if lab.stance in flip][::10]}
    labels = [Labels(lab.comment_id, flip[lab.stance], lab.themes) if lab.comment_id in planted else lab
              for lab in ds.labels]
    noisy = tmp_path / "noisy"
    write_dataset(noisy, ds.articles, ds.comments, labels=labels)
    out = tmp_path / "issues.jsonl"
    res = cli("label", "issues", noisy, "-o", out, "--top", "5")
    assert res.exit_code == 0, res.stderr
    assert "likely stance label errors" in res.stdout and "likely themes label errors" in res.stdout
    found = [json.loads(line) for line in out.read_text().splitlines()]
    stance = [f["comment_id"] for f in found if f["kind"] == "stance"]
    worst = stance[:60]
    base_rate = len(planted) / len(ds.labels)  # about 7%
    assert sum(c in planted for c in worst) / len(worst) >= 3 * base_rate
    assert all(f["given"] != f["suggested"] for f in found if f["kind"] == "stance")


def test_label_studio_tasks_carry_the_article_and_its_json_min_export_is_read(cli, tmp_path):
    ds = read_dataset(TEST_SPLIT)
    given = tmp_path / "given.jsonl"
    given.write_text(json.dumps({"comment_id": ds.comments[0].id, "stance": "agree", "themes": [],
                                 "annotator": "ana"}) + "\n")
    out = tmp_path / "tasks.json"
    res = cli("label", "export", TEST_SPLIT, "--to", "label-studio", "-o", out, "--no-model", "--labels", given)
    assert res.exit_code == 0, res.stderr
    tasks = json.loads(out.read_text())
    art = {a.id: a for a in ds.articles}[ds.comments[0].article_id]
    assert tasks[0]["data"]["article_text"] == art.text[:5000] and "$article_text" in (
        tmp_path / "tasks.label_config.xml").read_text()
    labelled = [t for t in tasks if t.get("annotations")]
    # Label Studio refuses an annotator it does not know: no completed_by; who labelled rides in meta
    assert labelled and all("completed_by" not in a and a["meta"]["annotator"] == "ana"
                            for t in labelled for a in t["annotations"])
    # Label Studio's JSON-MIN export (one flat object per annotation) imports like the full one
    ids = [c.id for c in ds.comments[:3]]
    minimal = [{"id": 1, "comment_id": ids[0], "text": "...", "stance": "agree", "themes": {"choices": ["evidence", "politics"]},
                "annotator": "ana@example.org", "annotation_id": 11, "updated_at": "2026-12-01T10:00:00Z"},
               {"id": 2, "comment_id": ids[1], "stance": "neutral", "annotator": "ana@example.org"},
               {"id": 3, "comment_id": ids[2], "stance": "disagree", "themes": "hierarchy", "annotator": 7}]
    (tmp_path / "min.json").write_text(json.dumps(minimal))
    res = cli("label", "import", tmp_path / "min.json", "--from", "label-studio", "--dataset", TEST_SPLIT,
              "-o", tmp_path / "labels.jsonl")
    assert res.exit_code == 0, res.stderr
    got = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [(g["stance"], sorted(g["themes"]), g["annotator"]) for g in got] == [
        ("agree", ["evidence", "politics"], "ana@example.org"), ("neutral", [], "ana@example.org"),
        ("disagree", ["hierarchy"], "7")]


def test_labels_keyed_by_the_spreadsheets_own_ids_join_to_their_comments(cli, tmp_path):
    table = tmp_path / "consultation.csv"
    table.write_text("ref,response\nR-101,Nobody at the council asked the residents before closing the library.\n"
                     "R-102,Good decision. The roads are a danger and this pays for them.\n", encoding="utf-8")
    data = tmp_path / "consultation"
    assert cli("ingest", table, "-o", data, "--id-column", "ref", "--text-column", "response").exit_code == 0
    labels = tmp_path / "coded.csv"  # coded in the same spreadsheet, by its own reference numbers
    labels.write_text("comment_id,stance,themes\nR-102,agree,solution\nR-101,disagree,listening\n", encoding="utf-8")
    res = cli("label", "attach", data, labels, "-o", tmp_path / "coded")
    assert res.exit_code == 0, res.stderr
    coded = read_dataset(tmp_path / "coded")
    by_text = {c.id: c.text for c in coded.comments}
    assert {by_text[lab.comment_id][:6]: lab.stance for lab in coded.labels} == {"Good d": "agree", "Nobody": "disagree"}
    # an id that is neither commentary's nor the source's is still refused, named
    labels.write_text("comment_id,stance,themes\nR-999,agree,\n", encoding="utf-8")
    res = cli("label", "attach", data, labels, "-o", tmp_path / "coded2")
    assert res.exit_code == 1 and "first: R-999" in res.stderr
