"""The command line's logging and its live progress line.

Input: the root options `-v/--verbose` (repeatable) and `-q/--quiet`, and the log records of
the library (module loggers under `pebdsl`, pebdsl/logs.py). Output on stderr only:
- log records through rich's `RichHandler` (made on the first record, so `check` does not
  import rich for nothing): WARNING and above by default, INFO with `-v` (each stage of a
  solve), DEBUG with `-vv`; only errors with `-q`. `-q` also silences what the commands print
  besides errors and the documents asked for (`--json`, `--format`, `compile` to stdout): the
  summaries, `ok:` lines, warnings, notes and progress bars (`quiet()` tells them). Exit codes
  do not change.
- `progress(label)` (a decorator of `solve`): while it runs, a line that names the current
  stage (resolve, lower, hand-off, solve, settle, write: the `pebdsl_stage` of the records)
  and the time since the start, redrawn every 0.1 s once the run has taken
  `PEBDSL_PROGRESS_DELAY` seconds (default 2), erased at the end. Only when stderr is a
  terminal and not `-q`: piped or captured output never gets it. A log record shown
  meanwhile erases the line first.
Part of the command line (cli.py calls it). Raises nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pebdsl.logs import STAGE_ATTR, STAGES, stage
from pebdsl.safetext import terminal_text

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("pebdsl.cli")

_STATE: dict[str, Any] = {"quiet": False, "progress": None}


def quiet() -> bool:
    """`-q` was given: print nothing but errors and the documents asked for."""
    return bool(_STATE["quiet"])


class _LazyRichHandler(logging.Handler):
    """A RichHandler on stderr, made on the first record (rich costs ~50 ms to import)."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self._rich: logging.Handler | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self._rich is None:
            from rich.console import Console
            from rich.logging import RichHandler

            self._rich = RichHandler(
                console=Console(stderr=True), show_path=False, markup=False, show_time=False
            )
        line = _STATE["progress"]
        if line is not None:
            line.erase()
        self._rich.handle(record)


def configure(verbose: int, quiet_flag: bool) -> Callable[[], None]:
    """Set up the `pebdsl` logger for the command line (see the module docstring); returns
    what undoes it (the Typer app calls it when the command ends, so a command run inside a
    Python process leaves the library's logging as it found it)."""
    _STATE["quiet"] = quiet_flag
    if quiet_flag:
        mute_stdout()
    level = logging.ERROR if quiet_flag else (logging.WARNING, logging.INFO)[min(verbose, 1)]
    if verbose >= 2 and not quiet_flag:
        level = logging.DEBUG
    root = logging.getLogger("pebdsl")
    for h in [h for h in root.handlers if isinstance(h, _LazyRichHandler)]:
        root.removeHandler(h)  # configured again (tests run many commands in one process)
    handler, before = _LazyRichHandler(level), root.level
    root.addHandler(handler)
    # INFO at least, so stage records reach the progress line whatever is shown.
    root.setLevel(min(level, logging.INFO))

    def restore() -> None:
        root.removeHandler(handler)
        root.setLevel(before)
        _STATE["quiet"] = False
        if "stdout" in _STATE:  # -q muted it
            sys.stdout = _STATE.pop("stdout")

    return restore


_HOISTED = ("-q", "--quiet", "--verbose")
# What a command prints on stdout as the document asked for: kept under -q.
_DOCUMENT_FLAGS = ("--json", "--format", "--show-completion")
_DOCUMENT_COMMANDS = ("compile", "lsp")


def hoist(args: list[str]) -> list[str]:
    """`args` with -q/--quiet/--verbose moved to the front (not those after `--`); remembers
    the command line for `mute_stdout`."""
    end = args.index("--") if "--" in args else len(args)
    moved = [a for a in args[:end] if a in _HOISTED]
    out = moved + [a for a in args[:end] if a not in _HOISTED] + args[end:]
    _STATE["args"] = out
    return out


def mute_stdout() -> None:
    """Under -q: stdout goes to nowhere unless it carries the document the command was asked
    for (--json, --format, `compile` without -o)."""
    args = _STATE.get("args") or sys.argv[1:]
    if any(a.split("=")[0] in _DOCUMENT_FLAGS for a in args):
        return
    if any(a in _DOCUMENT_COMMANDS for a in args):
        return
    # The stream replaced stays referenced: dropped, a wrapper would close what it wraps
    # (a test runner's buffer).
    _STATE["stdout"] = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives as long as the process)


def begin(name: str, message: str = "") -> None:
    """Log the start of stage `name` from the command line (resolve, write)."""
    log.info("%s%s", name, f": {message}" if message else "", extra=stage(name))


class _Line(logging.Handler):
    """The progress line: a handler that notes each stage, a thread that redraws it."""

    def __init__(self, label: str, delay: float) -> None:
        super().__init__(logging.INFO)
        self.label, self.delay = label, delay
        self.start = time.monotonic()
        self.stage = STAGES[0]
        self.draw_lock = threading.Lock()
        self.stop = threading.Event()
        self.shown = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def emit(self, record: logging.LogRecord) -> None:
        name = getattr(record, STAGE_ATTR, None)
        if name is not None:
            self.stage = name

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            elapsed = time.monotonic() - self.start
            if elapsed < self.delay:
                continue
            k = STAGES.index(self.stage) + 1
            text = f"{self.label}: {self.stage} ({k}/{len(STAGES)}), {elapsed:.1f} s elapsed"
            with self.draw_lock:
                sys.stderr.write("\r" + text + "\x1b[K")
                sys.stderr.flush()
                self.shown = True

    def erase(self) -> None:
        with self.draw_lock:
            if self.shown:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()
                self.shown = False


def progress(label: str) -> Callable[[F], F]:
    """Decorate a command: the live progress line while it runs (see the module docstring),
    labelled `label` and the command's FILE argument. The command ends it (`end_progress`)
    before it prints; an error (cli._fail) ends it too."""

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            file = kwargs.get("file")
            start_progress(f"{label} {file.name}" if file is not None else label)
            try:
                return command(*args, **kwargs)
            finally:
                end_progress()

        return run  # type: ignore[return-value]

    return wrap


def start_progress(label: str) -> None:
    """Start the progress line (nothing under -q or when stderr is not a terminal)."""
    if quiet() or not _isatty() or _STATE["progress"] is not None:
        return
    line = _Line(terminal_text(label), float(os.environ.get("PEBDSL_PROGRESS_DELAY", "2")))
    logging.getLogger("pebdsl").addHandler(line)
    _STATE["progress"] = line
    line.thread.start()


def end_progress() -> None:
    """Stop and erase the progress line, if one runs."""
    line = _STATE["progress"]
    if line is None:
        return
    _STATE["progress"] = None
    line.stop.set()
    line.thread.join()
    line.erase()
    logging.getLogger("pebdsl").removeHandler(line)


def _isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
