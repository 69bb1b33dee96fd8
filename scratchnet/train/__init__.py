"""Training as a library: the loop behind ``scratchnet train``, without the command line.

    from scratchnet import models, train
    from scratchnet.data import pipeline

    config = train.resolve_config("lenet5", {"epochs": 2})
    train_set, held_out = pipeline.build(config["dataset"], (1, 32, 32))
    model = models.get_model("lenet5")
    trainer = train.Trainer(model, config, train_set, held_out,
                            callbacks=[train.Checkpointer("runs/demo", "lenet5")])
    history = trainer.fit()      # one record per epoch; nothing is printed

    recipes.py      RECIPES, resolve_config, the optimizer and schedule a config builds
    trainer.py      Trainer, Callback, evaluate
    checkpoint.py   Checkpointer (last.npz, best.npz), load_checkpoint, restore, load_model
    rundir.py       RunDirectory: the output folder, locked for one run
    data_parallel.py DataParallelSync: what the ranks of a data-parallel run agree on
    errors.py       what stops a run: TrainError, CheckpointError, DivergedError, ...
    logs.py         MetricsLog (OUT/metrics.jsonl), CurvesPlot (OUT/curves.png)
    curves.py       draw_curves, and the side process CurvesPlot draws in
    tensorboard.py  TensorBoardLog (event files: scalars, histograms, first-layer filters)
    finetune.py     read_weights, load_initial_weights, freeze (--init-from, --freeze)
"""
from .checkpoint import (Checkpointer, ThreadCountWarning, load_checkpoint, load_model,
                         restore, thread_count)
from .curves import draw_curves
from .data_parallel import DataParallelSync
from .errors import (CheckpointError, CheckpointWriteError, DivergedError, Interrupted,
                     TrainError)
from .finetune import freeze, load_initial_weights, read_weights
from .logs import CurvesPlot, MetricsLog
from .recipes import (ADAM_LR, DEFAULT_RECIPE, HYPER, OPTIMIZERS, RECIPES, SCHEDULERS,
                      make_optimizer, make_scheduler, resolve_config)
from .rundir import RunDirectory
from .tensorboard import TensorBoardLog, filter_grid
from .trainer import Callback, Trainer, evaluate

__all__ = ["ADAM_LR", "Callback", "CheckpointError", "CheckpointWriteError", "Checkpointer",
           "CurvesPlot", "DataParallelSync", "DEFAULT_RECIPE", "DivergedError", "HYPER",
           "Interrupted", "MetricsLog", "OPTIMIZERS", "RECIPES", "RunDirectory", "SCHEDULERS",
           "TensorBoardLog", "ThreadCountWarning", "Trainer", "TrainError", "draw_curves",
           "evaluate", "filter_grid", "freeze", "load_checkpoint", "load_initial_weights",
           "load_model", "make_optimizer", "make_scheduler", "read_weights", "resolve_config",
           "restore", "thread_count"]
