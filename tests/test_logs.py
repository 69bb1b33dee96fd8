"""What a run leaves besides checkpoints: OUT/metrics.jsonl, OUT/curves.png and TensorBoard
event files (read back with TensorBoard's own EventAccumulator), and the SummaryWriter."""
import json
import os
import sys

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import nn
from scratchnet.cli import main
from scratchnet.data import pipeline
from scratchnet.models import get_model
from scratchnet.train import (Callback, CurvesPlot, Interrupted, MetricsLog, TensorBoardLog,
                              Trainer, draw_curves, filter_grid, resolve_config)

SMOKE = ["--dataset", "synthetic", "--no-progress", "--batch-size", "256"]


def _accumulator(log_dir):
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(log_dir), size_guidance={
        event_accumulator.SCALARS: 0, event_accumulator.HISTOGRAMS: 0,
        event_accumulator.IMAGES: 0})
    acc.Reload()
    return acc


def _trainer(callbacks, epochs=2):
    sn.manual_seed(0)
    train_set, held_out = pipeline.build("synthetic", (1, 32, 32), augment=False)
    config = resolve_config("lenet5", {"dataset": "synthetic", "epochs": epochs,
                                       "batch_size": 256})
    return Trainer(get_model("lenet5"), config, train_set, held_out, callbacks=callbacks)


def test_metrics_jsonl_has_a_line_per_epoch(tmp_path):
    trainer = _trainer([MetricsLog(tmp_path / "metrics.jsonl")])
    history = trainer.fit()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2]
    for line, record in zip(lines, history):
        assert {k: line[k] for k in record} == record
        assert line["img_per_s"] == pytest.approx(record["images"] / record["seconds"])
        assert line["wall_seconds"] >= record["seconds"] and line["time"] > 1.7e9
        assert "test_top5" in line and "lr" in line


def test_a_resumed_run_keeps_the_lines_of_its_checkpoint_only(tmp_path):
    path = tmp_path / "metrics.jsonl"
    first = _trainer([MetricsLog(path)], epochs=3)
    first.fit()
    state = first.state_dict()
    stale = path.read_text()
    resumed = _trainer([MetricsLog(path)], epochs=3)
    resumed.load_state_dict(state)
    resumed.history, resumed.epoch = resumed.history[:1], 1   # as if saved after epoch 1
    resumed.fit()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    assert lines[0] == json.loads(stale.splitlines()[0])      # epoch 1's line, kept whole


