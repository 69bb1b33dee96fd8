"""`scratchnet train` / `eval`: resume equals uninterrupted, Ctrl-C leaves a whole checkpoint,
smoke runs on synthetic data, a short LeNet-5 run on the bundled digits, and user errors."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import io, nn
from scratchnet.data import pipeline
from scratchnet.models import default_input_size, get_model
from scratchnet.cli import build_parser, main
from scratchnet.cli.train import prepare
from scratchnet.train import (DEFAULT_RECIPE, Callback, Checkpointer, Interrupted, Trainer,
                              TrainError, load_checkpoint, resolve_config, restore)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = ["--dataset", "synthetic", "--no-progress", "--no-curves", "--batch-size", "128"]


def _train(tmp, *extra):
    return main(["train", "lenet5", *SMOKE, "--out", str(tmp), *extra])


def _model_arrays(path):
    return io.strip_prefix(io.load(path), "model.")


def _assert_same_tree(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            _assert_same_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tree(x, y, f"{where}.{i}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    else:
        assert a == b, where


def _assert_same_checkpoint(a, b):
    ca, cb = io.load(a), io.load(b)
    assert list(ca) == list(cb)
    for key in ca:
        np.testing.assert_array_equal(ca[key], cb[key], err_msg=key)
    ca, cb = sn.load(a), sn.load(b)
    for key in ("epoch", "batch", "scheduler", "optimizer", "rng"):
        _assert_same_tree(ca[key], cb[key], key)
    untimed = [[{k: v for k, v in r.items() if k != "seconds"} for r in c["history"]]
               for c in (ca, cb)]
    assert untimed[0] == untimed[1]


@pytest.mark.parametrize("extra", [[], ["--optimizer", "adamw", "--scheduler", "step",
                                        "--warmup-epochs", "1"]])
def test_resume_mid_epoch_equals_uninterrupted(tmp_path, extra):
    assert _train(tmp_path / "full", "--epochs", "2", *extra) == 0

    args = build_parser().parse_args(["train", "lenet5", *SMOKE, "--epochs", "2",
                                      "--out", str(tmp_path / "cut"), *extra])
    trainer = prepare(args)
    calls = []

    def stop_after_six_batches(module, inputs, output):
        if module.training:
            calls.append(1)
            if len(calls) == 6:          # epoch 2 (4 batches of 128 per epoch), batch 2
                trainer.request_stop()
    trainer.model.register_forward_hook(stop_after_six_batches)
    with pytest.raises(Interrupted):
        trainer.fit()
    ckpt = sn.load(tmp_path / "cut" / "last.npz")
    assert (ckpt["epoch"], ckpt["batch"]) == (1, 2)

    assert _train(tmp_path / "cut", "--epochs", "2", *extra,
                  "--resume", str(tmp_path / "cut" / "last.npz")) == 0
    _assert_same_checkpoint(tmp_path / "full" / "last.npz", tmp_path / "cut" / "last.npz")


def _dropout_run(out, stop_after=None, resume=False):
    sn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 32), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(32, 10))
    train_set, held_out = pipeline.build("synthetic", (1, 28, 28), augment=False)
    config = {**DEFAULT_RECIPE, "dataset": "synthetic", "epochs": 2, "batch_size": 128,
              "warmup_epochs": 0}
    trainer = Trainer(model, config, train_set, held_out, callbacks=[Checkpointer(out, "mlp")])
    if resume:
        path = str(out / "last.npz")
        restore(trainer, load_checkpoint(path), path)
    if stop_after is not None:
        calls = []

        def stop(module, inputs, output):
            if module.training:
                calls.append(1)
                if len(calls) == stop_after:
                    trainer.request_stop()
        model.register_forward_hook(stop)
        with pytest.raises(Interrupted):
            trainer.fit()
    else:
        trainer.fit()


def test_resume_restores_the_dropout_random_state(tmp_path):
    _dropout_run(tmp_path / "full")
    _dropout_run(tmp_path / "cut", stop_after=3)
    _dropout_run(tmp_path / "cut", resume=True)
    _assert_same_checkpoint(tmp_path / "full" / "last.npz", tmp_path / "cut" / "last.npz")


class _Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_fit_start(self, trainer):
        self.events.append(("fit_start",))

    def on_epoch_start(self, trainer):
        self.events.append(("epoch_start", trainer.epoch, trainer.batch))

    def on_batch_end(self, trainer, record):
        self.events.append(("batch_end", record))

    def on_epoch_end(self, trainer, record):
        self.events.append(("epoch_end", record))

    def on_stop(self, trainer):
        self.events.append(("stop", trainer.epoch, trainer.batch))

    def on_fit_end(self, trainer):
        self.events.append(("fit_end",))


def test_trainer_reports_through_callbacks_and_prints_nothing(tmp_path, capfd):
    sn.manual_seed(0)
    train_set, held_out = pipeline.build("synthetic", (1, 32, 32), augment=False)
    config = resolve_config("lenet5", {"dataset": "synthetic", "epochs": 2, "batch_size": 256})
    recorder = _Recorder()
    trainer = Trainer(get_model("lenet5"), config, train_set, held_out,
                      callbacks=[recorder, Checkpointer(tmp_path, "lenet5")])
    history = trainer.fit()
    captured = capfd.readouterr()          # file descriptors 1 and 2: tqdm included
    assert captured.out == "" and captured.err == ""

    kinds = [e[0] for e in recorder.events]
    assert kinds == ["fit_start", "epoch_start", "batch_end", "batch_end", "epoch_end",
                     "epoch_start", "batch_end", "batch_end", "epoch_end", "fit_end"]
    batches = [e[1] for e in recorder.events if e[0] == "batch_end"]
    assert [(b["epoch"], b["batch"], b["batches"], b["step"]) for b in batches] == \
        [(1, 1, 2, 1), (1, 2, 2, 2), (2, 1, 2, 3), (2, 2, 2, 4)]
    assert [b["images"] for b in batches] == [256, 256, 256, 256]
    assert batches[1]["train_images"] == 512
    assert batches[1]["train_loss"] == pytest.approx((batches[0]["loss"] + batches[1]["loss"]) / 2)
    epochs = [e[1] for e in recorder.events if e[0] == "epoch_end"]
    assert epochs == history and [r["epoch"] for r in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                               "test_top5", "lr", "seconds", "images"}   # top-5: 10 classes
    assert all(r["test_acc"] <= r["test_top5"] <= 1 for r in history)
    assert history[0]["train_loss"] == pytest.approx(np.mean([b["loss"] for b in batches[:2]]))
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz"]


def start_long_run(out):
    """`scratchnet train lenet5` for 100 epochs of synthetic data in a child process."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "scratchnet", "train", "lenet5", "--dataset", "synthetic",
         "--epochs", "100", "--batch-size", "32", "--no-curves", "--out", str(out)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_inside_epoch_2(proc, out):
    deadline = time.monotonic() + 120
    while not (out / "last.npz").exists():     # written after the first epoch
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.1)
    time.sleep(0.5)                            # now somewhere inside epoch 2


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                            (signal.SIGHUP, 129)])
def test_a_signal_leaves_a_complete_checkpoint(tmp_path, signum, status):
    """Ctrl-C, `kill` and a closed terminal alike: save after the batch, exit 128 + n."""
    out = tmp_path / "run"
    proc = start_long_run(out)
    try:
        wait_inside_epoch_2(proc, out)
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert "Traceback" not in stderr
    assert f"resume with: scratchnet train lenet5 --resume {out / 'last.npz'}" in stdout
    assert sorted(os.listdir(out)) == ["best.npz", "last.npz", "metrics.jsonl"], \
        "a temporary file was left"
    ckpt = sn.load(out / "last.npz")
    assert ckpt["epoch"] >= 1 and len(ckpt["history"]) == ckpt["epoch"]
    ckpt = io.load(out / "last.npz")
    model = get_model("lenet5")
    model.load_state_dict(io.strip_prefix(ckpt, "model."))
    momentum = [k for k in ckpt if k.startswith("optimizer.state.")]
    assert len(momentum) == len(list(model.parameters()))


