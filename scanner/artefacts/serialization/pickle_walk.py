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

Framing (protocol 4+) is followed as the unpickler reads a *file*: a frame of N bytes is read
in one piece, so when a frame's declared length does not end exactly where an opcode ends, a
reader of the file and a reader of the same bytes in memory see different opcodes after it
(a frame that runs past STOP moves the file to the frame's end, where the next `pickle.load`
starts; an opcode that crosses the frame's end is read from after it). Every such frame is
flagged, and the walk records where a file reader resumes (`resume_at`).
"""

from __future__ import annotations

import math
import pickletools
from dataclasses import dataclass, field
from typing import Any

from scanner.artefacts.formats.archives import DecompressionLimit
from scanner.artefacts.serialization.allowlist import (
    conditional_call_allowed,
    is_conditional,
    is_safe,
    normalise,
)
from scanner.artefacts.serialization.readers import MemoryReader, Reader, Skipped
from scanner.artefacts.serialization.risks import risk_of

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
    risk: str | None = None  # what the global can do, for "imports X (risk) when loaded"


@dataclass
class WalkResult:
    flags: list[Flag] = field(default_factory=list)
    globals_seen: set[str] = field(default_factory=set)
    error: str | None = None  # why the walk stopped before STOP (flags before it still count)
    end: int | None = None  # reader position just after STOP
    resume_at: int | None = None  # where pickle.load on a file resumes, when not at `end`


class _Opaque:
    """A value only execution would produce (a call's result, a persistent id, ...)."""

    __slots__ = ("note",)

    def __init__(self, note: str) -> None:
        self.note = note


class _BigStr(_Opaque):
    """A str literal too long to keep: its type still matters (`_codecs.encode(str, ...)`)."""


_TEXT = (str, _BigStr)


@dataclass(frozen=True)
class _Global:
    module: str
    name: str
    conditional: bool = False  # allowed only in the call shapes `allowlist` names


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
    except (PickleError, DecompressionLimit) as e:
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
        self.frame_start = 0
        self.frame_end: float = math.inf  # end of the current frame; inf outside any frame
        # a conditionally allowed global must be used only as the callee of an allowed call:
        # every time one lands on the stack is counted against the calls that consume it
        self.conditional_pushes = 0
        self.conditional_calls = 0
        self.conditional_seen: _Global | None = None

    def flag(self, name: str | None, reason: str, pos: int, risk: str | None = None) -> None:
        self.result.flags.append(Flag(name, reason, pos, risk))

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
        # both readers are file-like (read, readline, tell); genops asks no more of them
        ops = pickletools.genops(self.reader)  # type: ignore[arg-type]
        for count, (opcode, arg, pos) in enumerate(ops, 1):
            if count > MAX_OPCODES:
                raise PickleError(f"not fully scanned: over {MAX_OPCODES:,} opcodes")
            pos = pos or 0
            if pos >= self.frame_end:
                self.leave_frame(pos)
            name = opcode.name
            if name in _LITERAL_OPS:  # the bulk of any weights pickle: inlined for speed
                if isinstance(arg, (str, bytes, bytearray, Skipped)) and len(arg) > MAX_KEPT_BYTES:
                    arg = _BigStr("large str") if isinstance(arg, str) else _Opaque("large literal")
                self.stack.append(arg)
                continue
            if name in _PUT_OPS and self.stack:
                self.memo[int(arg)] = self.stack[-1]  # type: ignore[arg-type]  # PUT has an int
                continue
            self.step(name, arg, pos)
            if name == "STOP":
                stopped = True
                self.stop(pos)
                break  # the next pickle, if any, is walked on its own (`walk_stream`)
        if not stopped:
            raise PickleError("truncated pickle: the stream ends before STOP")

    def leave_frame(self, pos: int) -> None:
        """The first opcode at or past the frame's end must start exactly at the end."""
        if pos != self.frame_end:
            self.flag(
                None,
                f"FRAME at byte {self.frame_start} declares it ends at byte "
                f"{int(self.frame_end)}, but an opcode runs across that end (the next starts at "
                f"byte {pos}): a file reader and a bytes reader disagree on what follows, "
                "fail closed",
                self.frame_start,
            )
        self.frame_end = math.inf

    def enter_frame(self, pos: int, length: int) -> None:
        if self.frame_end != math.inf:
            self.flag(
                None,
                f"FRAME at byte {pos} starts inside the frame declared at byte "
                f"{self.frame_start}, before its end at byte {int(self.frame_end)}: "
                "the frame lengths do not match the opcodes, fail closed",
                pos,
            )
        self.frame_start, self.frame_end = pos, pos + 9 + length

    def raw_bytes_follow(self, pos: int) -> None:
        """joblib reads array bytes from the file itself, which stands at the frame's end:
        joblib ends the frame right after the wrapper, and any other layout is flagged."""
        if self.frame_end == math.inf:
            return
        here = self.reader.tell()
        if here != self.frame_end:
            self.flag(
                None,
                f"joblib array data at byte {here} inside the frame declared at byte "
                f"{self.frame_start} (which ends at byte {int(self.frame_end)}): joblib would "
                "read it from the frame's end, fail closed",
                pos,
            )
        self.frame_end = math.inf

    def stop(self, pos: int) -> None:
        """STOP inside a frame must be its last byte: a longer frame hides what follows."""
        end = pos + 1
        self.result.end = end
        g = self.conditional_seen
        if g is not None and self.conditional_pushes > self.conditional_calls:
            self.flag_conditional(g, pos)
        if self.frame_end != math.inf and self.frame_end != end:
            resume = int(self.frame_end)
            self.flag(
                None,
                f"FRAME at byte {self.frame_start} declares {resume - self.frame_start - 9} "
                f"bytes, {resume - end} more than its opcodes up to STOP: pickle.load on a "
                f"file resumes at byte {resume}, a reader of the bytes at byte {end}; "
                "fail closed",
                self.frame_start,
            )
            self.result.resume_at = resume

    def step(self, op: str, arg: Any, pos: int) -> None:
        push = self.push
        if op == "FRAME":
            self.enter_frame(pos, int(arg))
            return
        if op in ("PROTO", "STOP"):
            return
        if op == "MARK":
            self.marks.append(self.stack)
            self.stack = []
        elif op in ("GLOBAL", "INST"):
            module, _, name = str(arg).partition(" ")
            g = self.import_global(module, name, pos)
            if op == "INST":
                push(self.call(g, tuple(self.pop_mark()), pos, op))
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
            push(self.call(self.pop(), args, pos, op))
        elif op == "NEWOBJ_EX":
            kwargs, args = self.pop(), self.pop()
            push(self.call(self.pop(), (args, kwargs), pos, op))
        elif op == "OBJ":
            items = self.pop_mark()
            if not items:
                raise PickleError("malformed pickle: OBJ without a class")
            push(self.call(items[0], tuple(items[1:]), pos, op))
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
            self.count_conditional(self.memo[key])
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
            self.count_conditional(self.stack[-1])
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
            pushed = tuple(self.stack[-n:])
            del self.stack[-n:]
            push(pushed)
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
            return _BigStr("large str") if isinstance(arg, str) else _Opaque("large literal")
        return arg

    def call(self, func: Any, args: Any, pos: int, op: str) -> _Call:
        """A call the unpickler makes; the one conditionally allowed global is checked here."""
        if isinstance(func, _Global) and func.conditional:
            if op == "REDUCE" and conditional_call_allowed(func.module, func.name, args, _TEXT):
                self.conditional_calls += 1
            else:
                self.flag_conditional(func, pos)
        return _Call(func, args)

    def count_conditional(self, value: Any) -> None:
        if isinstance(value, _Global) and value.conditional:
            self.conditional_pushes += 1

    def flag_conditional(self, g: _Global, pos: int) -> None:
        full = ".".join(normalise(g.module, g.name))
        risk = risk_of(g.module, g.name)
        self.flag(full, f"{full} {risk}", pos, risk)

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
        if is_conditional(module, name):  # judged where it is called (`call`) and at STOP
            g = _Global(module, name, conditional=True)
            self.conditional_seen = g
            self.conditional_pushes += 1
            return g
        if not is_safe(module, name):
            risk = risk_of(module, name)
            self.flag(full, f"{full} {risk}", pos, risk)
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
        self.raw_bytes_follow(pos)
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
