"""A pickle interpreter that cannot run code: the one restricted unpickler in soma.

``pickle.load`` calls whatever function a file names, so loading a downloaded pickle runs the
downloader's code. ``SafeUnpickler`` executes the opcodes itself and builds only plain data:
dicts, lists, tuples, ints, floats, strings, bytes, booleans and None. A global the pickle
names is never imported: a reader subclass decides which ``(module, name)`` pairs it knows
(``find_global``) and plays them with its own code (``call`` for REDUCE, ``build`` for BUILD,
``persistent_load`` for persistent ids). Every other global or opcode, a newer protocol than
``max_protocol``, or a malformed stream raises the reader's error, naming the file, the byte
offset and the reason.

Two readers use it: CIFAR's batch files (``data/datasets/safe_pickle.py``: NumPy arrays) and
the pickle inside a ``torch.save`` archive (``io/_torch_pickle.py``: tensors and storages).
It sits at the bottom of the tree, next to ``backend/``, because it needs only the standard
library and both ``data/`` and ``io/`` import it.

Strings written by Python 2 (``SHORT_BINSTRING``/``BINSTRING``) come back as ``bytes``, like
``pickle.load(f, encoding="bytes")``.
"""

import pickletools
import struct


class SafeUnpickler:
    """Runs the data opcodes of protocols 0..``max_protocol`` over ``data``; ``run()`` returns
    the object. Subclasses set the error classes and override the hooks below."""

    max_protocol = 5
    unsafe_error = ValueError  # the pickle asks for something other than plain data
    malformed_error = ValueError  # the stream is damaged or truncated

    def __init__(self, data: bytes, where: str):
        self.data, self.where, self.pos = data, where, 0
        self.stack, self.marks, self.memo = [], [], {}
        u1, u4 = (lambda: self._unpack("<B")), (lambda: self._unpack("<I"))
        ops = {
            "PROTO": self._proto,
            "FRAME": lambda: self._unpack("<Q"),
            "MARK": self._mark,
            "EMPTY_DICT": lambda: self._push({}),
            "EMPTY_LIST": lambda: self._push([]),
            "EMPTY_TUPLE": lambda: self._push(()),
            "NONE": lambda: self._push(None),
            "NEWTRUE": lambda: self._push(True),
            "NEWFALSE": lambda: self._push(False),
            "BININT1": lambda: self._push(u1()),
            "BININT2": lambda: self._push(self._unpack("<H")),
            "BININT": lambda: self._push(self._unpack("<i")),
            "LONG1": self._long1,
            "BINFLOAT": lambda: self._push(self._unpack(">d")),
            "SHORT_BINSTRING": lambda: self._push(self._take(u1())),
            "BINSTRING": lambda: self._push(self._take(u4())),
            "SHORT_BINBYTES": lambda: self._push(self._take(u1())),
            "BINBYTES": lambda: self._push(self._take(u4())),
            "BINUNICODE": lambda: self._push(self._utf8(u4())),
            "SHORT_BINUNICODE": lambda: self._push(self._utf8(u1())),
            "BINPUT": lambda: self._put(u1()),
            "LONG_BINPUT": lambda: self._put(u4()),
            "MEMOIZE": lambda: self._put(len(self.memo)),
            "BINGET": lambda: self._push(self.memo[u1()]),
            "LONG_BINGET": lambda: self._push(self.memo[u4()]),
            "TUPLE": lambda: self._push(tuple(self._pop_mark())),
            "TUPLE1": lambda: self._tuple(1),
            "TUPLE2": lambda: self._tuple(2),
            "TUPLE3": lambda: self._tuple(3),
            "LIST": lambda: self._push(self._pop_mark()),
            "APPEND": self._append,
            "APPENDS": self._appends,
            "DICT": lambda: self._push(self._pairs(self._pop_mark(), {})),
            "SETITEM": self._setitem,
            "SETITEMS": self._setitems,
            "GLOBAL": lambda: self._global(self._line(), self._line()),
            "STACK_GLOBAL": self._stack_global,
            "REDUCE": self._reduce,
            "BUILD": self._build,
            "BINPERSID": lambda: self._push(self.persistent_load(self.stack.pop())),
        }
        by_name = {op.name: op for op in pickletools.opcodes}
        self.ops = {
            ord(by_name[name].code): handler
            for name, handler in ops.items()
            if by_name[name].proto <= self.max_protocol
        }

    # ------------------------------------------------------------------ hooks for readers
    def find_global(self, module: str, name: str):
        """The stand-in for an allowed global (never the real object), or None to refuse."""
        return None

    def allowed_globals(self) -> str:
        """Says, in a refusal, what this reader allows."""
        return "only plain data is allowed"

    def call(self, fn, args):
        """REDUCE: apply an allowed global's stand-in ``fn`` to the tuple ``args``."""
        self.refuse(f"a call of {type(fn).__name__}")

    def build(self, target, state):
        """BUILD: give ``target`` (the top of the stack) its ``state``."""
        self.refuse(f"BUILD on a {type(target).__name__}")

    def persistent_load(self, pid):
        """BINPERSID: the object a persistent id stands for."""
        self.refuse(f"the persistent id {pid!r:.80}")

    def finish(self, value):
        """The result, once STOP is read."""
        return value

    def message(self, reason: str) -> str:
        return f"{self.where}: pickle byte {self.pos}: {reason}"

    # ------------------------------------------------------------------ errors and the loop
    def refuse(self, reason: str):
        raise self.unsafe_error(self.message(reason))

    def malformed(self, reason: str):
        raise self.malformed_error(self.message(reason))

    def run(self):
        try:
            return self._run()
        except RecursionError:
            self.malformed("containers nested too deeply")

    def _run(self):
        while True:
            if self.pos >= len(self.data):
                self.malformed("the pickle ends before its STOP opcode (truncated file?)")
            op = self.data[self.pos]
            self.pos += 1
            if op == ord("."):  # STOP
                if len(self.stack) != 1 or self.marks:
                    self.malformed("STOP with a malformed stack")
                return self.finish(self.stack.pop())
            handler = self.ops.get(op)
            if handler is None:
                known = pickletools.code2op.get(chr(op))
                name = known.name if known else "unknown"
                self.refuse(
                    f"opcode 0x{op:02x} ({name}) is not one this reader allows; "
                    f"{self.allowed_globals()}"
                )
            try:
                handler()
            except (self.unsafe_error, self.malformed_error):
                raise
            except (
                IndexError,
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
                struct.error,
            ) as e:
                name = pickletools.code2op[chr(op)].name
                self.malformed(
                    f"malformed stream near opcode 0x{op:02x} ({name}) ({type(e).__name__}: {e})"
                )

    # ------------------------------------------------------------------ bytes
    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            self.malformed(
                f"a value of {n} bytes runs past the end: the pickle is cut short (truncated?)"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def _unpack(self, fmt: str):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _utf8(self, n: int) -> str:
        return self._take(n).decode("utf-8", "surrogatepass")

    def _line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 256)
        if end < 0:
            self.malformed("unterminated GLOBAL name")
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def _proto(self):
        version = self._unpack("<B")
        if version > self.max_protocol:
            self.refuse(
                f"pickle protocol {version} (this reader reads protocols 0-{self.max_protocol})"
            )

    def _long1(self):
        self._push(int.from_bytes(self._take(self._unpack("<B")), "little", signed=True))

    # ------------------------------------------------------------------ stack and memo
    def _push(self, value):
        self.stack.append(value)

    def _mark(self):
        self.marks.append(self.stack)
        self.stack = []

    def _pop_mark(self) -> list:
        items = self.stack
        self.stack = self.marks.pop()
        return items

    def _put(self, key):
        self.memo[key] = self.stack[-1]

    def _tuple(self, n):
        if len(self.stack) < n:
            raise IndexError("stack underflow")
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self._push(items)

    # ------------------------------------------------------------------ containers
    def _container(self, kind, op):
        target = self.stack[-1]
        if not isinstance(target, kind):
            self.malformed(f"{op} on a {type(target).__name__}, not a {kind.__name__}")
        return target

    def _append(self):
        value = self.stack.pop()
        self._container(list, "APPEND").append(value)

    def _appends(self):
        items = self._pop_mark()
        self._container(list, "APPENDS").extend(items)

    def _setitem(self):
        value, key = self.stack.pop(), self.stack.pop()
        self._pairs([key, value], self._container(dict, "SETITEM"))

    def _setitems(self):
        items = self._pop_mark()
        self._pairs(items, self._container(dict, "SETITEMS"))

    def _pairs(self, items: list, target: dict) -> dict:
        if len(items) % 2:
            self.malformed("a dict needs key/value pairs")
        for key, value in zip(items[::2], items[1::2]):
            if not (isinstance(key, (str, bytes, int, float, tuple)) or key is None):
                self.malformed(f"a dict key of type {type(key).__name__}")
            target[key] = value
        return target

    # ------------------------------------------------------------------ globals and calls
    def _stack_global(self):
        name, module = self.stack.pop(), self.stack.pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            raise TypeError("STACK_GLOBAL needs two strings")
        self._global(module, name)

    def _global(self, module: str, name: str):
        stand_in = self.find_global(module, name)
        if stand_in is None:
            self.refuse(f"refusing the global '{module}.{name}': {self.allowed_globals()}")
        self._push(stand_in)

    def _build(self):
        state = self.stack.pop()
        self.build(self.stack[-1], state)

    def _reduce(self):
        args, fn = self.stack.pop(), self.stack.pop()
        if not isinstance(args, tuple):
            raise TypeError("REDUCE applies a global to a tuple")
        self._push(self.call(fn, args))
