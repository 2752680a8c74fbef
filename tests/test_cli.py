"""The command line as a user meets it: the packaged default pipeline, one-line mistakes with exit
code 2, --overwrite that never deletes a user's files, one writer per output folder, and Ctrl-C.

Processes that must be caught mid-run are held at a fixed point by a small wrapper script (a
marker file says "I am there"; the test never sleeps for a guessed time), so no test depends on
machine speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from token_helpers import sample_texts, train_tiny_tokenizer, write_text_shards

from hanforge.cli import main
from hanforge.corpus.pipeline import PACKAGED_CONFIG

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``hanforge argv`` in this process; (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (relative path → bytes), hanforge's job record and lock aside."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".hanforge")
    }


def data_files(folder: Path) -> dict[str, bytes]:
    """The outputs that must be byte-identical between runs (logs and timings aside)."""
    return {k: v for k, v in tree(folder).items() if not k.startswith("logs/") and k != "stats.json"}


@pytest.fixture(scope="module")
def html_input(tmp_path_factory, sample_dir) -> Path:
    folder = tmp_path_factory.mktemp("html") / "faq"
    folder.mkdir()
    for page in sorted((sample_dir / "debian-faq-ko").glob("*.html"))[:6]:
        (folder / page.name).write_bytes(page.read_bytes())
    return folder


@pytest.fixture(scope="module")
def chain(tmp_path_factory, sample_html_files) -> dict[str, Path]:
    """Text shards and a tiny tokenizer (no pipeline run needed)."""
    root = tmp_path_factory.mktemp("chain")
    texts = sample_texts(sample_html_files[:24])
    shards = write_text_shards(root / "text", texts, num_shards=3)
    tok = train_tiny_tokenizer(shards, root / "tok")
    return {"root": root, "shards": shards, "tok": tok}


def test_packaged_default_pipelines_equal_the_documented_file():
    assert PACKAGED_CONFIG.read_bytes() == (REPO / "pipelines.toml").read_bytes()


def test_run_and_init_from_an_empty_folder(tmp_path, html_input):
    # no pipelines.toml here: the packaged default is used, output lands in the working directory
    proc = subprocess.run(
        [sys.executable, "-m", "hanforge", "run", str(html_input), "--tasks", "2", "--no-progress"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "output" / "korean-web" / "shards").glob("*.parquet"))
    proc = subprocess.run(
        [sys.executable, "-m", "hanforge", "init"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 0 and (tmp_path / "pipelines.toml").read_bytes() == PACKAGED_CONFIG.read_bytes()
    (tmp_path / "pipelines.toml").write_text("# mine\n")
    proc = subprocess.run(
        [sys.executable, "-m", "hanforge", "init"], cwd=tmp_path, env=ENV, capture_output=True, text=True
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / "pipelines.toml").read_text() == "# mine\n"


def test_every_verb_reports_mistakes_in_one_line_with_exit_code_2(tmp_path, chain, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "missing"
    no_mix = tmp_path / "no-mix.toml"
    no_mix.write_text('[pipelines.a]\ninputs = ["x"]\n')
    bad_key = tmp_path / "bad.toml"
    bad_key.write_text('[pipelines.a]\ninputs = ["x"]\n[[pipelines.a.steps]]\ntype = "length"\nmin_chars = "ten"\n')
    train_toml = tmp_path / "train.toml"
    train_toml.write_text(
        f'output = "{tmp_path / "run"}"\nstage = "cpt"\n[model]\npath = "{missing / "model"}"\n'
        f'[data]\ntoken_shards = "{missing}"\n'
    )
    out = tmp_path / "out"
    mistakes = {
        "run": [
            ["run", missing],
            ["run", "--config", missing],
            ["run", "pipelines.toml"],
            ["run", "--workers", "0"],
            ["run", "--pipeline", "nope"],
            ["run", "--config", bad_key],
            ["run", "--no-such-flag"],
        ],
        "dedup": [
            ["dedup"],
            ["dedup", missing, "--output", out],
            ["dedup", chain["shards"], "--output", out, "--threshold", "2"],
        ],
        "mix": [["mix", "--config", missing], ["mix", "--config", no_mix]],
        "tokenize": [
            ["tokenize", chain["shards"], "--tokenizer", missing, "--seq-len", "64", "--output", out],
            ["tokenize", missing, "--tokenizer", chain["tok"], "--seq-len", "64", "--output", out],
            ["tokenize", chain["shards"], "--tokenizer", chain["tok"], "--output", out],
        ],
        "tokenizer": [
            ["tokenizer", "train", missing, "--output", out],
            ["tokenizer", "train", chain["shards"], "--output", out, "--vocab-size", "0"],
            ["tokenizer", "extend", chain["shards"], "--base", missing, "--num-tokens", "5", "--output", out],
            ["tokenizer", "report", chain["shards"], "--tokenizer", missing],
            ["tokenizer"],
        ],
        "train": [["train", "--config", missing], ["train", "--config", train_toml]],
        "inspect": [["inspect", missing], ["inspect", tmp_path]],
        "crawl": [["crawl", "ftp://x.kr/", "--output", out, "--no-progress"]],
        "init": [["init", missing / "sub" / "pipelines.toml"]],
    }
    for cases in mistakes.values():
        for argv in cases:
            code, stdout, stderr = cli(argv, capsys)
            lines = stderr.strip().splitlines()
            assert code == 2, (argv, stdout, stderr)
            assert len(lines) == 1 and "Traceback" not in stderr, (argv, stderr)
            assert not out.exists(), f"{argv} wrote {out}"
    # the messages name the bad thing
    assert (
        "does not exist"
        in cli(["tokenize", chain["shards"], "--tokenizer", missing, "--seq-len", "64", "--output", out], capsys)[2]
    )
    assert str(missing / "model") in cli(["train", "--config", train_toml], capsys)[2]
    message = cli(["run", "--config", bad_key], capsys)[2]
    assert message.count("pipelines.a") == 1 and "min_chars" in message, message


def test_missing_torch_is_one_line_saying_what_to_install(tmp_path, chain, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # how Python marks a module that cannot be imported
    model = tmp_path / "model"
    model.mkdir()
    toml = tmp_path / "train.toml"
    toml.write_text(
        f'output = "{tmp_path / "run"}"\nstage = "cpt"\n[model]\npath = "{model}"\n'
        f'[data]\ntoken_shards = "{tmp_path}"\n'
    )
    code, _, err = cli(["train", "--config", toml], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "pip install 'hanforge[train]'" in err and "download.pytorch.org/whl/cpu" in err
    from hanforge.errors import TrainingError

    monkeypatch.delitem(sys.modules, "hanforge.shards.token_dataset", raising=False)  # restored afterwards
    with pytest.raises(TrainingError, match="hanforge.train"):
        from hanforge.shards import TokenShardDataset  # noqa: F401


def test_overwrite_never_deletes_files_hanforge_did_not_write(tmp_path, chain, html_input, capsys, monkeypatch):
    root = tmp_path
    toml = root / "mix.toml"
    toml.write_text(
        f'[mix]\noutput = "mix"\ntotal = 3000\nunit = "chars"\n[mix.sources.a]\n'
        f'path = "{chain["shards"]}"\nratio = 1.0\n'
    )
    verbs = {  # first command, then the same output with other settings and --overwrite
        "run": (["run", html_input, "--tasks", "2", "--no-progress", "--output", root / "run"], ["--tasks", "1"]),
        "dedup": (
            ["dedup", chain["shards"], "--no-progress", "--exact-only", "--output", root / "dedup"],
            ["--threshold", "0.7"],
        ),
        "mix": (["mix", "--config", toml], ["--total", "2000"]),
        "tokenize": (
            [
                "tokenize",
                chain["shards"],
                "--tokenizer",
                chain["tok"],
                "--seq-len",
                "64",
                "--no-progress",
                "--output",
                root / "tokens",
            ],
            ["--seq-len", "32"],
        ),
        "tokenizer": (
            ["tokenizer", "train", chain["shards"], "--vocab-size", "1200", "--no-ksx1001", "--output", root / "tok"],
            ["--vocab-size", "1300"],
        ),
    }
    outputs = {
        "run": root / "run",
        "dedup": root / "dedup",
        "mix": root / "mix",
        "tokenize": root / "tokens",
        "tokenizer": root / "tok",
    }
    monkeypatch.chdir(root)
    for verb, (first, change) in verbs.items():
        out = outputs[verb]
        assert cli(first, capsys)[0] == 0, verb
        planted = {"notes.txt": b"my notes\n", "mine.parquet": b"PAR1 not hanforge's PAR1"}
        for name, data in planted.items():
            (out / name).write_bytes(data)
        code, _, err = cli([*first, *change], capsys)  # other settings without --overwrite: refused
        assert code == 2 and len(err.strip().splitlines()) == 1, (verb, err)
        message = err.replace(str(out), "OUT").replace("never deletes", "")
        assert "--overwrite" in message and "delete" not in message and "rm " not in message, err
        assert cli([*first, *change, "--overwrite"], capsys)[0] == 0, verb
        assert {n: (out / n).read_bytes() for n in planted} == planted, verb
    # a foreign file where hanforge reads or writes its output refuses the run; nothing is deleted
    foreign = outputs["run"] / "shards" / "foreign.parquet"
    foreign.write_bytes(b"user data")
    before = tree(outputs["run"])
    code, _, err = cli([*verbs["run"][0], "--overwrite"], capsys)
    assert code == 2 and "shards/foreign.parquet" in err and len(err.strip().splitlines()) == 1
    assert tree(outputs["run"]) == before
    # a folder hanforge never wrote: refused without --overwrite, written beside the user's files with it
    own = root / "own"
    own.mkdir()
    (own / "notes.txt").write_text("keep me")
    run_into_own = ["run", html_input, "--tasks", "2", "--no-progress", "--output", own]
    code, _, err = cli(run_into_own, capsys)
    assert code == 2 and "notes.txt" in err and sorted(p.name for p in own.iterdir()) == ["notes.txt"]
    assert cli([*run_into_own, "--overwrite"], capsys)[0] == 0
    assert (own / "notes.txt").read_text() == "keep me"
    assert (own / "manifest.json").is_file() and list((own / "shards").glob("00001-*.parquet"))


HOLD = """
import pathlib, sys, time
marker, release = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
{patch}
from hanforge.cli import main
sys.exit(main(sys.argv[3:]))
"""

# hanforge run, held after its first task finished (tasks run in-process with one worker)
HOLD_RUN = textwrap.dedent("""
    from hanforge.shards import text_writer
    original = text_writer.ShardWriterStep.run
    def run(self, data, rank=0, world_size=1):
        if rank == 1:
            marker.write_text("held")
            while not release.exists():
                time.sleep(0.01)
        yield from original(self, data, rank, world_size)
    text_writer.ShardWriterStep.run = run
