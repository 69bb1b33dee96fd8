"""DistributedSampler: each rank's share of a data set's indices (torch.utils.data's; also
``scratchnet.data.DistributedSampler``).

Every rank draws the same permutation of the data set for an epoch (the same ``seed`` on all
of them, and ``set_epoch`` called with the same epoch), pads it with its own first indices to
a multiple of the number of replicas (or, with ``drop_last``, cuts the tail), and takes every
``num_replicas``-th index from ``rank`` on:

    permutation   7 2 9 0 5 | 3 8 1 6 4        (10 samples, 3 replicas: padded to 12 with 7 2)
    rank 0        7 . . 0 . . 8 . . 4 .        -> 7 0 8 4
    rank 1        . 2 . . 5 . . 1 . . 7        -> 2 5 1 7
    rank 2        . . 9 . . 3 . . 6 . . 2      -> 9 3 6 2

With a per-rank batch of b, batch k of the ranks together is the permutation's slice
[k·b·R, (k+1)·b·R): the samples one process with batch b·R would take as its batch k.
"""
import math
import numbers

import numpy as np

from .sampler import Sampler


class DistributedSampler(Sampler):
    """Indices of ``dataset`` for replica ``rank`` of ``num_replicas`` (default: the default
    process group's rank and world size), for a DataLoader's ``sampler=``.

    shuffle: a new permutation each epoch, ``default_rng([seed, epoch]).permutation(n)``: the
    order ``scratchnet.data.DataLoader(shuffle=True, seed=seed)`` serves (its sampler is this
    one with one replica), so one replica reproduces a single-process run. drop_last: cut
    the tail that does not divide evenly instead of padding it. Call ``set_epoch(epoch)``
    before each epoch (``scratchnet.data.DataLoader`` does it for its sampler).
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed
            num_replicas = distributed.get_world_size() if num_replicas is None \
                else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) \
            if self.shuffle else np.arange(n)
        if self.total_size > n:                     # pad by repeating the order from its start
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def rank_seed(self, seed):
        """A seed for this rank's random augmentations: ``seed`` itself on rank 0 (so one
        replica repeats a single-process run), one stream per rank on the others (so the
        ranks do not shift their images alike)."""
        if self.rank == 0:
            return int(seed)
        return int(np.random.SeedSequence([int(seed), self.rank]).generate_state(
            1, np.uint64)[0] >> 1)
