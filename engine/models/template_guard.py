"""Chat templates render within a time, memory and size budget.

A model folder's chat template is a program (Jinja) that runs on the engine thread each time a
prompt is built. transformers renders it in jinja2's ``ImmutableSandboxedEnvironment``, which
stops it reaching Python's internals but not from running for hours (nested ``range(100000)``
loops) or allocating gigabytes in one operation (``'x' * 1000000000``).

Two layers:

1. ``install()`` makes transformers compile every chat template in ``GuardedEnvironment``, a
   subclass of its sandbox that bounds every single operation (jinja2's own hooks:
   ``intercepted_binops``/``call_binop``, ``call``, ``wrap_str_format``, the filters, ``finalize``,
   ``concat``): no value a template computes may exceed ``VALUE_CAP`` characters (or items), no
   number ``NUMBER_BITS`` bits, and no output ``OUTPUT_CAP`` characters. Each check runs
   *before* the operation, so nothing big is ever allocated.
2. ``guarded(render, folder)`` runs one render under a deadline (``SECONDS``) and a memory budget
   (``MEMORY_BYTES`` of resident growth): a watch thread checks both every ``CHECK_EVERY`` seconds
   and stops the render by raising in its thread (ADR 0024).

A refusal is ``ModelRejected`` in one line naming the folder. ``Backend.load`` renders the
model's prompt once through ``guarded`` (the first render of a template is always the guarded
one); later renders of other prompts go through it too.
"""

from __future__ import annotations

import functools
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Template
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

from .store import ModelRejected

SECONDS = 2.0  # one render (including compiling the template)
MEMORY_BYTES = 256 * 1024 * 1024  # resident growth during one render
VALUE_CAP = 1_000_000  # characters (or items) in any value a template computes
OUTPUT_CAP = 1_000_000  # characters a template renders
NUMBER_BITS = 4096  # integers a template computes (10**1233)
CHECK_EVERY = 0.01  # seconds between two looks at the resident size
# A stop can land where Python drops exceptions ("Exception ignored in": a __del__, a weakref or gc callback run
# in the rendering thread). While the render has not ended, the watch raises it again this often (seconds).
RESTOP_EVERY = 0.01
MAX_STACK_WALK = 10_000  # frames looked at for the render's own (Python's recursion limit is 1,000 by default)

T = TypeVar("T")
_monotonic = time.monotonic  # the watch's clock (a test may stand in for it)


