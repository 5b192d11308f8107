"""The command line: help, version, exit codes, stdout versus stderr, tracebacks on demand."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from commentary import __version__
from commentary.cli import app
from commentary.dataset import read_dataset

from conftest import FIXTURES, REPO


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from commentary.cli import app\n"
        "from typer.testing import CliRunner\n"
        "CliRunner().invoke(app, ['--help'])\n"
        "heavy = [m for m in ('sklearn', 'torch', 'transformers', 'datasets', 'pyarrow', 'skops')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_run_builds_only_the_command_it_names_and_says_the_same(tmp_path):
    """main() hands Typer an app holding only the named command; what each command says and
    does must not change, and anything that names no command gets the whole app."""
    from typer.main import get_command
    from typer.testing import CliRunner

    from commentary.cli._app import only_the_command_in

    names = list(get_command(app).commands)
    assert {"ingest", "train", "classify", "evaluate", "label", "models"} <= set(names)
    runner = CliRunner()
    for name in names:
        narrowed = only_the_command_in(["-q", name, "--help"])
        assert list(get_command(narrowed).commands) == [name]
        assert runner.invoke(narrowed, [name, "--help"]).stdout == runner.invoke(app, [name, "--help"]).stdout
    assert runner.invoke(only_the_command_in(["models", "list"]), ["models", "list", "--models-dir",
                                                                    str(tmp_path)]).exit_code == 0
    for argv in ([], ["--help"], ["-v"], ["clasify"], ["--help", "classify"], ["-v", "--help", "models"]):
        assert only_the_command_in(argv) is app
    typo = subprocess.run([sys.executable, "-m", "commentary", "clasify"], capture_output=True, text=True)
    assert typo.returncode == 2 and "Did you mean 'classify'?" in typo.stderr


def test_version(cli):
    res = cli("--version")
    assert res.exit_code == 0 and res.stdout.strip() == f"commentary {__version__}"


def test_usage_error_exits_2(cli, tmp_path):
    res = cli("ingest", "--no-such-option")
    assert res.exit_code == 2
    # an option value the command cannot take is a usage error too, said in one line with the fix
    page = tmp_path / "c.txt"
    page.write_text("A comment.\n", encoding="utf-8")
    for args, said in ((("classify", page, "--format", "cvs"), "unknown output format 'cvs'; use table"),
                       (("ingest", page, "--format", "docx"), "unknown format 'docx'"),
                       (("evaluate", "--min-f1", "agree"), "--min-f1 'agree' is not LABEL=NUMBER"),
                       (("evaluate", "--min-f1", "agree=7"), "a number from 0 to 1"),
                       (("evaluate", "--min-macro-f1", "1.5"), "less than or equal to 1")):
        res = cli(*args)
        assert res.exit_code == 2 and said in res.stderr, (args, res.stderr)


def test_jsonl_on_stdout_and_summary_on_stderr(cli):
    res = cli("ingest", FIXTURES / "wxr.xml", "-o", "-")
    assert res.exit_code == 0
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["kind"] for r in records] == ["article", "comment", "comment"]
    assert re.search(r"comments\s+2", res.stderr) and re.search(r"replies\s+1", res.stderr)
    assert "1 spam comment" in res.stderr and "1 pingback or trackback" in res.stderr


def test_stdin_dash_reads_input(cli):
    res = cli("ingest", "-", "-o", "-", input=(FIXTURES / "disqus.xml").read_text())
    assert res.exit_code == 0 and res.stdout.count('"kind": "comment"') == 2


def test_quiet_silences_the_summary(cli):
    res = cli("-q", "ingest", FIXTURES / "wxr.xml", "-o", "-")
    assert res.exit_code == 0 and res.stderr == "" and res.stdout


def test_default_output_goes_under_home_data(cli, home):
    res = cli("ingest", FIXTURES / "drupal.html")
    assert res.exit_code == 0
    ds = read_dataset(home / "data" / "drupal")
    assert len(ds.comments) == 3 and ds.manifest["inputs"][0]["format"] == "html"


def test_jsonl_output_reads_back_unchanged(cli, tmp_path):
    first = cli("ingest", FIXTURES / "wp_classic.html", "-o", "-").stdout
    path = tmp_path / "records.jsonl"
    path.write_text(first)
    assert cli("ingest", path, "-o", "-").stdout == first


def test_debug_variable_shows_the_traceback(tmp_path):
    env = {**os.environ, "COMMENTARY_DEBUG": "1", "COMMENTARY_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "commentary", "ingest", str(tmp_path / "nope.csv")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1 and "Traceback" in out.stderr and "InputError" in out.stderr
    env.pop("COMMENTARY_DEBUG")
    out = subprocess.run([sys.executable, "-m", "commentary", "ingest", str(tmp_path / "nope.csv")],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1 and out.stderr.strip() == f"✘ {tmp_path / 'nope.csv'} does not exist; check the path"


def test_every_command_has_help_and_is_in_the_readme(cli):
    readme = (REPO / "README.md").read_text()
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    names += [g.name for g in app.registered_groups]
    assert names
    for name in names:
        res = cli(name, "--help")
        assert res.exit_code == 0 and "Usage" in res.stdout
        assert f"commentary {name}" in readme, f"README does not show `commentary {name}`"


def test_readme_starts_with_the_two_commands():
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    assert blocks and "make run" in blocks[0] and "make test" in blocks[0]
    assert Path(REPO / "Makefile").is_file()


def test_one_home_for_what_commands_write_and_read(cli, tmp_path, monkeypatch, home):
    """Outputs without -o go under COMMENTARY_HOME; a relative path that is not here is read from there."""
    import json as _json

    from conftest import FIXTURES

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = cli("ingest", FIXTURES / "disqus.xml")
    assert res.exit_code == 0, res.stderr
    assert (home / "data" / "disqus" / "manifest.json").is_file() and not (elsewhere / "data").exists()
    labels = home / "labels" / "disqus.ana.jsonl"
    labels.parent.mkdir(parents=True)
    from commentary.dataset import read_dataset

    ids = [c.id for c in read_dataset(home / "data" / "disqus").comments]
    labels.write_text("".join(_json.dumps({"comment_id": i, "stance": "agree", "themes": []}) + "\n" for i in ids))
    # the paths the README gives, read from under the home
    res = cli("label", "attach", "data/disqus", "labels/disqus.ana.jsonl", "-o", "mine")
    assert res.exit_code == 0, res.stderr
    assert len(read_dataset(elsewhere / "mine").labels) == len(ids)
    # a path that exists here wins over the home's
    (elsewhere / "data" / "disqus").mkdir(parents=True)
    res = cli("label", "attach", "data/disqus", "labels/disqus.ana.jsonl", "-o", "mine2")
    assert res.exit_code == 1 and "data/disqus" in res.stderr


def test_progress_goes_to_a_log_as_lines_when_stderr_is_not_a_terminal(capsys, monkeypatch):
    from commentary._ui import UI

    ui = UI()
    monkeypatch.setattr(UI, "PLAIN_EVERY", 0.0)  # every step is "long enough" here
    with ui.progress("classifying", total=3) as advance:
        for _ in range(3):
            advance(1)
    err = capsys.readouterr().err
    assert "classifying: 1 of 3 done (" in err and "classifying: 3 of 3 done (" in err and "/s)" in err
    quiet = UI()
    quiet.verbosity = -1
    with quiet.progress("classifying") as advance:
        advance(5)
    assert capsys.readouterr().err == ""


def test_the_dockerfile_copies_what_the_project_has_and_an_installed_copy_finds_its_data(tmp_path, monkeypatch):
    import re

    from commentary import paths

    from conftest import REPO

    text = (REPO / "Dockerfile").read_text()
    sources = [s for line in re.findall(r"^COPY (.+)$", text, re.M) for s in line.split()[:-1]]
    assert sources and all((REPO / s).exists() for s in sources), sources
    assert 'ENTRYPOINT ["commentary"]' in text and "COMMENTARY_DATA=" in text
    # an installed copy (no data beside its source) finds the bundled corpora through COMMENTARY_DATA
    monkeypatch.setattr(paths, "_REPO", tmp_path / "site-packages")
    monkeypatch.setenv("COMMENTARY_DATA", str(REPO))
    assert paths.starter_dir() == REPO / "data" / "starter"


def test_the_cache_is_one_per_machine_unless_a_home_or_cache_is_set(tmp_path, monkeypatch):
    """Encoders are hundreds of MB and minutes to make: without COMMENTARY_HOME they are kept once in
    the user's cache, not again in each folder a command runs from."""
    from commentary.paths import cache_root

    user = tmp_path / "user"
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("COMMENTARY_CACHE", raising=False)
    monkeypatch.delenv("COMMENTARY_HOME")
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert cache_root() == user / ".cache" / "commentary"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "commentary"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # ignored, as the XDG rules say
    assert cache_root() == user / ".cache" / "commentary"
    monkeypatch.setenv("COMMENTARY_HOME", str(tmp_path / "project"))
    assert cache_root() == tmp_path / "project" / ".cache"  # a home keeps its own cache
    monkeypatch.setenv("COMMENTARY_CACHE", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
