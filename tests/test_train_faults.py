"""Nothing a user trains is lost: each data layout end to end, every model family on each data
set's images, diverging runs, signals, write failures, damaged and edited checkpoints, the run
folder's lock, a changed data folder on resume, determinism and the thread count. (Single
signals: tests/test_train.py.)"""
import io as stdio
import json
import os
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import io, nn
from scratchnet.cli import build_parser, main
from scratchnet.cli.train import prepare
from scratchnet.data import ImageDataset, pipeline
from scratchnet.models import default_input_size, get_model
from scratchnet.train import (Callback, CheckpointError, Checkpointer, DivergedError,
                              Interrupted, RunDirectory, Trainer, load_checkpoint,
                              resolve_config, restore, thread_count)
from tests.data.files import write_cifar10, write_mnist
from tests.test_train import (_assert_same_checkpoint, _assert_same_tree, start_long_run,
                              wait_inside_epoch_2)

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--dataset", "synthetic", "--no-progress", "--no-curves"]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _cli(*argv, **kwargs):
    """`python -m scratchnet ARGV` in a child process."""
    return subprocess.run([sys.executable, "-m", "scratchnet", *map(str, argv)],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300,
                          check=False, **kwargs)


def _one_line(stderr):
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


class _StopAfterEpoch(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            trainer.request_stop()


def _stopped_after_epoch_1(out, *extra):
    """A 2-epoch run into ``out`` stopped after its first epoch: OUT/last.npz at epoch 1."""
    args = build_parser().parse_args(["train", "lenet5", *SMOKE, "--epochs", "2",
                                      "--batch-size", "256", "--out", str(out), *extra])
    trainer = prepare(args, callbacks=[_StopAfterEpoch(1)])
    with pytest.raises(Interrupted):
        trainer.fit()
    return out / "last.npz"


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory):
    """The layouts `--data-dir` reads, written small: CIFAR-10's binary batches (5 x 4
    training images, 4 test), the four MNIST IDX files plain and gzipped (16 training, 8
    test), and torchvision's MNIST/raw."""
    root = tmp_path_factory.mktemp("data")
    write_cifar10(str(root / "cifar" / "cifar-10-batches-bin"), n=4)
    dirs = {"cifar": root / "cifar", "idx": root / "idx", "idx_gz": root / "idx_gz",
            "torchvision": root / "torchvision"}
    for key, directory, gz in (("idx", dirs["idx"], False), ("idx_gz", dirs["idx_gz"], True),
                               ("torchvision", dirs["torchvision"] / "MNIST" / "raw", False)):
        directory.mkdir(parents=True)
        write_mnist(str(directory), n_train=16, n_test=8, gz=gz)
    return dirs


LAYOUTS = {"cifar": ("resnet20", "cifar10", 20), "idx": ("lenet5", "mnist", 16),
           "idx_gz": ("lenet5", "mnist", 16), "torchvision": ("lenet5", "mnist", 16)}


