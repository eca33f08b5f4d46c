"""What a flagged global can do when a pickle imports or calls it, in words a reviewer needs.

The allowlist (`allowlist.py`) decides *whether* a global is flagged; this table only says
*why it matters*, so a finding reads "`evil.pkl` imports `posix.system` (runs operating-system
commands) when loaded" rather than naming a symbol. A global that is not described here is
still flagged: it is off the allowlist, and importing or calling it may run code.

Entries name a module (every name in it and its submodules) or one `module.name`; the most
specific entry wins. Module names are normalised first (`__builtin__` -> `builtins`), as the
unpickler does.
"""

from __future__ import annotations

from scanner.artefacts.serialization.allowlist import normalise

_RUNS_COMMANDS = "runs operating-system commands or touches files"
_RUNS_SOURCE = "runs Python source given as a string"
_NESTED = "loads another pickle, whose content this scan cannot see"

# module -> what any of its names can do
_MODULES: dict[str, str] = {
    "os": _RUNS_COMMANDS,
    "posix": _RUNS_COMMANDS,
    "nt": _RUNS_COMMANDS,
    "subprocess": "starts processes",
    "pty": "starts processes",
    "multiprocessing": "starts processes",
    "asyncio": "starts processes or opens network connections",
    "commands": "starts processes",
    "popen2": "starts processes",
    "runpy": "runs Python modules or files",
    "code": _RUNS_SOURCE,
    "codeop": "compiles Python source",
    "cProfile": _RUNS_SOURCE,
    "profile": _RUNS_SOURCE,
    "trace": _RUNS_SOURCE,
    "timeit": _RUNS_SOURCE,
    "pdb": _RUNS_SOURCE,
    "bdb": _RUNS_SOURCE,
    "doctest": _RUNS_SOURCE,
    "idlelib": _RUNS_SOURCE,
    "lib2to3": _RUNS_SOURCE,
    "importlib": "imports arbitrary modules",
    "pkgutil": "imports arbitrary modules",
    "zipimport": "imports arbitrary modules",
    "pydoc": "imports arbitrary modules or runs a pager command",
    "sys": "changes the running interpreter (exit, modules, hooks)",
    "socket": "opens network connections",
    "ssl": "opens network connections",
    "http": "makes network requests",
    "httplib": "makes network requests",
    "urllib": "makes network requests",
    "urllib2": "makes network requests",
    "requests": "makes network requests",
    "aiohttp": "makes network requests",
    "ftplib": "makes network requests",
    "smtplib": "makes network requests",
    "imaplib": "makes network requests or starts processes",
    "poplib": "makes network requests",
    "telnetlib": "makes network requests",
    "xmlrpc": "makes network requests",
    "webbrowser": "opens URLs in a browser (runs a program)",
    "shutil": "copies, moves or deletes files",
    "tempfile": "creates files",
    "io": "opens files",
    "_io": "opens files",
    "logging": "opens or writes files and sockets",
    "distutils": "writes files or runs compilers",
    "setuptools": "writes files or runs commands",
    "ensurepip": "runs pip (installs packages)",
    "pip": "runs pip (installs packages)",
    "venv": "creates environments and runs commands",
    "pickle": _NESTED,
    "_pickle": _NESTED,
    "cPickle": _NESTED,
    "cloudpickle": _NESTED,
    "dill": _NESTED,
    "joblib": _NESTED,
    "shelve": _NESTED,
    "marshal": "loads Python bytecode",
    "types": "builds functions or code objects (runs bytecode)",
    "ctypes": "calls native code and loads shared libraries",
    "_ctypes": "calls native code and loads shared libraries",
    "cffi": "calls native code and loads shared libraries",
    "operator": "fetches attributes or calls methods by name",
    "functools": "wraps another callable to call it later",
    "numpy.testing": _RUNS_SOURCE,
    "numpy.f2py": "evaluates strings as Python",
    "numpy.distutils": "writes files or runs compilers",
    "torch.serialization": _NESTED,
    "torch.hub": "downloads and runs code",
    "torch.jit": "loads or runs TorchScript code",
    "torch.utils.collect_env": "runs operating-system commands",
    "torch.utils.bottleneck": _RUNS_SOURCE,
    "torch._dynamo": _RUNS_SOURCE,
    "torch._inductor": "runs compilers or operating-system commands",
    "torch.fx": _RUNS_SOURCE,
    "torch.utils.data.datapipes": _NESTED,
    "torch.utils._config_module": _NESTED,
    "keras": "builds layers that may hold Python code",
    "tensorflow": "runs TensorFlow operations (file access, Python functions)",
}
# module.name -> what it can do (more specific than its module's entry)
_NAMES: dict[str, str] = {
    "builtins.eval": "evaluates a string as Python",
    "builtins.exec": "runs a string as Python",
    "builtins.compile": "compiles Python source into code to run",
    "builtins.apply": "calls any callable",
    "builtins.getattr": "reaches any attribute (e.g. os.system) of any object",
    "builtins.setattr": "changes attributes of any object",
    "builtins.delattr": "deletes attributes of any object",
    "builtins.__import__": "imports arbitrary modules",
    "builtins.open": "opens files for reading or writing",
    "builtins.input": "reads from the console",
    "builtins.breakpoint": "starts a debugger",
    "builtins.globals": "reaches every global of the unpickler's module",
    "builtins.locals": "reaches local variables",
    "builtins.vars": "reaches the attributes of any object",
    "builtins.help": "starts the interactive help (a pager)",
    "builtins.exit": "exits the interpreter",
    "builtins.quit": "exits the interpreter",
    "builtins.type": "builds new classes",
    "builtins.memoryview": "exposes raw memory of objects",
    "_codecs.encode": (
        "looks a codec up by name, which can import modules; allowed only as pickle protocol 2 "
        "writes bytes: encode(str, 'latin1')"
    ),
    "_codecs.decode": "looks a codec up by name, which can import modules",
    "codecs.lookup": "looks a codec up by name, which can import modules",
    "sys.exit": "exits the interpreter",
    "sys.modules": "reaches and replaces every loaded module",
    "torch.load": _NESTED,
    "torch.storage._load_from_bytes": _NESTED,
    "torch._C._load_for_lite_interpreter": "loads TorchScript code",
    "numpy.load": _NESTED,
    "pandas.read_pickle": _NESTED,
    "functools.partial": "wraps another callable with arguments, to call it later",
    "functools.reduce": "calls any callable repeatedly",
    "operator.attrgetter": "fetches attributes (e.g. os.system) by name",
    "operator.itemgetter": "fetches items by key",
    "operator.methodcaller": "calls any method by name",
    "ssl.get_server_certificate": "opens network connections (DNS and TLS to any host)",
}
_UNKNOWN = "may run code: it is not on the allowlist of safe globals"


def risk_of(module: str, name: str) -> str:
    """What importing or calling `module.name` can do, as a predicate ("runs ...")."""
    module, name = normalise(module, name)
    full = f"{module}.{name}"
    if full in _NAMES:
        return _NAMES[full]
    # `idlelib.run Executive.runcode` names a method: its class and module describe it too
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in _MODULES:
            return _MODULES[prefix]
    return _UNKNOWN
