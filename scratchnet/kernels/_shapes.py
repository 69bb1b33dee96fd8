"""Output-size rules of convolution and pooling, as torch computes them (notation: im2col.py).
Argument validation (pairs, signs, a kernel larger than the input) is functional/_arguments.py.

Convolution (and max pooling without ceil_mode): a window of KH rows with dilation DH spans
DH·(KH − 1) + 1 rows, and starts at rows 0, SH, 2·SH, ... of the padded input, so

    OH = ⌊(H + PH_total − DH·(KH − 1) − 1) / SH⌋ + 1.

Pooling with ``ceil_mode=True`` rounds up instead (a last, partial window is kept), except that
a window may not start inside the right padding: if (OH − 1)·SH ≥ H + PH then OH −= 1.
E.g. H=5, KH=2, SH=2, PH=1: ⌈(5 + 2 − 2)/2⌉ + 1 = 4, but window 3 would start at padded row 6
= H + PH, so OH = 3.
"""


def conv_output_size(size, kernel, stride, pad_total, dilation):
    """One spatial side: OH = ⌊(H + PH_total − DH·(KH − 1) − 1) / SH⌋ + 1 (may be ≤ 0)."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def conv_output_hw(x_shape, kernel, stride, padding, dilation):
    """(OH, OW) of an (N, C, H, W) input, ``padding`` (PH, PW) on both sides."""
    return tuple(conv_output_size(s, k, st, 2 * p, d) for s, k, st, p, d in
                 zip(x_shape[-2:], kernel, stride, padding, dilation))


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """One spatial side of max/avg pooling, with torch's ceil_mode rule (module docstring)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out