""")

# hanforge tokenize, held when packing starts (every input already tokenized)
HOLD_TOKENIZE = textwrap.dedent("""
    from hanforge.shards import token_format
    original = token_format.TokenShardWriter.add_documents
    def add_documents(self, *args, **kwargs):
        marker.write_text("held")
        while not release.exists():
            time.sleep(0.01)
        return original(self, *args, **kwargs)
    token_format.TokenShardWriter.add_documents = add_documents
""")


def start_held(tmp_path: Path, patch: str, argv: list) -> tuple[subprocess.Popen, Path, Path]:
    """Start ``hanforge argv`` held at the patched point; return once it is there."""
    marker, release = tmp_path / "held", tmp_path / "release"
    marker.unlink(missing_ok=True)
    release.unlink(missing_ok=True)
    script = HOLD.format(patch=patch)
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(marker), str(release), *map(str, argv)],
        cwd=tmp_path,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited before the hold point: {proc.communicate()}")
        time.sleep(0.01)
    return proc, marker, release


@pytest.mark.parametrize("verb", ["run", "tokenize"])
def test_ctrl_c_is_one_line_and_the_rerun_resumes_byte_identically(verb, tmp_path, chain, html_input, capsys):
    out = tmp_path / "out"
    if verb == "run":
        argv, patch = ["run", html_input, "--tasks", "3", "--no-progress"], HOLD_RUN
    else:
        argv, patch = (
            ["tokenize", chain["shards"], "--tokenizer", chain["tok"], "--seq-len", "64", "--no-progress"],
            HOLD_TOKENIZE,
        )
    lone = tmp_path / "lone"
    assert cli([*argv, "--output", lone], capsys)[0] == 0

    proc, _, _ = start_held(tmp_path, patch, [*argv, "--output", out])
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == [f"hanforge {verb}: interrupted; rerun the same command to resume"]
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name and p.is_file()]  # no temporaries of ours left

    code, stdout, _ = cli([*argv, "--output", out], capsys)
    assert code == 0
    assert "resumed: 1 of 3 tasks" in stdout if verb == "run" else "resumed: 3 of 3 input shards" in stdout
    assert data_files(out) == data_files(lone)


def test_a_second_writer_is_refused_and_the_first_finishes_as_a_lone_run(tmp_path, html_input, capsys):
    argv = ["run", html_input, "--tasks", "3", "--no-progress"]
    lone = tmp_path / "lone"
    assert cli([*argv, "--output", lone], capsys)[0] == 0
    out = tmp_path / "out"
    first, _, release = start_held(tmp_path, HOLD_RUN, [*argv, "--output", out])
    try:
        code, _, err = cli([*argv, "--output", out], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"pid {first.pid}" in err and "another hanforge process" in err
        code, _, err = cli([*argv, "--output", out, "--overwrite"], capsys)  # not even with --overwrite
        assert code == 2 and "another hanforge process" in err
    finally:
        release.write_text("go")
    stdout, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert data_files(out) == data_files(lone)
