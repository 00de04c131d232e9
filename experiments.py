"""Reproduce the report's analysis in one command: teacher forcing and KL annealing ablations.

    python experiments.py                                   # the default set on the synthetic data
    python experiments.py --num_epoch 30 --device cuda --DR LAB4_Dataset --out experiments_real
    python experiments.py --setting 'tf_late=--tfr 1 --tfr_sde 4 --tfr_d_step 0.5' --config more.json
    python experiments.py --plot_only --out experiments_out  # redraw plots and table from the files
    python experiments.py --list                             # show the runs and their state

Any Trainer.py flag not listed below is a shared base flag for every run (after ``--preset``
and ``--seed``). Running the same command again trains nothing that is finished and resumes what
was interrupted.
"""
import argparse
import shlex
import sys

from modules.compare import write_comparison
from modules.errors import exit_on_user_error
from modules.runtime import configure_cpu
from modules.experiments import (DEFAULT_OUT, DEFAULT_PRESET, ExperimentInterrupted, base_flags, build_plan,
                                 parse_comparison, parse_setting, run_config, run_dir, run_experiment, run_status)


def build_parser():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Other flags (e.g. --num_epoch 30 --DR LAB4_Dataset --device cuda) are Trainer.py flags shared "
               "by every run.")
    parser.add_argument("--out", default=DEFAULT_OUT, help="experiment folder (default: %(default)s)")
    parser.add_argument("--preset", default=DEFAULT_PRESET,
                        help="Trainer.py preset of every run, or 'none' (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run (default: %(default)s)")
    parser.add_argument("--setting", action="append", default=[], metavar='NAME="--flag value ..."',
                        help="add (or replace) a run: Trainer flags on top of the base flags; repeatable")
    parser.add_argument("--config", action="append", default=[], metavar="FILE.json",
                        help='settings/comparisons file: {"settings": {"name": "--flag value"}, '
                             '"comparisons": {"name": ["run", ...]}}; repeatable')
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=run_a,run_b",
                        help="add a comparison (overlaid plots) of named runs; repeatable")
    parser.add_argument("--no_defaults", action="store_true",
                        help="run only the settings given by --setting/--config, not the default set")
    parser.add_argument("--plot_only", action="store_true",
                        help="only redraw plots and results.md of --out from its files")
    parser.add_argument("--list", action="store_true", help="print the runs, their flags and state, and exit")
    return parser


def print_plan(plan, out):
    print(f"base: {shlex.join(plan.base)}")
    for name, flags in plan.settings.items():
        print(f"  {name:16s} {run_status(run_config(plan.base, flags, run_dir(out, name))):7s} {shlex.join(flags)}")
    for name, members in plan.comparisons.items():
        print(f"comparison {name}: {', '.join(members)}")


@exit_on_user_error
def main(argv=None):
    args, trainer_flags = build_parser().parse_known_args(argv)
    if args.plot_only:
        paths = write_comparison(args.out)
        print(f"wrote {paths[0]} and {len(paths) - 1} plots")
        return
    base = base_flags(args.preset, args.seed, trainer_flags)
    plan = build_plan(base, defaults=not args.no_defaults, settings=[parse_setting(s) for s in args.setting],
                      config_files=args.config, comparisons=[parse_comparison(c) for c in args.compare])
    if args.list:
        print_plan(plan, args.out)
        return
    configure_cpu()  # the runs call training.fit directly: same thread/allocator settings as Trainer.py
    try:
        run_experiment(plan, args.out)
    except ExperimentInterrupted as err:
        print(f"\ninterrupted: {err}", file=sys.stderr)
        sys.exit(130)
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
