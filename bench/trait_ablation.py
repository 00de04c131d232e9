"""The default synthetic dataset with some of the course's traits switched off, to measure what each costs.

    python bench/trait_ablation.py --off edges crouch profile --out data/no_traits
    python Trainer.py --preset cpu_pyramid --DR data/no_traits --save_root runs/no_traits

``edges``: walks stay in the middle fifth of the width (no edge, no exit); ``crouch``: no crouching or
lunging moves; ``profile``: no moves turned towards profile (walking still turns him). The generator's
frequencies (modules/data/dance_video.py) are changed for this process and its workers only.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from modules.data import dance_video, synthetic  # noqa: E402

TRAITS = ("edges", "crouch", "profile")


def switch_off(traits):
    """Set the generator's frequencies of ``traits`` to zero (module globals, inherited by forked workers)."""
    if "edges" in traits:
        dance_video._walk_target = lambda rng: rng.uniform(0.4, 0.6)
    if "crouch" in traits:
        dance_video.LOW_MOVE_SHARE = 0.0
    if "profile" in traits:
        dance_video.TURNED_MOVE_SHARE = 0.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--off", nargs="+", choices=TRAITS, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    switch_off(args.off)
    root = synthetic.generate_dataset(args.out)
    print(f"wrote {root}: the default dataset without {', '.join(args.off)}")


if __name__ == "__main__":
    main()