def test_cli_smoke_and_eval(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "2", "--optimizer", "adam", "--lr", "0.003",
                  "--scheduler", "multistep", "--no-augment", "--seed", "3",
                  "--batch-size", "64") == 0
    out = capsys.readouterr().out
    assert "training lenet5 (61,706 parameters) on synthetic" in out
    assert "adam lr 0.003, batch 64, 2 epochs, schedule multistep" in out and "seed 3" in out
    assert out.count("held-out loss") == 2 and "epoch 2/2" in out
    assert "done in" in out
    final = sn.load(tmp_path / "last.npz")["history"][-1]["test_acc"]
    assert final > 0.9, "adam did not learn the synthetic classes"
    assert main(["eval", str(tmp_path / "last.npz")]) == 0
    report = capsys.readouterr().out
    assert f"accuracy {final:.2%}" in report
    assert "class  precision  recall  images\n0 " in report


@pytest.fixture
def thread_count_restored():
    before = sn.get_num_threads()
    yield
    sn.set_num_threads(before)


def test_threads_option_sets_the_thread_count_of_train_and_eval(tmp_path, thread_count_restored):
    other = 2 if sn.get_num_threads() == 1 else 1
    assert _train(tmp_path, "--epochs", "1", "--threads", str(other)) == 0
    assert sn.get_num_threads() == other
    assert sn.load(tmp_path / "last.npz")["threads"] == other     # what the run ran with
    assert main(["eval", str(tmp_path / "last.npz"), "--threads", "3"]) == 0
    assert sn.get_num_threads() == 3


