"""Op, layer, optimizer and model code never calls NumPy on arrays: on the GPU those are CuPy
arrays, and ``np.f(a)`` either fails or copies to the host. Array work goes through
``xp = get_array_module(...)`` (kernels/ is the exception by design: its NumPy references and
Numba twins are chosen by the dispatcher, tested by tests/kernels).

The check walks the source: every ``np.<name>(...)`` call must be a dtype or shape helper, a
constructor from a shape (host memory, copied to the device by ``backend.to_device``), or
carry a ``# host`` comment on its line saying why its argument is host data (a Python list of
sizes, a state_dict entry, the avg-pool divisor table...)."""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "scratchnet"
CHECKED = ["functional", "nn", "optim", "models", "autograd", "function.py", "tensor.py",
           "tensor_methods.py", "creation.py"]
# dtype and shape helpers, and constructors that take a shape or scalars, never an array
ALLOWED = {"dtype", "result_type", "promote_types", "can_cast", "issubdtype", "finfo", "iinfo",
           "min_scalar_type", "errstate", "broadcast_shapes", "shape", "ndim", "isscalar",
           "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
           "zeros", "ones", "full", "empty", "arange", "eye", "linspace"}


def _files():
    for name in CHECKED:
        path = PACKAGE / name
        yield from sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _numpy_calls(path):
    """(line, dotted name) of every call whose function is an attribute chain on ``np``."""
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        chain, f = [], node.func
        while isinstance(f, ast.Attribute):
            chain.append(f.attr)
            f = f.value
        if isinstance(f, ast.Name) and f.id == "np" and chain:
            yield node.lineno, ".".join(reversed(chain))


def test_op_layer_optimizer_and_model_code_calls_numpy_only_on_host_data():
    offenders = []
    for path in _files():
        lines = path.read_text().splitlines()
        for line, name in _numpy_calls(path):
            if name.split(".")[0] not in ALLOWED and "# host" not in lines[line - 1]:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line}: np.{name}")
    assert not offenders, ("NumPy called where the array may live on the GPU; use xp, or mark "
                           "host data with `# host: why`:\n" + "\n".join(offenders))


def test_the_check_sees_a_numpy_call(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import numpy as np\n\ndef f(x):\n    return np.exp(x) + np.float32(1)\n")
    assert list(_numpy_calls(probe)) == [(4, "exp"), (4, "float32")]
