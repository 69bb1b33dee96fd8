"""scratchnet.io: .npz round trips, atomic writes, refusing pickles, reading PyTorch files."""
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import scratchnet as sn
from scratchnet import io


def _state(rng):
    return OrderedDict([
        ("features.0.weight", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        ("features.0.bias", rng.standard_normal(4)),                      # float64 stays float64
        ("bn.running_mean", rng.standard_normal(4).astype(np.float32)),
        ("bn.num_batches_tracked", np.array(2**40 + 3, dtype=np.int64)),  # 0-d int64 buffer
        ("mask", rng.random((2, 5)) > 0.5),
        ("half", rng.standard_normal(3).astype(np.float16)),
        ("file", np.arange(3)),  # would clash with np.savez's own argument name
    ])


def test_round_trip_keeps_keys_order_dtypes_values_and_meta(tmp_path):
    state = _state(np.random.default_rng(0))
    meta = {"epoch": 3, "lr": 0.1, "note": "größe ✓", "rng": {"state": 2**100 + 1}}
    path = tmp_path / "ckpt.npz"
    io.save(state, path, meta=meta)
    loaded = io.load(path)
    assert list(loaded) == list(state)
    for key, array in state.items():
        assert loaded[key].dtype == array.dtype, key
        assert loaded[key].shape == array.shape, key
        np.testing.assert_array_equal(loaded[key], array)
    assert loaded.meta == meta
    assert int(loaded["bn.num_batches_tracked"]) == 2**40 + 3


def test_file_is_a_plain_npz_with_meta_as_utf8_json(tmp_path):
    path = tmp_path / "w.npz"
    io.save({"a.b": np.ones(2, np.float32)}, path, meta={"name": "é"})
    with np.load(path, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["__meta__", "a.b"]
        assert npz["__meta__"].dtype == np.uint8
        assert json.loads(npz["__meta__"].tobytes().decode("utf-8")) == {"name": "é"}


def test_without_meta_there_is_no_meta_entry_and_meta_is_empty(tmp_path):
    path = tmp_path / "w.npz"
    io.save({"w": np.zeros(1)}, str(path))
    assert zipfile.ZipFile(path).namelist() == ["w.npy"]
    assert io.load(path).meta == {}


def test_path_is_used_as_given(tmp_path):
    path = tmp_path / "weights.bin"
    io.save({"w": np.zeros(1)}, path)
    assert os.listdir(tmp_path) == ["weights.bin"]


def test_tensors_and_parameters_are_saved_as_arrays_and_load_into_a_module(tmp_path):
    sn.manual_seed(0)
    layer = sn.nn.Linear(3, 2)
    path = tmp_path / "linear.npz"
    io.save(layer.state_dict(), path)
    io.save({"w": layer.weight, "x": sn.tensor([1.0, 2.0])}, tmp_path / "t.npz")
    np.testing.assert_array_equal(io.load(tmp_path / "t.npz")["w"], layer.weight.data)

    other = sn.nn.Linear(3, 2)
    other.load_state_dict(io.load(path))
    np.testing.assert_array_equal(other.weight.data, layer.weight.data)
    np.testing.assert_array_equal(other.bias.data, layer.bias.data)


def test_device_tensors_are_saved_as_numpy(tmp_path, device):
    weight = sn.tensor(np.arange(6.0).reshape(2, 3), device=device)
    io.save({"w": weight}, tmp_path / "w.npz")
    loaded = io.load(tmp_path / "w.npz")["w"]
    assert isinstance(loaded, np.ndarray)
    np.testing.assert_array_equal(loaded, np.arange(6.0).reshape(2, 3))


def test_resaving_a_loaded_file_keeps_its_meta(tmp_path):
    io.save({"w": np.ones(1)}, tmp_path / "a.npz", meta={"epoch": 7})
    io.save(io.load(tmp_path / "a.npz"), tmp_path / "b.npz")
    assert io.load(tmp_path / "b.npz").meta == {"epoch": 7}


def test_prefixes_combine_and_split_a_training_checkpoint(tmp_path):
    model = OrderedDict([("fc.weight", np.ones((2, 2))), ("fc.bias", np.zeros(2))])
    optim = OrderedDict([("state.0.momentum_buffer", np.full((2, 2), 0.5))])
    io.save({**io.add_prefix(model, "model."), **io.add_prefix(optim, "optimizer.")},
            tmp_path / "ckpt.npz", meta={"epoch": 1})
    ckpt = io.load(tmp_path / "ckpt.npz")
    assert list(ckpt) == ["model.fc.weight", "model.fc.bias",
                          "optimizer.state.0.momentum_buffer"]
    assert list(io.strip_prefix(ckpt, "model.")) == ["fc.weight", "fc.bias"]
    np.testing.assert_array_equal(io.strip_prefix(ckpt, "optimizer.")["state.0.momentum_buffer"],
                                  optim["state.0.momentum_buffer"])


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_a_failed_save_leaves_the_old_file_intact_and_no_temporary_file(tmp_path, monkeypatch,
                                                                        stage):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(4.0)}, path, meta={"version": 1})
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise _Interrupted(stage)

    if stage == "write":  # the first entry goes out, the second fails half-way through the file
        real_write = np.lib.format.write_array
        calls = []

        def write_then_fail(fid, array, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                fid.write(b"\x93NUMPY partial")
                fail()
            real_write(fid, array, **kwargs)
        monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    else:
        monkeypatch.setattr(os, stage, fail)
    big = {"a": np.ones(1000), "b": np.ones(1000), "c": np.ones(1000)}
    with pytest.raises(_Interrupted):
        io.save(big, path, meta={"version": 2})
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert path.read_bytes() == before
    assert io.load(path).meta == {"version": 1}


def test_a_killed_process_leaves_the_old_file_intact(tmp_path):
    """A real crash: the child dies (os._exit) in the middle of writing the array data."""
    import subprocess
    import sys
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(4.0)}, path)
    before = path.read_bytes()
    child = f"""
import os, numpy as np
from scratchnet import io
real = np.lib.format.write_array
def dying(fid, array, **kw):
    fid.write(b"partial")
    fid.flush()
    os._exit(3)
np.lib.format.write_array = dying
io.save({{"w": np.ones(10**6)}}, {str(path)!r})
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True)
    assert done.returncode == 3, done.stderr.decode()
    assert path.read_bytes() == before


@pytest.mark.parametrize("keep", [0, 10, 0.5, -30])
def test_truncated_file_gives_a_clear_error_naming_it(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.arange(1000.0), "v": np.ones(10)}, path, meta={"a": 1})
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    path.write_bytes(data[:cut])
    with pytest.raises(ValueError, match=r"ckpt\.npz.*truncated or corrupt"):
        io.load(path)


def test_corrupted_bytes_inside_an_array_give_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.npz"
    io.save({"w": np.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside w's data: the zip's CRC no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"ckpt\.npz.*truncated or corrupt.*CRC"):
        io.load(path)


_unpickled = []


def _record_unpickling():
    _unpickled.append(True)
    return "payload"


class _Payload:
    def __reduce__(self):
        return _record_unpickling, ()


def test_object_array_is_refused_and_never_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"w": np.ones(2), "evil": np.array([_Payload()], dtype=object)})
    with pytest.raises(ValueError, match=r"evil\.npz.*'evil' is an object array.*unpickle"):
        io.load(path)
    assert _unpickled == []


def test_not_an_npz_is_refused_with_a_clear_error(tmp_path):
    np.save(tmp_path / "single.npy", np.ones(3))
    with pytest.raises(ValueError, match=r"single\.npy.*single \.npy array of shape \(3,\)"):
        io.load(tmp_path / "single.npy")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("archive/data.pkl", b"not numpy")
    with pytest.raises(ValueError, match=r"other\.zip.*'archive/data\.pkl' is not a NumPy array"):
        io.load(tmp_path / "other.zip")
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "missing.npz")


def test_save_rejects_what_the_format_cannot_hold(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"entry 'w' is a list; expected a NumPy/CuPy array"):
        io.save({"w": [1.0, 2.0]}, path)
    with pytest.raises(TypeError, match=r"entry 'o' is an object array"):
        io.save({"o": np.array([None, 1], dtype=object)}, path)
    with pytest.raises(TypeError, match=r"keys must be non-empty strings, got 3"):
        io.save({3: np.ones(1)}, path)
    with pytest.raises(ValueError, match=r"'__meta__' is reserved"):
        io.save({"__meta__": np.ones(1)}, path)
    with pytest.raises(TypeError, match=r"meta must be JSON-serialisable"):
        io.save({"w": np.ones(1)}, path, meta={"when": object()})
    assert not path.exists()


def _torch_net(torch):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5))


def _assert_same_state(ours, theirs):
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert isinstance(ours[key], np.ndarray), key
        assert ours[key].dtype == value.numpy().dtype, key
        np.testing.assert_array_equal(ours[key], value.numpy(), err_msg=key)


def test_from_torch_converts_a_state_dict_and_a_saved_file(tmp_path):
    torch = pytest.importorskip("torch")
    net = _torch_net(torch)
    net(torch.randn(2, 3, 6, 6))  # one training-mode pass moves the running statistics
    state = net.state_dict()
    converted = io.from_torch(state)
    _assert_same_state(converted, state)
    assert converted["1.num_batches_tracked"].dtype == np.int64
    assert converted.meta == {}
    assert not np.shares_memory(converted["0.weight"], state["0.weight"].numpy())

    torch.save(state, tmp_path / "net.pt")
    _assert_same_state(io.from_torch(tmp_path / "net.pt"), state)
    _assert_same_state(io.from_torch(str(tmp_path / "net.pt")), state)


def test_from_torch_weights_load_into_scratchnet_and_give_torch_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    ref = torch.nn.Linear(4, 3)
    torch.save(ref.state_dict(), tmp_path / "linear.pt")
    io.save(io.from_torch(tmp_path / "linear.pt"), tmp_path / "linear.npz")
    ours = sn.nn.Linear(4, 3)
    ours.load_state_dict(io.load(tmp_path / "linear.npz"))
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(sn.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_from_torch_flattens_a_training_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    net = _torch_net(torch)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 6, 6)).square().sum().backward()
    opt.step()
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": 4},
               tmp_path / "ckpt.pt")
    ckpt = io.from_torch(tmp_path / "ckpt.pt")
    _assert_same_state(io.strip_prefix(ckpt, "model."), net.state_dict())
    np.testing.assert_array_equal(ckpt["optimizer.state.0.momentum_buffer"],
                                  opt.state_dict()["state"][0]["momentum_buffer"].numpy())
    assert ckpt.meta["epoch"] == 4
    assert ckpt.meta["optimizer.param_groups"][0]["momentum"] == 0.9
    io.save(ckpt, tmp_path / "ckpt.npz")
    assert io.load(tmp_path / "ckpt.npz").meta == ckpt.meta


def test_from_torch_refuses_pickled_objects_and_non_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(1), "payload": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt.*weights_only=True"):
        io.from_torch(tmp_path / "evil.pt")
    assert _unpickled == []
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"junk\.pt.*cannot read it"):
        io.from_torch(tmp_path / "junk.pt")
    with pytest.raises(TypeError, match=r"expected a state_dict \(a dict of tensors\), got Tensor"):
        io.from_torch(torch.ones(2))


def test_nested_save_load_round_trip_keeps_structure_types_and_arrays(tmp_path):
    rng = np.random.default_rng(0)
    layer = sn.nn.Linear(3, 2)
    obj = {
        "model": layer.state_dict(),
        "optimizer": {"state": {0: {"momentum_buffer": rng.standard_normal((2, 3))},
                                1: {"step": np.array(4.0)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "epoch": 3, "loss": float("nan"), "name": "größe", "none": None, "flag": True,
        "scalar": np.float32(0.5),                     # NumPy scalars come back as Python numbers
        "tensor": sn.tensor([1.0, 2.0]),
        "marker_like": {"__array__": "not a reference"},   # a user dict that looks like a marker
        "empty": {}, "nested_list": [[1, 2], (3, np.arange(2))],
        "mixed_keys": {1: "a", "1": "b", None: "c"},
    }
    path = tmp_path / "ckpt.npz"
    sn.save(obj, path)
    back = sn.load(path)
    assert list(back) == list(obj)
    np.testing.assert_array_equal(back["model"]["weight"], layer.weight.data)
    assert list(back["optimizer"]["state"]) == [0, 1]                # int keys survive
    np.testing.assert_array_equal(back["optimizer"]["state"][0]["momentum_buffer"],
                                  obj["optimizer"]["state"][0]["momentum_buffer"])
    assert back["optimizer"]["state"][1]["step"].shape == ()
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)   # a tuple again
    assert back["epoch"] == 3 and np.isnan(back["loss"]) and back["name"] == "größe"
    assert back["none"] is None and back["flag"] is True
    assert back["scalar"] == 0.5 and type(back["scalar"]) is float
    assert isinstance(back["tensor"], np.ndarray)
    assert back["marker_like"] == {"__array__": "not a reference"}
    assert back["empty"] == {}
    assert back["nested_list"][0] == [1, 2] and isinstance(back["nested_list"][1], tuple)
    np.testing.assert_array_equal(back["nested_list"][1][1], np.arange(2))
    assert back["mixed_keys"] == {1: "a", "1": "b", None: "c"}
    # the arrays are plain members named by their dotted path: np.load and io.load read them
    with np.load(path, allow_pickle=False) as npz:
        assert "model.weight" in npz.files and "optimizer.state.0.momentum_buffer" in npz.files
    assert list(io.strip_prefix(io.load(path), "model.")) == ["weight", "bias"]


def test_nested_save_names_colliding_paths_apart_and_refuses_what_it_cannot_hold(tmp_path):
    obj = {"a.b": np.zeros(1), "a": {"b": np.ones(1)}, "__meta__": np.full(1, 2.0)}
    sn.save(obj, tmp_path / "c.npz")
    back = sn.load(tmp_path / "c.npz")
    assert back["a.b"][0] == 0 and back["a"]["b"][0] == 1 and back["__meta__"][0] == 2
    with pytest.raises(TypeError, match=r"x\.npz.*'?s'? is a set"):
        sn.save({"s": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match=r"o is an object array"):
        sn.save({"o": np.array([None], dtype=object)}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_load_nested_of_a_flat_file_is_its_state_dict(tmp_path):
    io.save({"w": np.arange(3)}, tmp_path / "w.npz", meta={"epoch": 2})
    back = sn.load(tmp_path / "w.npz")
    assert isinstance(back, io.StateDict) and back.meta == {"epoch": 2}
    np.testing.assert_array_equal(back["w"], np.arange(3))


def test_saving_over_a_symlink_keeps_the_link_and_the_files_mode(tmp_path):
    target = tmp_path / "store" / "real.npz"
    target.parent.mkdir()
    io.save({"w": np.zeros(2)}, target)
    target.chmod(0o640)
    link = tmp_path / "last.npz"
    link.symlink_to(target)
    sn.save({"w": np.ones(2), "epoch": 2}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert (target.stat().st_mode & 0o777) == 0o640
    assert sn.load(link)["epoch"] == 2
    assert sorted(os.listdir(tmp_path)) == ["last.npz", "store"]      # no temporary left
    assert os.listdir(target.parent) == ["real.npz"]
