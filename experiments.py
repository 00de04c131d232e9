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
import shlex
import sys

from modules.config import build_experiments_parser
from modules.errors import exit_on_user_error


def print_plan(plan, out):
    from modules.ablation.layout import run_dir
    from modules.ablation.runner import run_config, run_status

    print(f"base: {shlex.join(plan.base)}")
    for name, flags in plan.settings.items():
        print(f"  {name:16s} {run_status(run_config(plan.base, flags, run_dir(out, name))):7s} {shlex.join(flags)}")
    for name, members in plan.comparisons.items():
        print(f"comparison {name}: {', '.join(members)}")


@exit_on_user_error
def main(argv=None):
    args, trainer_flags = build_experiments_parser(__doc__.split("\n")[0]).parse_known_args(argv)
    if args.plot_only:  # reads files only: no torch, no training loop
        from modules.ablation.compare import write_comparison
        paths = write_comparison(args.out)
        print(f"wrote {paths[0]} and {len(paths) - 1} plots")
        return
    from modules.ablation.runner import (ExperimentInterrupted, base_flags, build_plan, parse_comparison,
                                         parse_setting, run_experiment)
    from modules.runtime import configure_cpu
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
