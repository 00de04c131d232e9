"""Errors caused by the user's input (files, folders, flags), as opposed to bugs.

CLIs catch :class:`UserInputError` and print its message without a traceback, then exit
non-zero. Library code raises it with a message that names the offending file or folder and
says what is wrong with it.
"""


class UserInputError(Exception):
    """Bad input from the user: a missing/corrupt file, an inconsistent dataset, a bad checkpoint."""


def require_file(path, what="file"):
    """``path`` as a Path if it is a readable file; else a UserInputError that says whether it is
    missing or a folder (``what`` names it: "checkpoint", "submission", ...)."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise UserInputError(f"{what} {path} is a folder, not a file")
    if not path.is_file():
        raise UserInputError(f"{what} {path} does not exist")
    return path


INTERRUPTED_EXIT_CODE = 130  # the shell's code for SIGINT: ``Trainer.py ... && Tester.py ...`` stops


def exit_on_user_error(main):
    """Decorate a CLI ``main`` so that a :class:`UserInputError` becomes ``error: ...`` + exit 2 and
    Ctrl-C (after whatever the CLI saves on its way out) exit 130, so a chained command stops."""
    import functools
    import sys

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserInputError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(INTERRUPTED_EXIT_CODE)

    return wrapper