class TemplateRefused(BaseException):
    """A template went over a budget. A BaseException, so that no ``except Exception`` in
    jinja2, transformers or mlx-vlm swallows it and carries on without the guard."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ sizes
def text_size(value: Any, budget: int = VALUE_CAP) -> int:
    """About how many characters ``str(value)`` (or ``json.dumps``) would make; stops counting
    past ``budget`` (returns ``budget + 1``). Containers are walked, bounded by ``budget`` items."""
    total, stack, seen = 0, [value], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return budget + 1
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2
            for k, v in item.items():
                stack.append(k)
                stack.append(v)
                total += 2
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            stack.extend(item)
        elif isinstance(item, Namespace):
            try:
                stack.append(object.__getattribute__(item, "_Namespace__attrs"))
            except AttributeError:
                total += 16
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 16
        if total > budget:
            return budget + 1
    return total


def _too_big(what: str, size: int, cap: int = VALUE_CAP) -> None:
    if size > cap:
        raise TemplateRefused(f"makes {what} of more than {cap:,} characters")


def _check_args(args: tuple, kwargs: dict, where: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > VALUE_CAP:
            raise TemplateRefused(f"passes {value:g} to {where} (at most {VALUE_CAP:,})")
        if isinstance(value, float) and math.isfinite(value) and abs(value) > VALUE_CAP:
            raise TemplateRefused(f"passes {value:g} to {where} (at most {VALUE_CAP:,})")
        _too_big(f"an argument to {where}", text_size(value))


_FORMAT_WIDTH = re.compile(r"\{[^{}]*?\d{7,}[^{}]*\}|%[-#0 +]*(\d{7,}|\*)|%[-#0 +]*\d*\.(\d{7,}|\*)")


def _check_format(fmt: Any, args: Any) -> None:
    if isinstance(fmt, str):
        if _FORMAT_WIDTH.search(fmt):
            raise TemplateRefused("formats a value wider than 1,000,000 characters")
        _too_big("a formatted string", len(fmt) + text_size(args))


def _replace_size(s: str, old: str, new: str, count: int = -1) -> int:
    n = len(s) + 1 if old == "" else s.count(old)
    if isinstance(count, int) and count >= 0:
        n = min(n, count)
    return len(s) + n * (len(new) - len(old))


def _materialize(items: Any) -> Any:
    """A generator argument as a list (bounded), so that its size can be checked before use."""
    if isinstance(items, (str, bytes, list, tuple, dict, set, frozenset)):
        return items
    try:
        out = []
        for item in items:
            out.append(item)
            if len(out) > VALUE_CAP:
                raise TemplateRefused(f"iterates over more than {VALUE_CAP:,} items")
        return out
    except TypeError:
        return items


# ------------------------------------------------------------- operations
def _binop(op: str, left: Any, right: Any) -> None:
    """Refuse ``left op right`` when its result would be too big (checked before it is made)."""
    seqs = (str, bytes, list, tuple)
    if op == "*":
        if isinstance(left, seqs) and isinstance(right, int):
            _too_big("a repeated value", len(left) * max(0, right))
        elif isinstance(right, seqs) and isinstance(left, int):
            _too_big("a repeated value", len(right) * max(0, left))
        elif isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > NUMBER_BITS:
            raise TemplateRefused(f"multiplies numbers beyond {NUMBER_BITS} bits")
    elif op == "**":
        if (isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
                and right * math.log2(abs(left)) > NUMBER_BITS):
            raise TemplateRefused(f"raises a number beyond {NUMBER_BITS} bits")
    elif op == "+":
        if isinstance(left, seqs) and isinstance(right, seqs):
            _too_big("a concatenation", len(left) + len(right))
    elif op == "%" and isinstance(left, str):
        _check_format(left, right)


def _capped_join(parts, what: str = "output", cap: int = OUTPUT_CAP) -> str:
    out, total = [], 0
    for part in parts:
        total += len(part) if isinstance(part, str) else text_size(part)
        if total > cap:
            raise TemplateRefused(f"renders {what} of more than {cap:,} characters")
        out.append(part if isinstance(part, str) else str(part))
    return "".join(out)


def _guard_str_join(original: Callable) -> Callable:
    """``a ~ b`` (jinja's str_join / markup_join): its parts' sizes checked before joining."""

    @functools.wraps(original)
    def join(seq):
        seq = list(seq)
        _too_big("a joined string", sum(text_size(x) for x in seq))
        return original(seq)

    return join


# Filters that make text far larger than their arguments: each gets a size estimate first.
def _filter_precheck(name: str, args: tuple, kwargs: dict) -> tuple:
    values = list(args)
    if name in ("join",) and values:
        # the sequence may be a generator: make it a list (bounded) once, and check the result
        values[0] = _materialize(values[0])
        sep = values[1] if len(values) > 1 else kwargs.get("d", "")
        items = values[0] if isinstance(values[0], (list, tuple)) else [values[0]]
        _too_big("a joined string", text_size(items) + len(str(sep)) * len(items))
    elif name == "indent" and values:
        width = values[1] if len(values) > 1 else kwargs.get("width", 4)
        lines = str(values[0]).count("\n") + 1 if isinstance(values[0], str) else 1
        pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 4
        _too_big("an indented string", text_size(values[0]) + lines * max(0, pad))
    elif name == "replace" and len(values) >= 3 and all(isinstance(v, str) for v in values[:3]):
        count = values[3] if len(values) > 3 else kwargs.get("count", -1)
        count = -1 if count is None else count
        _too_big("a replaced string", _replace_size(values[0], values[1], values[2], count))
    elif name == "format" and values:
        _check_format(values[0], (values[1:], kwargs))
    elif name == "tojson":
        indent = kwargs.get("indent", values[2] if len(values) > 2 else None)
        if isinstance(indent, int) and indent > 64:
            raise TemplateRefused(f"indents JSON by {indent} (at most 64)")
    return tuple(values)


def _guard_filter(name: str, func: Callable) -> Callable:
    if getattr(func, "_ocr_tray_guarded", False):
        return func

    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0  # context / eval context / env first

    @functools.wraps(func)
    def guarded(*args, **kwargs):
        _check_args(args[skip:], kwargs, f"the {name} filter")
        args = args[:skip] + _filter_precheck(name, args[skip:], kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, (str, list, tuple)):
            _too_big(f"a value (the {name} filter)", len(result))
        return result

    guarded._ocr_tray_guarded = True  # type: ignore[attr-defined]
    return guarded


class _GuardedFilters(dict):
    """The environment's filters, each wrapped when it is set (transformers adds ``tojson`` later)."""

    def __init__(self, filters: dict) -> None:
        super().__init__()
        for name, func in filters.items():
            self[name] = func

    def __setitem__(self, name, func) -> None:
        super().__setitem__(name, _guard_filter(name, func) if callable(func) else func)

    def update(self, *args, **kwargs) -> None:
        for name, func in dict(*args, **kwargs).items():
            self[name] = func


def _finalize(value: Any) -> Any:
    """Every ``{{ expression }}`` before it is turned into text."""
    _too_big("an output value", text_size(value))
    return value


class _GuardedTemplate(Template):
    """Templates whose ``~`` operator (str_join / markup_join) checks sizes before joining."""

    @classmethod
    def _from_namespace(cls, environment, namespace, globals):
        for name in ("str_join", "markup_join"):
            if callable(namespace.get(name)):
                namespace[name] = _guard_str_join(namespace[name])
        return super()._from_namespace(environment, namespace, globals)


class GuardedEnvironment(ImmutableSandboxedEnvironment):
    """transformers' sandbox for chat templates, with every operation bounded (module text)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_capped_join)
    template_class = _GuardedTemplate

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("finalize", _finalize)
        super().__init__(*args, **kwargs)
        self.filters = _GuardedFilters(self.filters)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja2's own signature)
        name = getattr(__obj, "__name__", type(__obj).__name__)
        _check_args(args, kwargs, f"{name}()")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                _too_big("a replaced string", _replace_size(owner, args[0], args[1], args[2] if len(args) > 2 else -1))
            elif name == "join" and args:
                items = _materialize(args[0])
                args = (items, *args[1:])
                n = len(items) if hasattr(items, "__len__") else 1
                _too_big("a joined string", text_size(items) + len(owner) * n)
            elif name == "expandtabs":
                tab = args[0] if args else kwargs.get("tabsize", 8)
                if isinstance(tab, int):
                    _too_big("an expanded string", len(owner) * max(1, tab))
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, (str, bytes, list, tuple)):
            _too_big(f"a value ({name}())", len(result))
        return result

    def wrap_str_format(self, value: Any):
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        fmt = value.__self__

        @functools.wraps(wrapper)
        def checked(*args, **kwargs):
            _check_format(fmt, (args, kwargs))
            result = wrapper(*args, **kwargs)
            _too_big("a formatted string", len(result))
            return result

        return checked


# ------------------------------------------------------------------ install
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Make transformers compile chat templates in ``GuardedEnvironment`` (once; idempotent).

    transformers 5 builds its sandbox in ``chat_template_utils._cached_compile_jinja_template``
    by the module-level name ``ImmutableSandboxedEnvironment``; that name is pointed at the
    guarded subclass and the compiled-template cache emptied, so no template compiled without
    the guard is used afterwards.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        from transformers.utils import chat_template_utils as ctu

        if not isinstance(getattr(ctu, "ImmutableSandboxedEnvironment", None), type):
            raise RuntimeError("transformers no longer builds chat templates where OCR Tray guards them")
        setattr(ctu, "ImmutableSandboxedEnvironment", GuardedEnvironment)  # noqa: B010
        ctu._compile_jinja_template.cache_clear()
        _installed = True


def installed() -> bool:
    return _installed


# ------------------------------------------------------------------- render
class _Stopped(TemplateRefused):
    """What the watch raises in the rendering thread (Python makes it with no arguments, at the moment it
    lands); the reason is the watch's own."""

    def __init__(self) -> None:
        super().__init__("was stopped")


def _raise_in(thread_id: int, exception: type[BaseException]) -> None:
    """Raise ``exception`` in thread ``thread_id`` at its next Python instruction (CPython's
    ``PyThreadState_SetAsyncExc``; a second call before the first has landed replaces it). Never cancelled: on
    Python 3.11 a cancelled one leaves the interpreter's "something pending" flag up, and the next traced call
    spins on it for good."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exception))


def _rendering(render: Callable[[], T], watch: _Watch) -> T:
    """The render's own frame: while it is on the rendering thread's stack, a stop lands inside the render. The
    watch knows this call's frame itself, not only the function's code: a watch that outlives its render (its
    ``disarm`` cut short by a stop) must never see the next render's frame as its own."""
    watch.frame = sys._getframe()
    return render()


class _Watch:
    """One render's deadline and memory budget, checked every ``CHECK_EVERY`` seconds from a thread of its
    own. Once one is broken, the watch raises ``_Stopped`` in the rendering thread, and again every
    ``RESTOP_EVERY`` seconds, for as long as that thread is inside the render (``_rendering`` on its stack):
    a stop that lands in a ``__del__``, a weakref or a gc callback is dropped by Python ("Exception ignored
    in"), and the render would run on. No stop is raised once the render's frame has left the stack, so none
    lands in the caller's code; the watch then ends."""

    def __init__(self, seconds: float, memory_bytes: int) -> None:
        import psutil

        self.seconds, self.memory_bytes = seconds, memory_bytes
        self.target = threading.get_ident()
        self.process = psutil.Process()
        self.start_rss = self.process.memory_info().rss
        self.deadline = _monotonic() + seconds
        self.reason: str | None = None  # why the render was stopped, once it is
        self.stopped = False  # a stop has been raised in the rendering thread
        self.frame: Any = None  # the render's frame (``_rendering``), once it runs
        self._lock = threading.Lock()
        self._armed = True
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="template-watch", daemon=True)
        self._thread.start()

    def _broken(self) -> str | None:
        if _monotonic() > self.deadline:
            return f"ran for more than {self.seconds:g} s"
        if self.process.memory_info().rss - self.start_rss > self.memory_bytes:
            return f"took more than {self.memory_bytes // (1024 * 1024)} MB of memory"
        return None

    def _inside_render(self) -> bool:
        mine = self.frame
        if mine is None:
            return False
        frame = sys._current_frames().get(self.target)
        depth = 0
        while frame is not None and depth < MAX_STACK_WALK:
            if frame is mine:
                return True
            frame, depth = frame.f_back, depth + 1
        return False

    def _run(self) -> None:
        every = CHECK_EVERY
        while not self._done.wait(every):
            reason = self.reason or self._broken()
            if reason is None:
                continue
            with self._lock:
                if not self._armed:
                    return
                if not self._inside_render():
                    if self.stopped:  # stopped, and out of the render (disarm may have been cut short by it)
                        return
                    continue  # not in it yet: the next look
                self.reason = reason
                self.stopped = True
                _raise_in(self.target, _Stopped)
            every = RESTOP_EVERY

    def disarm(self) -> None:
        """On the rendering thread, after the render: no stop is raised after this, and one raised just as the
        render ended lands here (at the next instruction), not in the caller's code later."""
        with self._lock:
            self._armed = False
        self.frame = None
        self._done.set()
        self._thread.join()
        if self.stopped:
            give_up = time.perf_counter() + 0.005  # not _monotonic: the deadline's clock, which tests may stop
            try:
                while time.perf_counter() < give_up:
                    pass
            except _Stopped:
                pass


