"""Every global a pickle stream would import, found without executing a single opcode.

`pickletools.genops` decodes the opcodes; a small symbolic stack follows them far enough to
know what each import names. That is needed because only the oldest opcodes (GLOBAL, INST)
carry the name as an argument: protocol 4's STACK_GLOBAL pops two strings that may have been
pushed long before, memoized and fetched back with GET, or built by a REDUCE (then no static
name exists). Names that cannot be known statically are flagged: fail closed. EXT1/2/4 import
through the copyreg extension registry, also unknowable here, and are flagged too.

The stack stays symbolic: literals are kept (bounded), calls and objects are opaque markers,
containers keep at most `MAX_ITEMS` items. Two things need more than names:
- joblib writes raw array bytes right after the BUILD of a `NumpyArrayWrapper`; the wrapper's
  state (shape, dtype) says how many bytes to skip, or that a nested object-array pickle
  follows, which is walked in turn;
- reading is bounded: a huge BINBYTES argument is skipped, not read into memory.
"""

from __future__ import annotations

import math
import pickletools
from dataclasses import dataclass, field
from typing import Any

from scanner.artefacts.serialization.allowlist import is_safe, normalise, reason_for
from scanner.artefacts.serialization.readers import MemoryReader, Reader, Skipped

MAX_OPCODES = 20_000_000
MAX_ITEMS = 4096  # per symbolic container; more items are counted, not kept
MAX_KEPT_BYTES = 64 * 1024  # literal bytes/str kept on the symbolic stack
MAX_NESTING = 4  # nested pickles (joblib object arrays inside joblib ...)
_JOBLIB_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}


# Opcodes that push their decoded argument and nothing else (ints, floats, strings, bytes).
_LITERAL_OPS = frozenset(
    op.name
    for op in pickletools.opcodes
    if not op.stack_before
    and len(op.stack_after) == 1
    and op.arg is not None
    and op.name
    not in {"GLOBAL", "GET", "BINGET", "LONG_BINGET", "PERSID", "EXT1", "EXT2", "EXT4", "PROTO"}
)
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


class PickleError(Exception):
    """The stream is not a well-formed pickle (or could not be read within the limits)."""


@dataclass(frozen=True)
class Flag:
    global_name: str | None  # "module.name", or None when no static name exists
    reason: str
    offset: int


@dataclass
class WalkResult:
    flags: list[Flag] = field(default_factory=list)
    globals_seen: set[str] = field(default_factory=set)
    error: str | None = None  # why the walk stopped before STOP (flags before it still count)


class _Opaque:
    """A value only execution would produce (a call's result, a persistent id, ...)."""

    __slots__ = ("note",)

    def __init__(self, note: str) -> None:
        self.note = note


@dataclass(frozen=True)
class _Global:
    module: str
    name: str


@dataclass
class _Call:
    func: Any
    args: Any
    state: Any = None


@dataclass
class _Dict:
    pairs: list[tuple[Any, Any]] = field(default_factory=list)

    def get(self, key: str) -> Any:
        for k, v in self.pairs:
            if k == key:
                return v
        return None


class _Mark:
    pass


_MARK = _Mark()


def walk_bytes(data: bytes) -> WalkResult:
    return walk(MemoryReader(data))


def walk(reader: Reader, depth: int = 0) -> WalkResult:
    """Walk one pickle (up to its STOP) from the reader's current position."""
    result = WalkResult()
    try:
        _Machine(reader, result, depth).run()
    except PickleError as e:
        result.error = str(e)
    except RecursionError:
        result.error = "pickle nests too deeply to analyse"
    except MemoryError:
        result.error = "pickle too large to analyse in memory"
    except Exception as e:  # pickletools raises ValueError and others on malformed input
        result.error = f"malformed pickle: {type(e).__name__}: {e}"[:300]
    return result