def test_curves_png_after_each_epoch(tmp_path):
    pytest.importorskip("matplotlib")
    seen = []

    class Look(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(os.path.exists(tmp_path / "curves.png"))
    curves = CurvesPlot(tmp_path / "curves.png", "lenet5 on synthetic:")
    _trainer([curves, Look()]).fit()
    png = (tmp_path / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert curves.error is None and sorted(os.listdir(tmp_path)) == ["curves.png"]


def test_curves_wait_for_their_last_drawing_when_stopped(tmp_path):
    pytest.importorskip("matplotlib")

    class StopInEpoch2(Callback):
        def on_batch_end(self, trainer, record):
            if record["epoch"] == 2:
                trainer.request_stop()
    trainer = _trainer([CurvesPlot(tmp_path / "curves.png"), StopInEpoch2()])
    with pytest.raises(Interrupted):
        trainer.fit()
    assert (tmp_path / "curves.png").stat().st_size > 10_000     # epoch 1, drawn and whole


def test_draw_curves_needs_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError):
        draw_curves([{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5}], tmp_path / "c.png")


def test_curves_without_matplotlib_do_nothing_and_say_why(tmp_path, monkeypatch, capsys):
    import scratchnet.train.logs as logs
    monkeypatch.setattr(logs.importlib.util, "find_spec", lambda name: None)
    assert main(["train", "lenet5", *SMOKE, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert "no curves.png: matplotlib is not installed (pip install matplotlib)" in \
        capsys.readouterr().out
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz", "metrics.jsonl"]


def test_cli_writes_metrics_curves_and_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    assert main(["train", "lenet5", *SMOKE, "--epochs", "2", "--tensorboard",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "1 epoch," not in out and "2 epochs" in out
    assert f"logs in {tmp_path}: metrics.jsonl" in out and "TensorBoard in tb/" in out
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    acc = _accumulator(tmp_path / "tb")
    tags = acc.Tags()
    history = sn.load(tmp_path / "last.npz")["history"]
    steps = acc.Scalars("step/loss")
    assert [s.step for s in steps] == [1, 2, 3, 4]               # 512 images, batch 256
    epoch_acc = acc.Scalars("epoch/test_acc")
    assert [(e.step, e.value) for e in epoch_acc] == \
        [(r["epoch"], pytest.approx(r["test_acc"])) for r in history]
    assert {"epoch/train_loss", "epoch/test_top5", "epoch/lr", "epoch/img_per_s",
            "step/accuracy", "step/lr"} <= set(tags["scalars"])
    model = get_model("lenet5")
    names = [name for name, _ in model.named_parameters()]
    assert set(tags["histograms"]) == {f"{kind}/{n}" for n in names
                                       for kind in ("weights", "grads")}
    weights = sn.load(tmp_path / "last.npz")["model"]["features.c1.weight"]
    hist = acc.Histograms("weights/features.c1.weight")[-1].histogram_value
    assert hist.num == weights.size
    assert hist.min == pytest.approx(weights.min()) and hist.max == pytest.approx(weights.max())
    assert hist.sum == pytest.approx(weights.sum(), abs=1e-4)
    (image,) = [t for t in tags["images"]]
    assert image == "filters/features.c1"
    shown = acc.Images(image)
    assert [i.step for i in shown] == [1, 2]
    assert (shown[-1].height, shown[-1].width) == (13, 19)       # 6 filters 5x5: 3 a row


def test_filter_grid_lays_filters_out_scaled_one_by_one():
    w = np.stack([np.full((3, 2, 2), k, np.float32) for k in range(5)])
    w[:, :, 0, 0] = -1                                             # each filter spans [-1, k]
    grid = filter_grid(w, padding=1)
    assert grid.shape == (3, 7, 10)                                # 3 per row, 2 rows
    assert grid[:, 1, 1].tolist() == [0, 0, 0]                     # a filter's minimum: black
    assert grid[:, 2, 5].tolist() == [1, 1, 1]                     # filter 1's maximum: white
    assert grid[:, 0, :].max() == 0 and grid[:, 4:, 7:].max() == 0  # gaps, and no 6th filter
    assert filter_grid(np.ones((4, 16, 3, 3))).shape == (1, 9, 9)  # not RGB: first channel


def test_summary_writer_with_torch_names(tmp_path):
    pytest.importorskip("tensorboardX")
    from scratchnet.utils.tensorboard import SummaryWriter
    weights = sn.tensor(np.linspace(-1, 1, 101).astype(np.float32))
    with SummaryWriter(str(tmp_path)) as writer:
        for step in range(3):
            writer.add_scalar("loss", sn.tensor(1.0 / (step + 1)), step)
        writer.add_histogram("w", weights, 7)
        writer.add_image("grid", np.zeros((3, 4, 5)), 1)
        writer.add_image("hwc", np.zeros((4, 5, 3), np.uint8), 1, dataformats="HWC")
        writer.flush()
    assert writer.get_logdir() == str(tmp_path)
    acc = _accumulator(tmp_path)
    assert [(s.step, round(s.value, 6)) for s in acc.Scalars("loss")] == \
        [(0, 1.0), (1, 0.5), (2, 0.333333)]
    hist = acc.Histograms("w")[0]
    assert hist.step == 7 and hist.histogram_value.num == 101
    assert (acc.Images("hwc")[0].height, acc.Images("hwc")[0].width) == (4, 5)


def test_summary_writer_without_tensorboardx_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    from scratchnet.utils.tensorboard import SummaryWriter
    with pytest.raises(ImportError, match=r"pip install 'scratchnet\[tensorboard\]'"):
        SummaryWriter(str(tmp_path))


def test_tensorboard_log_on_a_model_without_convolutions(tmp_path):
    pytest.importorskip("tensorboardX")
    log = TensorBoardLog(str(tmp_path))

    class Tiny:
        model = nn.Sequential(nn.Linear(2, 2))
        epoch, batch, loader = 0, 0, [0]
    log.on_fit_start(Tiny())
    log.on_epoch_end(Tiny(), dict(epoch=1, train_loss=1.0, train_acc=0.5, lr=0.1,
                                  seconds=1.0, images=10))
    log.close()
    acc = _accumulator(tmp_path)
    assert acc.Tags()["images"] == [] and acc.Scalars("epoch/img_per_s")[0].value == 10
