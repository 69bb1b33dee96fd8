"""``--threads N``, shared by ``scratchnet train`` and ``scratchnet eval``: the thread count of
scratchnet's CPU work (``sn.set_num_threads``: the kernels, conv's workers, large products;
BLAS stays on one thread inside each). Without it: the CPUs this process may run on, or
under ``mpiexec`` this process's share of them (data_parallel.py)."""
from ..kernels import set_num_threads
from .errors import CommandError


def add_argument(parser):
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads (as torch.set_num_threads; default: the CPUs this "
                             "process may use, or its share of them under mpiexec)")


def apply(args):
    """Set the thread count ``--threads`` asks for (nothing when it is left out)."""
    if args.threads is None:
        return
    if args.threads < 1:
        raise CommandError(f"--threads must be at least 1, got {args.threads}")
    set_num_threads(args.threads)