class _Machine:
    def __init__(self, reader: Reader, result: WalkResult, depth: int) -> None:
        self.reader = reader
        self.result = result
        self.depth = depth
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    def flag(self, name: str | None, reason: str, pos: int) -> None:
        self.result.flags.append(Flag(name, reason, pos))

    def push(self, value: Any) -> None:
        self.stack.append(value)  # never a bound `self.stack.append`: MARK swaps the list

    def pop(self) -> Any:
        if not self.stack:
            raise PickleError("malformed pickle: stack underflow")
        return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise PickleError("malformed pickle: no MARK to pop to")
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def run(self) -> None:
        stopped = False
        for count, (opcode, arg, pos) in enumerate(pickletools.genops(self.reader), 1):
            if count > MAX_OPCODES:
                raise PickleError(f"not fully scanned: over {MAX_OPCODES:,} opcodes")
            name = opcode.name
            if name in _LITERAL_OPS:  # the bulk of any weights pickle: inlined for speed
                if isinstance(arg, (str, bytes, bytearray, Skipped)) and len(arg) > MAX_KEPT_BYTES:
                    arg = _Opaque("large literal")
                self.stack.append(arg)
                continue
            if name in _PUT_OPS and self.stack:
                self.memo[int(arg)] = self.stack[-1]
                continue
            self.step(name, arg, pos or 0)
            if name == "STOP":
                stopped = True
        if not stopped:
            raise PickleError("truncated pickle: the stream ends before STOP")

    def step(self, op: str, arg: Any, pos: int) -> None:
        push = self.push
        if op in ("PROTO", "FRAME", "STOP"):
            return
        if op == "MARK":
            self.marks.append(self.stack)
            self.stack = []
        elif op in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            g = self.import_global(module, name, pos)
            if op == "INST":
                push(_Call(g, self.pop_mark()))
            else:
                push(g)
        elif op == "STACK_GLOBAL":
            name, module = self.pop(), self.pop()
            if isinstance(module, str) and isinstance(name, str):
                push(self.import_global(module, name, pos))
            else:
                self.flag(
                    None,
                    "STACK_GLOBAL imports a name that is not known statically "
                    "(built or fetched at run time): cannot be checked, fail closed",
                    pos,
                )
                push(_Opaque("unknown global"))
        elif op in ("EXT1", "EXT2", "EXT4"):
            self.flag(
                None,
                f"{op} imports extension code {arg} through the copyreg registry: "
                "not known statically, fail closed",
                pos,
            )
            push(_Opaque("extension"))
        elif op == "REDUCE" or op == "NEWOBJ":
            args = self.pop()
            push(_Call(self.pop(), args))
        elif op == "NEWOBJ_EX":
            kwargs, args = self.pop(), self.pop()
            push(_Call(self.pop(), (args, kwargs)))
        elif op == "OBJ":
            items = self.pop_mark()
            if not items:
                raise PickleError("malformed pickle: OBJ without a class")
            push(_Call(items[0], items[1:]))
        elif op == "BUILD":
            state = self.pop()
            if not self.stack:
                raise PickleError("malformed pickle: BUILD on an empty stack")
            target = self.stack[-1]
            if isinstance(target, _Call):
                target.state = state
                if isinstance(target.func, _Global) and (
                    normalise(target.func.module, target.func.name) in _JOBLIB_WRAPPERS
                ):
                    self.joblib_array(state, pos)
        elif op in ("PERSID", "BINPERSID"):
            if op == "BINPERSID":
                self.pop()
            push(_Opaque("persistent id"))
        elif op in ("PUT", "BINPUT", "LONG_BINPUT"):
            if not self.stack:
                raise PickleError("malformed pickle: PUT on an empty stack")
            self.memo[int(arg)] = self.stack[-1]
        elif op == "MEMOIZE":
            if not self.stack:
                raise PickleError("malformed pickle: MEMOIZE on an empty stack")
            self.memo[len(self.memo)] = self.stack[-1]
        elif op in ("GET", "BINGET", "LONG_BINGET"):
            key = int(arg)
            if key not in self.memo:
                raise PickleError(f"malformed pickle: memo key {key} read before it is set")
            push(self.memo[key])
        elif op == "POP":
            if self.stack:
                self.stack.pop()
            else:
                self.pop_mark()
        elif op == "POP_MARK":
            self.pop_mark()
        elif op == "DUP":
            if not self.stack:
                raise PickleError("malformed pickle: DUP on an empty stack")
            push(self.stack[-1])
        elif op in ("EMPTY_LIST", "EMPTY_SET"):
            push([])
        elif op == "EMPTY_DICT":
            push(_Dict())
        elif op == "EMPTY_TUPLE":
            push(())
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(op[-1])
            if len(self.stack) < n:
                raise PickleError("malformed pickle: stack underflow")
            items = tuple(self.stack[-n:])
            del self.stack[-n:]
            push(items)
        elif op in ("TUPLE", "LIST", "FROZENSET"):
            items = self.pop_mark()
            push(tuple(items[:MAX_ITEMS]) if op != "LIST" else items[:MAX_ITEMS])
        elif op == "DICT":
            items = self.pop_mark()
            push(_Dict(list(zip(items[::2], items[1::2], strict=False))[:MAX_ITEMS]))
        elif op in ("APPEND", "APPENDS", "ADDITEMS", "SETITEM", "SETITEMS"):
            self.add_items(op)
        elif op in ("NEXT_BUFFER", "READONLY_BUFFER"):
            if op == "NEXT_BUFFER":
                push(_Opaque("out-of-band buffer"))
        else:  # every opcode that pushes its decoded argument
            push(self.literal(op, arg))

    def literal(self, op: str, arg: Any) -> Any:
        if op in ("NONE",):
            return None
        if op == "NEWTRUE":
            return True
        if op == "NEWFALSE":
            return False
        if isinstance(arg, Skipped):
            return _Opaque("large bytes")
        if isinstance(arg, (bytes, bytearray, str)) and len(arg) > MAX_KEPT_BYTES:
            return _Opaque("large literal")
        return arg

    def add_items(self, op: str) -> None:
        if op in ("APPEND", "SETITEM"):
            items = [self.pop()] if op == "APPEND" else [self.pop(), self.pop()][::-1]
        else:
            items = self.pop_mark()
        if not self.stack:
            raise PickleError(f"malformed pickle: {op} on an empty stack")
        target = self.stack[-1]
        if isinstance(target, list) and op in ("APPEND", "APPENDS", "ADDITEMS"):
            room = MAX_ITEMS - len(target)
            if room > 0:
                target.extend(items[:room])
        elif isinstance(target, _Dict) and op in ("SETITEM", "SETITEMS"):
            room = MAX_ITEMS - len(target.pairs)
            if room > 0:
                target.pairs.extend(list(zip(items[::2], items[1::2], strict=False))[:room])

    def import_global(self, module: str, name: str, pos: int) -> _Global:
        full = ".".join(normalise(module, name))
        self.result.globals_seen.add(full)
        if not is_safe(module, name):
            self.flag(full, reason_for(module, name), pos)
        return _Global(module, name)

    def joblib_array(self, state: Any, pos: int) -> None:
        """Skip the raw array joblib wrote after this BUILD, or walk its nested pickle."""
        if not isinstance(state, _Dict):
            raise PickleError("joblib array wrapper with an unreadable state: cannot skip it")
        dtype = _dtype_of(state.get("dtype"))
        shape = state.get("shape")
        if dtype is None or not isinstance(shape, tuple):
            raise PickleError("joblib array with a dtype or shape not known statically")
        kind, itemsize = dtype
        if kind == "O":
            if self.depth >= MAX_NESTING:
                raise PickleError("joblib object arrays nest too deeply")
            nested = walk(self.reader, self.depth + 1)
            self.result.flags.extend(nested.flags)
            self.result.globals_seen |= nested.globals_seen
            if nested.error:
                raise PickleError(f"nested object-array pickle at byte {pos}: {nested.error}")
            return
        if not all(isinstance(d, int) and d >= 0 for d in shape) or itemsize is None:
            raise PickleError("joblib array with a dtype or shape not known statically")
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.reader.read(1)
            if len(pad) != 1:
                raise PickleError("truncated joblib array padding")
            if self.reader.skip(pad[0]) != pad[0]:
                raise PickleError("truncated joblib array padding")
        need = math.prod(shape) * itemsize
        if self.reader.skip(need) != need:
            raise PickleError(f"truncated joblib array: {need} bytes declared")


def _dtype_of(value: Any) -> tuple[str, int | None] | None:
    """(kind, itemsize) of `numpy.dtype('f8', ...)` as it appears on the symbolic stack."""
    if not (isinstance(value, _Call) and isinstance(value.func, _Global)):
        return None
    if normalise(value.func.module, value.func.name)[1] != "dtype":
        return None
    args = value.args
    if not (isinstance(args, tuple) and args and isinstance(args[0], str)):
        return None
    code = args[0].lstrip("<>|=")
    if not code:
        return None
    kind, digits = code[0], code[1:]
    if kind == "O":
        return "O", None
    if kind == "b" and not digits:
        return kind, 1
    if not digits.isdigit():
        return kind, None
    size = int(digits)
    return kind, (4 * size if kind == "U" else size)
