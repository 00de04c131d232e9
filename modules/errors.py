"""Errors caused by the user's input (files, folders, flags), as opposed to bugs.

CLIs catch :class:`UserInputError` and print its message without a traceback, then exit
non-zero. Library code raises it with a message that names the offending file or folder and
says what is wrong with it.
"""


class UserInputError(Exception):
    """Bad input from the user: a missing/corrupt file, an inconsistent dataset, a bad checkpoint."""


def exit_on_user_error(main):
    """Decorate a CLI ``main`` so that a :class:`UserInputError` becomes ``error: ...`` + exit 2."""
    import functools
    import sys

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserInputError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
