"""`scratchnet train` under mpiexec whose rank 1 fails at its third batch: ``bug`` raises a
ValueError (an exception nothing catches), ``diverge`` a DivergedError (which the command
turns into one line and exit status 1). Arguments: OUT_DIR MODE, then the train options."""
import os
import sys

from scratchnet.cli import main
from scratchnet.train import DivergedError, trainer

if os.environ.get("PMI_RANK") == "1":
    step = trainer.Trainer._step

    def failing_step(self, x, y):
        if self.batch == 2:
            if sys.argv[2] == "bug":
                raise ValueError("rank 1's batch is broken")
            raise DivergedError("the training loss is nan at epoch 1, batch 3", 1, 3)
        return step(self, x, y)
    trainer.Trainer._step = failing_step

sys.exit(main(["train", *sys.argv[3:]]))
