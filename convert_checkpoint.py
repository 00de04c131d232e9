"""Convert a checkpoint you trust into a tensors-only copy that loads safely (torch.load weights_only=True).

    python convert_checkpoint.py epoch=70.ckpt                 # writes epoch=70.safe.pt
    python convert_checkpoint.py old.pt runs/x/converted.pt

Trainer.py, Tester.py and val_PSNR.py refuse a checkpoint holding pickled Python objects (a saved
nn.Module, numpy numbers, a class instance): unpickling them could run code. This command does unpickle
SRC (weights_only=False): run it only on a file whose origin you trust, e.g. a course template checkpoint
you trained yourself. A module becomes its state_dict, numpy values become numbers/tensors, anything else
is left out and listed. See docs/testing.md.
"""
from modules.checkpoint import convert_trusted_checkpoint, converted_path
from modules.config import build_convert_parser
from pathlib import Path

from modules.errors import UserInputError, exit_on_user_error, require_file


@exit_on_user_error
def main(argv=None):
    args = build_convert_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    src = require_file(args.src, "checkpoint")
    dst = args.dst or converted_path(src)
    if Path(dst).resolve() == src.resolve():
        raise UserInputError(f"{dst} is the file to convert: write the copy to another file (e.g. "
                             f"{converted_path(src)}), so the original stays")
    dropped = convert_trusted_checkpoint(args.src, dst)
    for item in dropped:
        print(f"left out (not a tensor, number or string): {item}")
    print(f"wrote {dst}: tensors only, loads with weights_only=True; use --ckpt_path {dst}")
    return dst


if __name__ == "__main__":
    main()