def guarded(render: Callable[[], T], folder: Path | str | None, seconds: float = SECONDS,
            memory_bytes: int = MEMORY_BYTES) -> T:
    """``render()`` (a chat-template render, on this thread) within ``seconds`` and ``memory_bytes``
    of resident growth, its output at most ``OUTPUT_CAP`` characters; ModelRejected otherwise.

    The budgets are watched from another thread, which stops the render by raising ``TemplateRefused`` in
    this one (Python delivers it at the render's next instruction, so a loop in the template's own code is
    stopped within a few milliseconds). A tracer on this thread did the same but made every Python call
    of jinja's compiler a look at the clock: the first render, which compiles the template, took 3-6x longer
    (40-70 ms of each model load, against 10-20 ms without it). The caller's tracer (a debugger, coverage)
    is left alone."""
    install()
    watch = _Watch(seconds, memory_bytes)
    try:
        try:
            out = _rendering(render, watch)
        finally:
            watch.disarm()
    except TemplateRefused as e:
        reason = watch.reason if isinstance(e, _Stopped) and watch.reason else e.reason
        raise ModelRejected(f"model folder {folder}: its chat template {reason}; refused") from None
    if watch.reason is not None:  # a budget ran out just as the render ended: refused all the same
        raise ModelRejected(f"model folder {folder}: its chat template {watch.reason}; refused")
    if isinstance(out, str) and len(out) > OUTPUT_CAP:
        raise ModelRejected(f"model folder {folder}: its chat template renders more than {OUTPUT_CAP:,} "
                            "characters; refused")
    return out
