"""Validation of the size arguments of conv and pooling (kernel_size, stride, padding, ...):
each raises, before any work, an error naming the op and the offending value."""


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


def check_output_size(op, x_shape, out_size, kernel, stride, padding, dilation):
    """Raise before any work if the (dilated) kernel does not fit the padded input."""
    if min(out_size) <= 0:
        raise ValueError(
            f"{op}: kernel_size={kernel} with dilation={dilation} is larger than the padded "
            f"input: input {tuple(x_shape)}, padding={padding}, stride={stride} give output "
            f"size {tuple(out_size)}")
