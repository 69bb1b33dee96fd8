"""Recipes: the hyper-parameters a model trains with, and the optimizer and schedule they build.

``resolve_config(model, overrides, saved)`` is the one place a run's settings are decided: the
model's recipe (or a resumed checkpoint's settings), overridden by what the caller gives.
"""
from ..optim import SGD, Adam, AdamW, lr_scheduler
from .errors import TrainError

RECIPES = {
    "lenet5": dict(dataset="mnist", epochs=10, batch_size=64, lr=0.05, weight_decay=5e-4,
                   warmup_epochs=0),
}
DEFAULT_RECIPE = dict(dataset="cifar10", epochs=30, batch_size=128, lr=0.1, momentum=0.9,
                      weight_decay=5e-4, optimizer="sgd", scheduler="cosine", warmup_epochs=1,
                      augment=True, resize=None, seed=0, init_from=None, freeze=[])
# settings added after checkpoints were first written: an older checkpoint gets these
LATER_SETTINGS = dict(init_from=None, freeze=[])
ADAM_LR = 1e-3          # the default lr when the optimizer is adam/adamw and no lr is given
HYPER = tuple(DEFAULT_RECIPE)
OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
SCHEDULERS = ("none", "step", "multistep", "cosine")


def option(key):
    """How the command line spells a setting: ``batch_size`` -> ``--batch-size``."""
    return "--" + key.replace("_", "-")


def resolve_config(model, overrides=None, saved=None):
    """The run's hyper-parameters (a dict with every key of ``HYPER``).

    model: the zoo name, whose recipe (``RECIPES``, over ``DEFAULT_RECIPE``) is the base.
    overrides: {key: value} for the settings the caller chose (None values are ignored).
    saved: a resumed checkpoint's config. A resumed run keeps its settings: an override that
        differs from it is a TrainError rather than a silently different schedule.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "freeze" in overrides:
        overrides["freeze"] = list(overrides["freeze"])
    unknown = sorted(set(overrides) - set(HYPER))
    if unknown:
        raise TrainError(f"unknown settings {unknown}; known: {', '.join(HYPER)}")
    if saved is not None:
        config = {**LATER_SETTINGS, **saved}
    else:
        config = {**DEFAULT_RECIPE, **RECIPES.get(model, {})}
        if "lr" not in overrides and overrides.get("optimizer", "sgd") != "sgd":
            config["lr"] = ADAM_LR
    for key, value in overrides.items():
        if saved is not None and value != config[key]:
            raise TrainError(f"{option(key)} {value} differs from the checkpoint's "
                             f"{config[key]}: a resumed run keeps the settings it started with")
        config[key] = value
    config["freeze"] = list(config["freeze"])
    for key in ("epochs", "batch_size"):
        if config[key] < 1:
            raise TrainError(f"{option(key)} must be at least 1, got {config[key]}")
    if saved is None and "warmup_epochs" not in overrides:
        # the recipe's warm-up gives way to a short run (--epochs 1) rather than refuse it
        config["warmup_epochs"] = min(config["warmup_epochs"], config["epochs"] - 1)
    if not 0 <= config["warmup_epochs"] < config["epochs"]:
        raise TrainError(f"--warmup-epochs must be in [0, epochs) = [0, {config['epochs']}), "
                         f"got {config['warmup_epochs']}")
    if not config["lr"] > 0:            # NaN too
        raise TrainError(f"--lr must be positive, got {config['lr']}")
    for key in ("momentum", "weight_decay", "seed"):
        if not config[key] >= 0:
            raise TrainError(f"{option(key)} must be at least 0, got {config[key]}")
    for key, known in (("optimizer", tuple(OPTIMIZERS)), ("scheduler", SCHEDULERS)):
        if config[key] not in known:
            raise TrainError(f"{option(key)} {config[key]!r} is not one of {', '.join(known)}")
    if config["resize"] is not None and config["resize"] < 1:
        raise TrainError(f"--resize must be at least 1, got {config['resize']}")
    return config


def make_optimizer(config, params):
    name, lr, wd = config["optimizer"], config["lr"], config["weight_decay"]
    if name == "sgd":
        return SGD(params, lr=lr, momentum=config["momentum"], weight_decay=wd)
    return OPTIMIZERS[name](params, lr=lr, weight_decay=wd)


def make_scheduler(config, optimizer):
    """Per-epoch schedule: an optional linear warm-up from lr/10 over ``warmup_epochs``, then
    the main schedule over the remaining epochs (step: x0.1 every third of them; multistep:
    x0.1 at 1/2 and 3/4; cosine: down to 0)."""
    warmup, rest = config["warmup_epochs"], config["epochs"] - config["warmup_epochs"]
    kind = config["scheduler"]
    main = None
    if kind == "step":
        main = lr_scheduler.StepLR(optimizer, step_size=max(1, rest // 3), gamma=0.1)
    elif kind == "multistep":
        main = lr_scheduler.MultiStepLR(optimizer, [rest // 2, rest * 3 // 4], gamma=0.1)
    elif kind == "cosine":
        main = lr_scheduler.CosineAnnealingLR(optimizer, T_max=rest)
    if warmup == 0:
        return main
    ramp = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup)
    return ramp if main is None else lr_scheduler.SequentialLR(optimizer, [ramp, main], [warmup])
