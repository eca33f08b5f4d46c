"""The globals a pickle of model weights may import: an allowlist, never a blocklist.

Unpickling imports every global the stream names (`find_class`), and importing or calling it
is where code runs. A blocklist (`os.system`, `builtins.eval`, ...) loses to the next module
nobody thought of (`runpy`, `pty`, `webbrowser`, `numpy.testing`'s helpers, ...), so anything
not listed here is flagged. The list is what a state dict, a NumPy array and a scikit-learn
estimator need to be rebuilt, modelled on PyTorch's own `weights_only` unpickler allowlist.

Module names are normalised through the stdlib's Python 2 compatibility table first
(`__builtin__` -> `builtins`, `copy_reg` -> `copyreg`), exactly as `pickle.Unpickler` does for
old protocols, so a protocol-0 pickle cannot slip `__builtin__.eval` past a check of `builtins`
(it is flagged either way: `eval` is not on the list).

Every entry says why it is safe. One global is allowed only in one call shape
(`CONDITIONAL`): `_codecs.encode`, which pickle protocol 2 uses for every `bytes` object.
What a flagged global can do is described in `risks.py`.
"""

from __future__ import annotations
import __future__

import _compat_pickle  # the stdlib's own py2 -> py3 name table, used by pickle.Unpickler
import collections.abc
import re
from typing import Any

_TORCH_REBUILD = {
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_qtensor",
    "_rebuild_sparse_tensor",
    "_rebuild_nested_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_wrapper_subclass",
    "_rebuild_device_tensor_from_numpy",
}
_TORCH_STORAGES = {
    f"{kind}Storage"
    for kind in (
        "Untyped",
        "Typed",
        "Float",
        "Double",
        "Half",
        "BFloat16",
        "Long",
        "Int",
        "Short",
        "Char",
        "Byte",
        "Bool",
        "ComplexFloat",
        "ComplexDouble",
        "QUInt8",
        "QInt8",
        "QInt32",
        "QUInt4x2",
        "QUInt2x4",
    )
}
_TORCH_DTYPES = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32",
    "complex64", "complex128", "cfloat", "cdouble", "uint8", "int8", "int16", "short", "int32",
    "int", "int64", "long", "bool", "quint8", "qint8", "qint32", "quint4x2", "quint2x4",
    "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "uint16", "uint32",
    "uint64", "strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc",
    "_mkldnn", "contiguous_format", "channels_last", "channels_last_3d", "preserve_format",
    "per_tensor_affine", "per_channel_affine", "per_tensor_symmetric", "per_channel_symmetric",
    "per_channel_affine_float_qparams",
}  # fmt: skip

# Pure builtins: they compute a value from their arguments and call no callable they are given
# (map, filter, iter(f, sentinel) and the key= of sorted/min/max would; REDUCE cannot pass
# keywords), so a pickle cannot turn them into a call of anything else.
_PURE_BUILTINS = (
    "len", "abs", "min", "max", "sum", "round", "divmod", "pow", "ord", "chr", "bin", "hex",
    "oct", "all", "any", "sorted", "reversed", "enumerate", "zip", "isinstance", "issubclass",
    "callable", "repr", "ascii", "hash", "id", "Ellipsis", "NotImplemented",
)  # fmt: skip

SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        # containers and plain data types: calling them builds data, nothing else
        ("collections", "OrderedDict"),
        ("collections", "defaultdict"),  # its default_factory is a global checked on its own
        ("collections", "Counter"),
        ("collections", "deque"),
        *(
            ("builtins", name)
            for name in (
                "set",
                "frozenset",
                "dict",
                "list",
                "tuple",
                "bytearray",
                "bytes",
                "complex",
                "slice",
                "range",
                "int",
                "float",
                "str",
                "bool",
                "object",
                "NoneType",
            )
        ),
        ("copyreg", "_reconstructor"),  # protocol 0/1 object rebuild; the class is checked
        ("copyreg", "__newobj__"),
        *(("builtins", name) for name in _PURE_BUILTINS),
        # value types: constructors that only store their fields
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("decimal", "Decimal"),
        ("fractions", "Fraction"),
        ("uuid", "UUID"),
        # pure paths: string manipulation only, no file-system access (Path itself is not here)
        ("pathlib", "PurePath"),
        ("pathlib", "PurePosixPath"),
        ("pathlib", "PureWindowsPath"),
        # PyTorch state dicts (torch.save) and TorchScript constants
        *(("torch._utils", name) for name in _TORCH_REBUILD),
        ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch.serialization", "_get_layout"),
        ("torch.nn.parameter", "Parameter"),
        ("torch", "Size"),
        ("torch", "Tensor"),
        ("torch", "device"),
        ("torch", "dtype"),
        *(("torch", name) for name in _TORCH_STORAGES),
        ("torch.storage", "UntypedStorage"),
        ("torch.storage", "TypedStorage"),
        *(("torch", name) for name in _TORCH_DTYPES),
        # NumPy arrays, scalars and dtypes (numpy 1 and numpy 2 module names)
        *(
            (module, name)
            for module in ("numpy.core.multiarray", "numpy._core.multiarray")
            for name in ("_reconstruct", "scalar")
        ),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.ma.core", "_mareconstruct"),
        ("numpy.ma.core", "MaskedArray"),
        ("numpy.random._pickle", "__randomstate_ctor"),
        ("numpy.random._pickle", "__generator_ctor"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._mt19937", "MT19937"),
        ("numpy.random._pcg64", "PCG64"),
        # joblib's array wrappers (the array bytes that follow are skipped, or scanned as the
        # nested pickle they are for object arrays)
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("joblib.numpy_pickle_compat", "NDArrayWrapper"),
        ("joblib.numpy_pickle_compat", "ZNDArrayWrapper"),
        ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
        # scipy sparse matrices inside estimators
        *(
            ("scipy.sparse._" + kind, kind + "_matrix")
            for kind in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")
        ),
        *(
            ("scipy.sparse._" + kind, kind + "_array")
            for kind in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")
        ),
    }
)

# `__future__` holds only feature records (`_Feature` instances and the class): pickling
# `annotations` or `division` refers to them, and building one stores seven fields.
_FUTURE_NAMES = frozenset(
    n for n in dir(__future__) if not n.startswith("__") or n in __future__.__all__
)
# The abstract base classes of `collections.abc` (also reached as `_collections_abc`): classes
# with no constructor side effects; pickled when code stores a type reference.
_ABC_NAMES = frozenset(collections.abc.__all__)
# Allowed only where called in the one shape given here (`conditional_call_allowed`):
# protocol 2 has no opcode for bytes, so pickle writes every `bytes` object as
# `_codecs.encode(str, "latin1")` (a float32 NumPy array saved at protocol 2 holds one).
# Elsewhere `encode` looks a codec up by any name, which can import modules.
CONDITIONAL: frozenset[tuple[str, str]] = frozenset({("_codecs", "encode")})

_NUMPY_DTYPE_CLASS = re.compile(r"[A-Z][A-Za-z0-9]*DType")
# scikit-learn estimators are classes (CamelCase) whose constructors only store parameters; a
# function an estimator holds (FunctionTransformer's func, a custom kernel) is a global of its
# own and is checked by itself. Modules that can fetch data or run test helpers are excluded.
_SKLEARN_CLASS = re.compile(r"_?[A-Z][A-Za-z0-9]*")
_SKLEARN_EXCLUDED = ("sklearn.datasets", "sklearn.utils._testing", "sklearn.externals")


def normalise(module: str, name: str) -> tuple[str, str]:
    """The (module, name) `pickle.Unpickler(fix_imports=True)` would import."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def is_safe(module: str, name: str) -> bool:
    module, name = normalise(module, name)
    if (module, name) in SAFE_GLOBALS:
        return True
    if module == "__future__":
        return name in _FUTURE_NAMES
    if module in ("collections.abc", "_collections_abc"):
        return name in _ABC_NAMES
    if module == "numpy.dtypes" and _NUMPY_DTYPE_CLASS.fullmatch(name):
        return True
    return (
        (module == "sklearn" or module.startswith("sklearn."))
        and not module.startswith(_SKLEARN_EXCLUDED)
        and "." not in name
        and _SKLEARN_CLASS.fullmatch(name) is not None
    )


def is_conditional(module: str, name: str) -> bool:
    return normalise(module, name) in CONDITIONAL


def conditional_call_allowed(
    module: str, name: str, args: Any, text_types: tuple[type, ...] = (str,)
) -> bool:
    """`_codecs.encode(text, "latin1")`: how protocol 2 writes bytes, and nothing else.

    `args` is the walker's symbolic argument tuple; `text_types` are what it uses for a str
    (also one too long to keep on its stack).
    """
    if normalise(module, name) != ("_codecs", "encode"):
        return False
    return (
        isinstance(args, tuple)
        and len(args) == 2
        and isinstance(args[0], text_types)
        and isinstance(args[1], str)
        and args[1] == "latin1"
    )