@pytest.mark.parametrize("command", ["train lenet5", "eval nothing.npz"])
def test_threads_below_one_is_refused(command, capsys, thread_count_restored):
    err = _error(capsys, [*command.split(), "--threads", "0"])
    assert "--threads must be at least 1, got 0" in err


def test_lenet5_on_bundled_mnist_one_epoch(tmp_path):
    # one epoch (125 steps) of Adam: 94.9% when measured; the default 10-epoch SGD recipe's
    # figure belongs to the README, not to CI
    assert main(["train", "lenet5", "--epochs", "1", "--optimizer", "adam", "--lr", "0.003",
                 "--batch-size", "32", "--no-augment", "--no-progress",
                 "--out", str(tmp_path)]) == 0
    history = sn.load(tmp_path / "last.npz")["history"]
    assert history[0]["test_acc"] >= 0.90


def _error(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in captured.err
    return captured.err


def test_unknown_model_lists_the_known_ones(capsys):
    err = _error(capsys, ["train", "lenet6"])
    assert "unknown model 'lenet6'; known models: lenet5, alexnet" in err


def test_unknown_dataset_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "lenet5", "--dataset", "imagenet"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --dataset: invalid choice: 'imagenet' (choose from " in err
    assert all(name in err.splitlines()[-1] for name in ("mnist", "cifar10", "synthetic"))


def test_data_dir_without_the_files(tmp_path, capsys):
    err = _error(capsys, ["train", "lenet5", "--data-dir", str(tmp_path)])
    assert f"MNIST: no train-images-idx3-ubyte (or train-images-idx3-ubyte.gz) in " \
           f"{tmp_path}" in err
    err = _error(capsys, ["train", "resnet20", "--dataset", "cifar10"])
    assert "cifar10 is not bundled" in err and "--data-dir DIR" in err


def test_batch_size_zero(capsys):
    err = _error(capsys, ["train", "lenet5", "--batch-size", "0"])
    assert "--batch-size must be at least 1, got 0" in err


def test_model_larger_than_the_data_names_both_sizes(capsys):
    c, h, w = default_input_size("alexnet")
    err = _error(capsys, ["train", "alexnet", "--dataset", "mnist"])
    assert f"expects {c}x{h}x{w} input but mnist images are 1x28x28; pass --resize {h}" in err


def test_checkpoint_of_another_model_or_truncated(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1") == 0
    capsys.readouterr()
    path = str(tmp_path / "last.npz")
    err = _error(capsys, ["train", "resnet20", "--resume", path])
    assert f"{path} is a checkpoint of lenet5, not resnet20" in err
    err = _error(capsys, ["train", "lenet5", "--resume", path, "--lr", "0.5"])
    assert "--lr 0.5 differs from the checkpoint's 0.05" in err
    data = open(path, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[:len(data) // 2])
    err = _error(capsys, ["eval", str(truncated)])
    assert "truncated.npz" in err
    plain = tmp_path / "weights.npz"
    io.save({"w": np.zeros(3)}, plain)
    err = _error(capsys, ["train", "lenet5", "--resume", str(plain)])
    assert "is not a checkpoint written by `scratchnet train`" in err


def test_recipe_warmup_gives_way_to_a_one_epoch_run():
    """resnet20's recipe warms up for 1 epoch: `--epochs 1` alone drops the warm-up, while an
    explicit `--warmup-epochs 1` with it is refused."""
    assert resolve_config("resnet20", {"epochs": 1})["warmup_epochs"] == 0
    with pytest.raises(TrainError, match=r"--warmup-epochs must be in \[0, epochs\)"):
        resolve_config("resnet20", {"epochs": 1, "warmup_epochs": 1})
