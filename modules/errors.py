"""Errors caused by the user's input (files, folders, flags), as opposed to bugs.

CLIs catch :class:`UserInputError` and print its message without a traceback, then exit
non-zero. Library code raises it with a message that names the offending file or folder and
says what is wrong with it.
"""


class UserInputError(Exception):
    """Bad input from the user: a missing/corrupt file, an inconsistent dataset, a bad checkpoint."""


def require_file(path, what="file"):
    """``path`` as a Path if it is a regular file; else a UserInputError that says what it is instead:
    missing, a folder, a FIFO or a device (``what`` names it: "checkpoint", "submission", ...)."""
    import stat
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{what} {path} is a folder, not a file")
    if path.is_file():
        return path
    if path.is_symlink() and not path.exists():
        raise UserInputError(f"{what} {path} is a symbolic link to {path.readlink()}, which does not exist")
    if not path.exists():
        raise UserInputError(f"{what} {path} does not exist")
    mode = path.stat().st_mode
    kind = next((name for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                                         (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
                 if test(mode)), "not a file")
    raise UserInputError(f"{what} {path} is not a regular file ({kind})")


INTERRUPTED_EXIT_CODE = 130  # the shell's code for SIGINT: ``Trainer.py ... && Tester.py ...`` stops


def exit_code_of(interrupt):
    """128 + the signal number, as the shell reports a process the signal killed: 130 for Ctrl-C
    (SIGINT), 143 for SIGTERM (modules.signals)."""
    from .signals import signal_of
    return 128 + int(signal_of(interrupt))


def exit_on_user_error(main):
    """Decorate a CLI ``main`` so that a :class:`UserInputError` becomes ``error: ...`` + exit 2, and
    Ctrl-C or SIGTERM (modules.signals; after whatever the CLI saves on its way out) exit 130 or 143
    with one line, so a chained command stops."""
    import functools
    import sys

    from .signals import stop_signals_raise

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            with stop_signals_raise():
                return main(*args, **kwargs)
        except UserInputError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt as interrupt:
            code = exit_code_of(interrupt)
            print("interrupted" if code == INTERRUPTED_EXIT_CODE else f"stopped by {interrupt}", file=sys.stderr)
            sys.exit(code)

    return wrapper
