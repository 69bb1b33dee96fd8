"""The ``.npz`` container: an atomic writer, and a reader that distrusts the file.

The writer produces what ``np.savez`` does (a zip of uncompressed ``.npy`` members), through a
temporary file beside the target that is fsync'ed and renamed over it. The reader checks every
member before allocating anything: zip flags (no encryption, no compression), the ``.npy``
header (version, dtype without objects, a shape of non-negative ints) and that the declared
array fills the member exactly; the zip's CRC-32 is checked as each member is read. Any failure
to read becomes one ``LoadError`` naming the file.
"""
import os
import re
import secrets
import stat
import zipfile

import numpy as np

NPY_SUFFIX = ".npy"
NPY_MAGIC = b"\x93NUMPY"
_CHUNK = 1 << 18                     # bytes read at a time, as np.lib.format.read_array does
_TEMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{12}\.tmp")   # what write_atomic names its temporary


class LoadError(ValueError):
    """A file that cannot be read as a scratchnet ``.npz``: truncated, corrupt, not an
    archive of arrays, or holding an object array. The message names the file."""


def write_atomic(path, arrays):
    """Write ``arrays`` (name -> NumPy array) to ``path`` as an ``.npz``, atomically.

    A symlink at ``path`` is kept: the file it points to is replaced. A file being replaced
    keeps its permission bits; a new one gets the umask's, as ``open(path, "w")`` would.
    """
    target = os.path.realpath(path)
    directory, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    # O_EXCL: the name is ours alone; mode 0o666 lets the umask decide
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)  # makes the rename itself survive a power cut


def stale_temporaries(directory, name):
    """Temporary files that ``write_atomic`` left in ``directory`` for target ``name`` when
    its process died mid-write (paths)."""
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [os.path.join(directory, e) for e in entries
            if (m := _TEMP.fullmatch(e)) and m["name"] == name]


def read(path):
    """The arrays of the ``.npz`` at ``path`` (member name without ``.npy`` -> array), in the
    file's order. Missing or unreadable files raise the OSError; anything wrong inside the
    file raises LoadError."""
    with open(path, "rb") as f:   # FileNotFoundError, PermissionError, IsADirectoryError
        size = os.fstat(f.fileno()).st_size
        try:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
                f.seek(0)
                shape = _read_header(f, path, "the file")[0]
                raise LoadError(f"load({path!r}): expected an .npz archive of named arrays, "
                                f"found a single .npy array of shape {shape}")
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                return _read_members(zf, path, size)
        except LoadError:
            raise
        except MemoryError:
            raise
        except Exception as err:  # zipfile and numpy raise a dozen types on damaged input
            raise corrupt(path, err) from err


def corrupt(path, err):
    return LoadError(f"load({path!r}): the file is truncated or corrupt, or not an .npz "
                     f"archive ({type(err).__name__}: {err})")


def _read_members(zf, path, size):
    arrays = {}
    for info in zf.infolist():
        key = info.filename[:-len(NPY_SUFFIX)] if info.filename.endswith(NPY_SUFFIX) \
            else info.filename
        if not info.filename.endswith(NPY_SUFFIX):
            raise LoadError(f"load({path!r}): entry {key!r} is not a NumPy array; is this a "
                            "scratchnet .npz file? (a PyTorch .pt file is read by from_torch)")
        if key in arrays:
            raise LoadError(f"load({path!r}): entry {key!r} appears twice")
        if info.flag_bits & 0x1:
            raise LoadError(f"load({path!r}): entry {key!r} is marked encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise LoadError(f"load({path!r}): entry {key!r} is compressed (zip method "
                            f"{info.compress_type}); scratchnet reads the uncompressed .npz of "
                            "np.savez and scratchnet.save (re-save np.savez_compressed files)")
        if info.file_size != info.compress_size or info.file_size > size:
            raise LoadError(f"load({path!r}): entry {key!r} declares {info.file_size} bytes "
                            f"in a file of {size}")
        with zf.open(info) as member:
            arrays[key] = _read_array(member, info.file_size, path, key)
    return arrays


def _read_header(f, path, what):
    """(shape, fortran_order, dtype) of the .npy header at ``f``'s position, validated."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise LoadError(f"load({path!r}): {what} has .npy format version {version}, "
                        "expected 1.0 or 2.0")
    if dtype.hasobject:
        raise LoadError(f"load({path!r}): entry {what} is an object array; refusing to "
                        "unpickle it (files are read with allow_pickle=False)")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise LoadError(f"load({path!r}): {what} declares the shape {shape}")
    return shape, fortran, dtype


def _read_array(member, member_size, path, key):
    shape, fortran, dtype = _read_header(member, path, repr(key))
    count = 1
    for n in shape:
        count *= n           # Python ints: a forged shape cannot overflow
    nbytes = count * dtype.itemsize
    if member.tell() + nbytes != member_size:
        raise LoadError(f"load({path!r}): entry {key!r} declares {dtype} of shape {shape} "
                        f"({nbytes} bytes of data) but the entry holds "
                        f"{member_size - member.tell()}")
    array = np.empty(count, dtype)   # only now: its size is bounded by the file's
    view = array.view(np.uint8)
    done = 0
    while done < nbytes:
        chunk = member.read(min(_CHUNK, nbytes - done))
        if not chunk:
            raise EOFError(f"entry {key!r} ends after {done} of {nbytes} bytes")
        view[done:done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    if member.read(1):       # also makes zipfile compare the CRC-32 when count is 0
        raise LoadError(f"load({path!r}): entry {key!r} has data past its array")
    if fortran:
        return array.reshape(shape[::-1]).transpose()
    return array.reshape(shape)


def _write_npz(f, arrays):
    """What ``np.savez`` writes, without its keyword arguments: a key may be named ``file``."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            with zf.open(key + NPY_SUFFIX, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; the rename is already durable there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
