"""The ``<out>.partial`` folder a dataset is written into before it is renamed to ``<out>``.

A killed ``make_dataset.py`` leaves one behind; the next run removes it, but only when it holds
nothing but what a dataset writer puts there (the split folders, the record files, atomic writes'
temporary files): a folder of the user's that happens to have the name is refused, never deleted.
"""
import fnmatch
import shutil
from pathlib import Path

from ..errors import UserInputError
from ..io import temp_name_pattern

WRITTEN = ("train", "val", "test", ".lab4_synthetic.json", ".lab4_import.json", temp_name_pattern())


def partial_folder(out):
    """``<out>.partial``, emptied of a killed run's leftovers; a UserInputError when it holds other files."""
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    if not tmp.exists():
        return tmp
    foreign = sorted(p.name for p in tmp.iterdir() if not any(fnmatch.fnmatch(p.name, w) for w in WRITTEN))
    if not tmp.is_dir() or foreign:
        shown = ", ".join(foreign[:4]) + (" ..." if len(foreign) > 4 else "")
        raise UserInputError(f"{tmp} exists and is not a dataset left half-written by make_dataset.py "
                             f"({shown or 'a file'}): move it away or choose another --out (its files were kept)")
    shutil.rmtree(tmp)
    return tmp