@pytest.mark.parametrize("augment", ["--augment", "--no-augment"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_each_data_layout_trains_from_the_command_line(tmp_path, data_dirs, layout, augment):
    model, dataset, images = LAYOUTS[layout]
    done = _cli("train", model, "--dataset", dataset, "--data-dir", data_dirs[layout],
                "--epochs", 1, "--batch-size", 8, "--no-progress", "--out", tmp_path, augment)
    assert done.returncode == 0, done.stderr
    assert "done in" in done.stdout
    ckpt = sn.load(tmp_path / "last.npz")
    assert ckpt["data_dir"] == str(data_dirs[layout])
    assert ckpt["config"]["augment"] == (augment == "--augment")
    assert [r["images"] for r in ckpt["history"]] == [images]


# the smallest of each family, at the smallest input it takes (None: the data's own size);
# VGG keeps its default initialisation (drawing its 120 M classifier weights takes seconds)
FAMILIES = {"lenet5": (None, {}), "alexnet": (64, {}), "alexnet_v1": (227, {}),
            "zfnet": (224, {}), "vgg11": (32, {"init_weights": False}), "googlenet": (32, {}),
            "resnet18": (32, {}), "resnet20": (None, {}), "densenet121": (32, {})}


@pytest.mark.parametrize("name, resize, kwargs", [(n, *v) for n, v in FAMILIES.items()])
def test_every_model_family_trains_on_each_data_sets_images(data_dirs, name, resize, kwargs):
    sn.manual_seed(0)
    model = get_model(name, num_classes=10, **kwargs)
    first = next(iter(model.parameters()))
    for dataset, layout in (("mnist", "idx"), ("cifar10", "cifar")):
        train_set, _ = pipeline.build(dataset, default_input_size(name), str(data_dirs[layout]),
                                      resize, augment=True)
        two = ImageDataset(train_set.images[:2], train_set.labels[:2], train_set.transform,
                           train_set.classes)
        config = resolve_config(name, {"dataset": dataset, "epochs": 1, "batch_size": 2,
                                       "resize": resize})
        before = first.data.copy()
        history = Trainer(model, config, two).fit()
        assert history[0]["images"] == 2 and np.isfinite(history[0]["train_loss"])
        assert not np.array_equal(first.data, before), "no gradient reached the first layer"


def test_a_diverging_run_stops_with_one_line_and_status_1(tmp_path):
    done = _cli("train", "lenet5", *SMOKE, "--lr", "1e30", "--epochs", 1, "--out", tmp_path)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert "the training loss is nan at epoch 1, batch " in line
    assert "try a lower --lr (this run's is 1e+30); no checkpoint was written" in line
    assert not (tmp_path / "last.npz").exists()


class _Poison(Callback):
    """Makes the first layer's weights NaN after batch ``at`` = (epoch, batch)."""

    def __init__(self, at, stop=False):
        self.at, self.stop = at, stop

    def on_batch_end(self, trainer, record):
        if (record["epoch"], record["batch"]) == self.at:
            next(iter(trainer.model.parameters())).data[...] = np.nan
            if self.stop:
                trainer.request_stop()


@pytest.mark.parametrize("poison, message", [
    (_Poison((2, 1)), "the training loss is nan at epoch 2, batch 2"),
    # the epoch's last batch: its loss was finite, the weights it left are not
    (_Poison((2, 2)), "features.c1.weight holds non-finite values after epoch 2, batch 2"),
    # then a Ctrl-C: the stop's save must not happen
    (_Poison((2, 1), stop=True), "features.c1.weight holds non-finite values after epoch 2, "
                                 "batch 1"),
], ids=["next-loss", "last-batch", "stop"])
def test_non_finite_weights_never_overwrite_a_checkpoint(tmp_path, poison, message):
    sn.manual_seed(0)
    train_set, held_out = pipeline.build("synthetic", (1, 32, 32), augment=False)
    config = resolve_config("lenet5", {"dataset": "synthetic", "epochs": 3, "batch_size": 256})
    trainer = Trainer(get_model("lenet5"), config, train_set, held_out,
                      callbacks=[poison, Checkpointer(tmp_path, "lenet5")])
    trainer.callbacks.insert(0, _StopAfterEpoch(1))
    with pytest.raises(Interrupted):
        trainer.fit()
    saved = {name: (tmp_path / name).read_bytes() for name in ("last.npz", "best.npz")}
    del trainer.callbacks[0]
    with pytest.raises(DivergedError) as info:
        trainer.fit()
    assert str(info.value) == message
    assert {name: (tmp_path / name).read_bytes() for name in saved} == saved
    assert len(trainer.history) == 1        # no record, and no "best", for a NaN epoch


def test_a_second_signal_quits_at_once(tmp_path):
    out = tmp_path / "run"
    proc = start_long_run(out)
    try:
        wait_inside_epoch_2(proc, out)
        proc.send_signal(signal.SIGTERM)     # two different signals: never merged into one
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode in (130, 143), stderr
    assert "Traceback" not in stderr
    assert f"quit at once: the last complete checkpoint, {out / 'last.npz'}, is intact" in stderr
    assert "resume with" not in stdout
    assert sorted(os.listdir(out)) == ["best.npz", "last.npz", "metrics.jsonl"]   # no temporary,
    # no lock
    assert load_checkpoint(str(out / "last.npz"))["epoch"] >= 1


def test_an_unusable_out_is_refused_before_any_data_is_read(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("not a folder")
    for out, message in ((a_file, f"output folder {a_file} exists and is not a folder"),
                         (a_file / "sub", f"cannot write into the output folder {a_file / 'sub'}"
                                          ": Not a directory")):
        assert main(["train", "lenet5", *SMOKE, "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""                            # not even the header
        assert message in _one_line(captured.err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_refused(tmp_path, capsys):
    tmp_path.chmod(0o555)
    try:
        assert main(["train", "lenet5", *SMOKE, "--out", str(tmp_path)]) == 2
    finally:
        tmp_path.chmod(0o755)
    assert "Permission denied" in _one_line(capsys.readouterr().err)


def test_a_second_run_into_the_same_folder_refuses(tmp_path, capsys):
    with RunDirectory(tmp_path):                 # a first run holds the folder
        assert main(["train", "lenet5", *SMOKE, "--epochs", "1", "--out", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"another run is writing into {tmp_path} (pid {os.getpid()})" in line
    assert os.listdir(tmp_path) == []             # released: the lock file is gone


def test_a_crashed_run_does_not_leave_its_folder_locked(tmp_path):
    child = (f"import os; from scratchnet.train import RunDirectory; "
             f"RunDirectory({str(tmp_path)!r}).__enter__(); os._exit(9)")
    done = subprocess.run([sys.executable, "-c", child], env=_env(), cwd=ROOT, check=False)
    assert done.returncode == 9
    assert os.listdir(tmp_path) == [".scratchnet.lock"]     # left behind, but not held
    with RunDirectory(tmp_path):
        pass


def test_stale_temporaries_of_killed_saves_are_removed_when_a_run_starts(tmp_path):
    stale = [".last.npz.0123456789ab.tmp", ".best.npz.abcdef012345.tmp"]
    others = [".last.npz.not-ours.tmp", "notes.tmp", ".other.npz.0123456789ab.tmp"]
    for name in stale + others:
        (tmp_path / name).write_bytes(b"x" * 100)
    with RunDirectory(tmp_path):
        assert sorted(os.listdir(tmp_path)) == sorted(others + [".scratchnet.lock"])


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


def test_a_failed_checkpoint_write_is_one_line_and_leaves_the_old_one(tmp_path):
    last = _stopped_after_epoch_1(tmp_path)
    before = last.read_bytes()
    assert len(before) > 64 * 1024
    done = _cli("train", "lenet5", "--resume", last, "--no-progress", "--no-curves",
                preexec_fn=_limit_file_size)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert f"cannot write checkpoint {last}: File too large" in line
    assert f"the last complete checkpoint, {last}, is intact" in line
    assert last.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["best.npz", "last.npz", "metrics.jsonl"]


def _tiny_checkpoint(directory):
    """A complete training checkpoint of a 15-parameter model (about 3 KB), and its trainer."""
    sn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
    images = np.random.default_rng(0).integers(0, 256, (4, 1, 2, 2), dtype=np.uint8)
    data = ImageDataset(images, np.array([0, 1, 2, 0]), classes=["a", "b", "c"])
    config = resolve_config("mlp", {"dataset": "synthetic", "epochs": 2, "batch_size": 2})
    trainer = Trainer(model, config, data, data, callbacks=[Checkpointer(directory, "mlp")])
    trainer.callbacks.append(_StopAfterEpoch(1))
    with pytest.raises(Interrupted):
        trainer.fit()
    return str(directory / "last.npz"), lambda: Trainer(
        nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), config, data, data)


def test_every_single_byte_flip_loads_intact_or_raises_checkpoint_error(tmp_path):
    path, _ = _tiny_checkpoint(tmp_path)
    data = Path(path).read_bytes()
    reference = load_checkpoint(path)
    flipped = tmp_path / "flipped.npz"
    rng = np.random.default_rng(0)
    outcomes = {"intact": 0, "error": 0}
    for offset, mask in zip(range(len(data)), rng.integers(1, 256, len(data))):
        damaged = bytearray(data)
        damaged[offset] ^= int(mask)
        flipped.write_bytes(damaged)
        try:
            ckpt = load_checkpoint(str(flipped))
        except CheckpointError as err:
            assert "flipped.npz" in str(err)
            outcomes["error"] += 1
        else:
            _assert_same_tree(ckpt, reference, f"byte {offset}")
            outcomes["intact"] += 1
    assert outcomes["error"] > 0.8 * len(data)      # a flip inside the zip's checksums is seen


def _rewrite(path, edit_meta=None, drop=None):
    """Rewrite the npz at ``path`` as a person with a zip tool would: the __meta__ JSON passed
    through ``edit_meta`` (text -> text), the member ``drop`` left out."""
    with zipfile.ZipFile(path) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members:
            if name == drop:
                continue
            if name == "__meta__.npy" and edit_meta is not None:
                text = np.lib.format.read_array(stdio.BytesIO(blob)).tobytes().decode()
                blob = _npy_bytes(np.frombuffer(edit_meta(text).encode(), np.uint8))
            zf.writestr(name, blob)


def _npy_bytes(array):
    buffer = stdio.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def _edit_tree(fn):
    def edit(text):
        meta = json.loads(text)
        fn(meta["__tree__"])
        return json.dumps(meta)
    return edit


def _swap_buffers(state):
    (_, first), (_, second) = state["__dict__"]        # {index: {"momentum_buffer": ...}}
    first["momentum_buffer"], second["momentum_buffer"] = \
        second["momentum_buffer"], first["momentum_buffer"]


EDITS = {
    "not JSON": lambda text: text[:-5],
    "epoch a string": _edit_tree(lambda t: t.update(epoch="three")),
    "no optimizer": _edit_tree(lambda t: t.pop("optimizer")),
    "scheduler key gone": _edit_tree(lambda t: t["scheduler"].pop("last_epoch")),
    "rng state a string": _edit_tree(lambda t: t["rng"]["state"].update(state="x")),
    "lr a string": _edit_tree(lambda t: t["optimizer"]["param_groups"][0].update(lr="fast")),
    "history junk": _edit_tree(lambda t: t["history"].append([1, 2])),
    "epoch past the end": _edit_tree(lambda t: t.update(epoch=7)),
    "batch past the end": _edit_tree(lambda t: t.update(batch=10**9)),
    "not a checkpoint": _edit_tree(lambda t: t.update(kind="something else")),
    "older format": _edit_tree(lambda t: t.update(format=1)),
    "config batch a string": _edit_tree(lambda t: t["config"].update(batch_size="64")),
    "optimizer buffer a list": _edit_tree(
        lambda t: t["optimizer"]["state"]["__dict__"][0][1].update(extra=[1.0])),
    "momentum buffers swapped": _edit_tree(lambda t: _swap_buffers(t["optimizer"]["state"])),
    "nested 5,000 deep": lambda text: text.replace('"history": [', '"history": [' +
                                                   "[" * 5000 + "]" * 5000 + ", "),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_hand_edited_checkpoint_gives_one_error_naming_it(tmp_path, edit):
    path, fresh_trainer = _tiny_checkpoint(tmp_path)
    _rewrite(path, edit_meta=EDITS[edit])
    with pytest.raises(CheckpointError, match=r"last\.npz"):
        restore(fresh_trainer(), load_checkpoint(path), path)


def test_a_checkpoint_missing_an_array_gives_one_error_naming_it(tmp_path):
    path, _ = _tiny_checkpoint(tmp_path)
    _rewrite(path, drop="model.1.weight.npy")
    with pytest.raises(CheckpointError, match=r"last\.npz.*refers to an array "
                                              r"'model\.1\.weight' that the file does not hold"):
        load_checkpoint(path)


def test_headers_are_checked_before_anything_is_allocated(tmp_path):
    forged = tmp_path / "forged.npz"
    header = stdio.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**12,)})
    with zipfile.ZipFile(forged, "w") as zf:   # declares 10^12 float64 in 16 bytes of data
        zf.writestr("w.npy", header.getvalue() + bytes(16))
    with pytest.raises(io.LoadError, match=r"forged\.npz.*'w' declares float64 of shape "
                                           r"\(1000000000000,\) \(8000000000000 bytes"):
        io.load(forged)
    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, w=np.zeros(10**7))          # 80 MB of zeros in 80 KB
    assert bomb.stat().st_size < 200_000
    with pytest.raises(io.LoadError, match=r"bomb\.npz.*'w' is compressed"):
        io.load(bomb)
    encrypted = tmp_path / "encrypted.npz"
    io.save({"w": np.ones(3)}, encrypted)
    data = bytearray(encrypted.read_bytes())
    central = data.rindex(b"PK\x01\x02")
    data[central + 8] |= 0x01                             # general purpose flag: encrypted
    encrypted.write_bytes(data)
    with pytest.raises(io.LoadError, match=r"encrypted\.npz.*'w' is marked encrypted"):
        io.load(encrypted)


def test_eval_of_a_damaged_checkpoint_is_one_line_and_status_2(tmp_path):
    path, _ = _tiny_checkpoint(tmp_path)
    _rewrite(path, edit_meta=EDITS["epoch a string"])
    done = _cli("eval", path)
    assert done.returncode == 2
    assert "last.npz is damaged or was edited: epoch: 'three'" in _one_line(done.stderr)


def test_resume_refuses_another_data_dir_unless_allowed(tmp_path, data_dirs, capsys):
    idx, other = data_dirs["idx"], data_dirs["idx_gz"]
    assert main(["train", "lenet5", "--data-dir", str(idx), "--epochs", "1", "--batch-size",
                 "8", "--no-progress", "--out", str(tmp_path)]) == 0
    resume = ["train", "lenet5", "--resume", str(tmp_path / "last.npz"), "--no-progress"]
    capsys.readouterr()
    assert main(resume + ["--data-dir", str(other)]) == 2
    assert f"--data-dir {other} differs from the checkpoint's {idx}" in \
        _one_line(capsys.readouterr().err)
    assert main(resume + ["--data-dir", os.path.relpath(idx)]) == 0     # the same folder
    assert main(resume + ["--data-dir", str(other), "--allow-data-dir-change"]) == 0
    err = capsys.readouterr().err
    assert f"warning: resuming on {other} instead of {idx} (--allow-data-dir-change)" in err


def test_an_empty_idx_file_and_a_huge_resize_are_user_errors(tmp_path, capsys):
    write_mnist(str(tmp_path), n_train=0)
    assert main(["train", "lenet5", "--data-dir", str(tmp_path), "--out",
                 str(tmp_path / "run")]) == 2
    assert "train-images-idx3-ubyte: holds 0 images" in _one_line(capsys.readouterr().err)
    assert main(["train", "lenet5", "--resize", "100000", "--out", str(tmp_path / "big")]) == 2
    assert "bytes, more than the" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "big").exists()


@pytest.mark.parametrize("options, message", [
    (["--resize", "4"], "lenet5 cannot take the 1x4x4 images of this run: LeNet5: layer "
                        "'features.c1' (Conv2d) failed"),
    (["--momentum", "-1"], "--momentum must be at least 0, got -1.0"),
    (["--seed", "-1"], "--seed must be at least 0, got -1"),
    (["--lr", "nan"], "--lr must be positive, got nan"),
])
def test_options_a_run_cannot_use_are_user_errors_before_training(tmp_path, capsys, options,
                                                                   message):
    assert main(["train", "lenet5", *SMOKE, "--out", str(tmp_path), *options]) == 2
    captured = capsys.readouterr()
    assert message in _one_line(captured.err) and "held-out" not in captured.out


def test_load_state_dict_refuses_a_value_that_is_not_an_array():
    layer = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match=r"While copying the parameter named \"weight\", "
                                           r"expected an array or Tensor from checkpoint but "
                                           r"received <class 'list'>"):
        layer.load_state_dict({"weight": [[1.0, 2.0], [3.0, 4.0]], "bias": np.zeros(2)})


def test_the_same_command_twice_gives_identical_arrays(tmp_path, data_dirs):
    for run in ("a", "b"):      # augmented: random crops drawn from (seed, epoch, batch)
        assert main(["train", "lenet5", "--data-dir", str(data_dirs["idx"]), "--epochs", "2",
                     "--batch-size", "4", "--no-progress", "--out", str(tmp_path / run)]) == 0
    _assert_same_checkpoint(tmp_path / "a" / "last.npz", tmp_path / "b" / "last.npz")


def test_resume_with_another_thread_count_warns(tmp_path, capsys):
    last = _stopped_after_epoch_1(tmp_path)
    ckpt = sn.load(last)
    assert ckpt["threads"] == thread_count()
    sn.save({**ckpt, "threads": thread_count() + 3}, last)
    capsys.readouterr()
    assert main(["train", "lenet5", "--resume", str(last), "--no-progress"]) == 0
    assert (f"warning: {last} was written by a run with {thread_count() + 3} threads and this "
            f"one has {thread_count()}") in capsys.readouterr().err
    assert sn.load(last)["threads"] == thread_count()
