"""The README and docs/ say only what works: every command in their bash blocks parses with its CLI's own
parser (an unknown flag or a bad value fails), every relative link points at a file, every preset named
exists, the README stays short and CI runs the README's test command. Parsing only: nothing runs."""
import re
import shlex
from pathlib import Path

import pytest

from modules.config import (PRESETS, build_convert_parser, build_experiments_parser, build_make_dataset_parser,
                            build_score_parser, build_val_psnr_parser, parse_test_args, parse_train_args)

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]
README_MAX_BYTES = 10_240
TEST_COMMAND = ".venv/bin/python -m pytest -q"


def parse_experiments(argv):
    args, trainer_flags = build_experiments_parser().parse_known_args(argv)
    preset = ["--preset", args.preset] if args.preset != "none" else []
    return parse_train_args(preset + trainer_flags)


# Each CLI's parse as its main() does it (Trainer.py and Tester.py apply --preset values first).
PARSERS = {
    "Trainer.py": parse_train_args,
    "Tester.py": parse_test_args,
    "val_PSNR.py": lambda argv: build_val_psnr_parser().parse_args(argv),
    "score.py": lambda argv: build_score_parser().parse_args(argv),
    "make_dataset.py": lambda argv: build_make_dataset_parser().parse_args(argv),
    "convert_checkpoint.py": lambda argv: build_convert_parser().parse_args(argv),
    "experiments.py": parse_experiments,
}


def bash_blocks(page):
    return re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def commands(page):
    """Every simple command of the page's bash blocks as a token list (continuations joined, comments
    dropped, `&&` chains split)."""
    found = []
    for block in bash_blocks(page):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while tokens:
                cut = tokens.index("&&") if "&&" in tokens else len(tokens)
                found.append(tokens[:cut])
                tokens = tokens[cut + 1:]
    return found


def script_calls(page):
    """(script name, its arguments) of every `python X.py ...` / `torchrun ... X.py ...` command."""
    calls = []
    for tokens in commands(page):
        scripts = [i for i, t in enumerate(tokens) if t.endswith(".py")]
        if scripts:
            calls.append((Path(tokens[scripts[0]]).name, tokens[scripts[0] + 1:]))
    return calls


def all_script_calls():
    return [(page.relative_to(REPO).as_posix(), name, args) for page in PAGES for name, args in script_calls(page)]


@pytest.mark.parametrize("page, script, argv", all_script_calls(),
                         ids=[f"{page}: {script} {shlex.join(argv)}"[:90] for page, script, argv in all_script_calls()])
def test_every_command_parses(page, script, argv, capsys):
    assert script in PARSERS, f"{page}: no parser known for {script} (add it to PARSERS)"
    try:
        PARSERS[script](argv)
    except SystemExit:
        pytest.fail(f"{page}: `{script} {shlex.join(argv)}` does not parse: {capsys.readouterr().err.strip()}")


def test_the_readme_names_the_commands_a_newcomer_needs():
    calls = {name for name, _ in script_calls(README)}
    assert {"Trainer.py", "Tester.py", "score.py", "val_PSNR.py", "experiments.py"} <= calls
    first = commands(README)[:3]
    assert first[0][:3] == ["python3", "-m", "venv"]
    assert first[2][:2] == [".venv/bin/python", "Trainer.py"] and "--preset" in first[2]
    real = [args for name, args in script_calls(README) if name == "Trainer.py" and "--DR" in args]
    assert real and all(args[args.index("--preset") + 1] == "lab4" for args in real)


def test_ci_runs_the_readme_test_command():
    readme_commands = [shlex.join(tokens) for tokens in commands(README)]
    assert TEST_COMMAND in readme_commands
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert TEST_COMMAND in ci


def test_the_readme_is_short():
    assert len(README.read_bytes()) <= README_MAX_BYTES


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_exists(page):
    targets = [t.split("#")[0] for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]
    missing = [t for t in targets if t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_the_readme_links_every_docs_page():
    linked = {(README.parent / t).resolve() for t in LINK.findall(README.read_text())}
    assert not [p.name for p in DOCS if p.resolve() not in linked]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_preset_named_exists(page):
    names = set(re.findall(r"--preset[ =]`?([A-Za-z0-9_]+)", page.read_text()))
    placeholders = {n for n in names if n.isupper()} | {"none"}  # `--preset P`, experiments.py's `none`
    assert names - placeholders <= set(PRESETS), f"{page.name}: unknown presets {names - placeholders - set(PRESETS)}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_docs_page_opens_with_a_three_line_summary(page):
    title, blank, *rest = page.read_text().splitlines()
    summary = rest[:rest.index("")] if "" in rest else rest
    assert title.startswith("# ") and blank == "" and 1 <= len(summary) <= 3, page.name


def test_the_lab4_preset_is_the_quick_starts_recipe_at_a_gpu_batch():
    lab4 = parse_train_args(["--preset", "lab4", "--DR", "LAB4_Dataset"])
    quick = parse_train_args(["--preset", "cpu_pyramid"])
    recipe = ("arch", "F_dim", "L_dim", "N_dim", "D_out_dim", "anchor_gap", "tfr", "kl_reduction",
              "kl_anneal_type", "lr", "milestones")
    assert {k: getattr(lab4, k) for k in recipe} == {k: getattr(quick, k) for k in recipe}
    assert lab4.batch_size == 8 and lab4.train_steps == 18_000 and lab4.DR == "LAB4_Dataset"
    assert parse_train_args(["--preset", "lab4", "--batch_size", "2"]).batch_size == 2  # flags still win
