"""`import scratchnet` needs neither CuPy nor torch, and says which piece "cuda" lacks."""
import subprocess
import sys

CODE = """
import sys
sys.modules["torch"] = None   # make both imports fail, as on a machine without them
sys.modules["cupy"] = None
import scratchnet as sn
x = sn.randn(3, requires_grad=True)
(x * x).sum().backward()
assert x.grad is not None
print(sn.show_config())
try:
    sn.zeros(2, device="cuda")
except RuntimeError as err:
    print("ERROR", err)
"""


def test_import_without_torch_and_cupy():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         check=True).stdout
    assert "cuda: CuPy is not installed" in out
    assert "ERROR device 'cuda' is not available: CuPy is not installed" in out
    assert "cupy-cuda12x" in out  # the error says how to install it
