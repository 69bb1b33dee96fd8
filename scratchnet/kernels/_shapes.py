"""Output-size rules of convolution and pooling, as torch computes them (notation: im2col.py).

Convolution (and max pooling without ceil_mode): a window of KH rows with dilation DH spans
DH·(KH − 1) + 1 rows, and starts at rows 0, SH, 2·SH, ... of the padded input, so

    OH = ⌊(H + PH_total − DH·(KH − 1) − 1) / SH⌋ + 1.

Pooling with ``ceil_mode=True`` rounds up instead (a last, partial window is kept), except that
a window may not start inside the right padding: if (OH − 1)·SH ≥ H + PH then OH −= 1.
E.g. H=5, KH=2, SH=2, PH=1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 3 would start at padded row 6
= H + PH, so OH = 3.
"""
def pair(value, op, name):
    """``value`` as a pair of ints: an int n gives (n, n); a pair or 2-list stays as it is."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = (value[0], value[0])
        if len(value) != 2 or not all(_is_int(v) for v in value):
            raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
        return int(value[0]), int(value[1])
    if not _is_int(value):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(value), int(value)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool) or type(v).__name__.startswith("int")


def check_positive(op, name, value):
    if min(value) <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {name}={value}")


def check_nonnegative(op, name, value):
    if min(value) < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {name}={value}")


def conv_output_size(size, kernel, stride, pad_total, dilation):
    """One spatial side: OH = ⌊(H + PH_total − DH·(KH − 1) − 1) / SH⌋ + 1 (may be ≤ 0)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """One spatial side of max/avg pooling, with torch's ceil_mode rule (module docstring)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def same_padding(kernel, dilation):
    """padding="same" for one side: (before, after), the extra pixel after, as torch pads it."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def check_output_size(op, x_shape, out_size, kernel, stride, padding, dilation):
    """Raise before any work if the (dilated) kernel does not fit the padded input."""
    if min(out_size) <= 0:
        raise ValueError(
            f"{op}: kernel_size={kernel} with dilation={dilation} is larger than the padded "
            f"input: input {tuple(x_shape)}, padding={padding}, stride={stride} give output "
            f"size {tuple(out_size)}")


def adaptive_bins(size, out):
    """torch's adaptive-pooling bins on one side: bin i covers [⌊i·In/Out⌋, ⌈(i+1)·In/Out⌉)."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]
