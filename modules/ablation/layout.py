"""Where an experiment keeps its files, and the plan it runs: shared by the runner and the
comparison, which reads files only (so ``experiments.py --plot_only`` needs neither torch nor the
training loop)."""
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import UserInputError
from ..io import write_json

PLAN_FILE = "experiment.json"
EVAL_FILE = "best_eval.json"
FAILED_FILE = "failed.json"
RUNS_DIR = "runs"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Plan:
    """What an experiment trains: ``settings`` maps a run name to its Trainer flags (applied after
    ``base``); ``comparisons`` maps a comparison name to the run names it overlays."""

    base: list
    settings: dict
    comparisons: dict = field(default_factory=dict)

    def save(self, out):
        path = Path(out) / PLAN_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_json(path, asdict(self))

    @classmethod
    def load(cls, out):
        path = Path(out) / PLAN_FILE
        if not path.is_file():
            raise UserInputError(f"{path} does not exist: run the experiment into {out} first")
        data = json.loads(path.read_text())
        return cls(base=data["base"], settings=data["settings"], comparisons=data.get("comparisons", {}))


def check_name(name, what="setting"):
    if not _NAME.match(name):
        raise UserInputError(f"{what} name {name!r}: use letters, digits, '_', '.', '-' (it names a folder)")
    return name


def run_dir(out, name):
    return Path(out) / RUNS_DIR / name
