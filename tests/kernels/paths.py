"""Every kernel path that a size or shape threshold chooses, forced at small sizes.

The kernels pick fast paths by size (im2col's shifted taps, conv's merged samples and row
bands, parallel launches above a grain of work). The tests use small shapes, which would only
ever reach the small-size paths; ``forced(name)`` lowers or raises the module constants behind
one path for the duration of a ``with`` block, so that every twin-vs-reference property runs
once per path (``@pytest.mark.parametrize("path", ...)`` plus ``with forced(path):``).
A new threshold gets its entry here, and the tests that cover its kernel list it.
"""
import contextlib
import importlib

from scratchnet.kernels import conv, conv_direct, threads, winograd, workspace

im2col = importlib.import_module("scratchnet.kernels.im2col")   # the package exports a function

NEVER = 2**62           # a threshold no test size reaches

# conv's direct path (few channels at stride 1) takes every stride-1 case of the tests'
# sizes; the paths that test im2col's or Winograd's products turn it off
DIRECT_OFF = {(conv_direct, "DIRECT_MAX_CHANNELS"): 0}

PATHS = {
    "default": {},
    # im2col: a stride-1 tap with OW = W copied as one shifted run, or element by element
    "shifted taps": {(im2col, "SHIFTED_TAP_MIN"): 0, **DIRECT_OFF},
    "element-wise taps": {(im2col, "SHIFTED_TAP_MIN"): NEVER, **DIRECT_OFF},
    # conv: tiles of one output row (the bands of large maps: im2col starts at a row > 0),
    # with either kind of tap; samples merged into one GEMM (small maps) or one product each
    "row bands, shifted taps": {(workspace, "TILE_BYTES"): 1, (im2col, "SHIFTED_TAP_MIN"): 0,
                                **DIRECT_OFF},
    "row bands, element-wise taps": {(workspace, "TILE_BYTES"): 1,
                                     (im2col, "SHIFTED_TAP_MIN"): NEVER, **DIRECT_OFF},
    "merged samples": {(conv, "MERGE_BELOW"): NEVER, **DIRECT_OFF},
    "per-sample products": {(conv, "MERGE_BELOW"): 0, **DIRECT_OFF},
    # conv's direct path for every product, the input gradient's too
    "direct": {(conv_direct, "INPUT_GRAD_MAX_PADDED"): NEVER},
    # every kernel and product shared out among two workers, however little its work
    "threads": {(threads, "GRAIN_SIZE"): 1, (threads, "GEMM_GRAIN"): 1,
                (threads, "_num_threads"): 2},
    "threads, im2col": {(threads, "GRAIN_SIZE"): 1, (threads, "GEMM_GRAIN"): 1,
                        (threads, "_num_threads"): 2, **DIRECT_OFF},
    # conv: stride-1 3×3 kernels through Winograd F(2×2, 3×3) whatever their channels, in
    # blocks of whole samples, in blocks of one tile row, and shared out among two workers
    "winograd": {(conv, "WINOGRAD_MIN_CHANNELS"): 0, (conv, "WINOGRAD_MAX_GROWTH"): NEVER,
                 **DIRECT_OFF},
    "winograd, tile-row blocks": {(conv, "WINOGRAD_MIN_CHANNELS"): 0,
                                  (conv, "WINOGRAD_MAX_GROWTH"): NEVER,
                                  (winograd, "BLOCK_BYTES"): 1,
                                  (winograd, "MIN_BLOCK_TILES"): 1, **DIRECT_OFF},
    "winograd, threads": {(conv, "WINOGRAD_MIN_CHANNELS"): 0,
                          (conv, "WINOGRAD_MAX_GROWTH"): NEVER, (threads, "GRAIN_SIZE"): 1,
                          (threads, "GEMM_GRAIN"): 1, (threads, "_num_threads"): 2,
                          **DIRECT_OFF},
}
IM2COL_PATHS = ["default", "shifted taps", "element-wise taps", "threads"]
WINOGRAD_PATHS = ["winograd", "winograd, tile-row blocks", "winograd, threads"]
CONV_PATHS = list(PATHS)
PARALLEL_PATHS = ["default", "threads"]


@contextlib.contextmanager
def forced(name):
    """Set the constants of path ``name``; restore them on exit."""
    saved = {(module, attr): getattr(module, attr) for module, attr in PATHS[name]}
    try:
        for (module, attr), value in PATHS[name].items():
            setattr(module, attr, value)
        yield
    finally:
        for (module, attr), value in saved.items():
            setattr(module, attr, value)
