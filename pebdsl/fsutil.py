"""Atomic output: single files, and whole output folders written as one set.

- `atomic_write_bytes(path, data)` / `atomic_write_text(path, text)`: write to a temporary file
  in the same folder, then rename, so a crash, a full disk or Ctrl-C never leaves half a file
  and what was there before stays intact.
- `replace_dir(target)`: a context manager that yields a fresh temporary folder next to
  `target` (`.<name>.pebdsl-new-<host>-<pid>-<random>`); the caller writes every file of a run
  into it, and on a normal exit it takes the place of `target` in one step. The previous run
  stays whole until then; on any exception the temporary folder is removed and `target` is
  untouched. So `target` always holds one complete run, never files of two runs, and nothing
  of an earlier run survives a later one (docs/report.md, "Output folders").
  The swap: a new `target` is a plain rename; an existing one is exchanged with the new folder
  by `renameat2(RENAME_EXCHANGE)` (Linux: one atomic step) and the old run, now in the
  temporary name, is deleted. Where that call is missing (other systems, some file systems),
  the old folder is renamed to `.<name>.pebdsl-old-…`, the new one to `target`, and the backup
  deleted: a kill between the two renames leaves `target` absent (never mixed), and the next
  run restores the backup first. Leftover temporary folders of killed runs (their process no
  longer exists on this host) are removed by the next run into the same target.
- `check_out_dir(target)`: the checks `replace_dir` makes, for the command line to call before
  it spends time solving.

Errors: `replace_dir` and `check_out_dir` raise PebdslError E902 (exit 2 at the command line)
when `target` is an existing file, the current folder or one of its parents, or a non-empty
folder that is not a pebdsl output (none of `OUTPUT_MARKERS` at its top), since replacing it
would delete files pebdsl did not write. Everything else raises OSError as the OS does
(permission denied, read-only file system, no space); the command line reports it as E903.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pebdsl.diagnostics import PebdslError, error

# Files whose presence at the top of a folder marks it as pebdsl's own output (results.json and
# report.html of `solve`, compare.html of `compare`, sweep.* of `sweep`; participants.csv alone
# is what a solve killed by an older pebdsl left behind).
OUTPUT_MARKERS = (
    "results.json",
    "report.html",
    "compare.html",
    "sweep.json",
    "sweep.csv",
    "participants.csv",
    "tailor.json",
    "cases",  # pebdsl tailor's case cache (a killed run has only this)
)


def _default_mode(base: int = 0o666) -> int:
    """The mode a plain `open(path, "w")` (base 0o666) or `mkdir` (0o777) would give."""
    umask = os.umask(0)
    os.umask(umask)
    return base & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp creates the file 0600; give the result the mode an ordinary write would have
    # (or keep the mode of the file it replaces), so reports stay readable by others.
    mode = path.stat().st_mode & 0o777 if path.exists() else _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# --- output folders as a set ------------------------------------------------------------------


def _usage(message: str, *hints: str) -> PebdslError:
    return PebdslError(error("E902", message, hints=hints))


def _resolved(target: str | Path) -> Path:
    # Resolve symbolic links: the swap renames inside the real parent, and a link named as
    # --out keeps pointing at the (new) folder instead of being replaced by one.
    return Path(os.path.realpath(os.fspath(target)))


def check_out_dir(target: str | Path) -> None:
    """Raise E902 when `replace_dir(target)` would refuse (see the module docstring)."""
    real = _resolved(target)
    shown = os.fspath(target)
    above = next((p for p in real.parents if p.exists()), None)
    if not real.exists() and above is not None and not above.is_dir():
        raise _usage(
            f"output folder `{shown}` would be inside `{above}`, which is a file",
            "--out names a folder; choose a path whose parents are folders",
        )
    if real.exists() and not real.is_dir():
        raise _usage(
            f"output folder `{shown}` is an existing file",
            "--out names a folder; choose a new name or remove the file",
        )
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents or real.parent == real:
        raise _usage(
            f"output folder `{shown}` is the current folder or one of its parents",
            "--out takes a folder of its own, e.g. --out out/run1",
        )
    if real.is_dir():
        try:
            names = {p.name for p in real.iterdir()}
        except OSError:
            return  # unreadable: the swap itself reports the OS error (E903)
        if names and not names & set(OUTPUT_MARKERS):
            raise _usage(
                f"output folder `{shown}` holds files that pebdsl did not write",
                "--out replaces the whole folder with the new run; choose an empty or new "
                "folder (or one an earlier pebdsl run wrote)",
            )


def write_error(path: str | Path, exc: OSError) -> PebdslError:
    """E903: the OS refused to write an output (read-only, permission, no space, …)."""
    reason = exc.strerror or str(exc)
    return PebdslError(
        error(
            "E903",
            f"cannot write `{path}`: {reason}",
            hints=("nothing was written; an earlier output at this path is unchanged",),
        )
    )


def check_out_target(out: str | Path) -> None:
    """E902 / E903 for an `--out` folder before anything is solved, so a bad target costs no
    solve time: `check_out_dir`, then a writable folder at or above it."""
    check_out_dir(out)
    absolute = Path(out).absolute()
    above = next((p for p in [absolute, *absolute.parents] if p.exists()), None)
    if above is not None and not os.access(above, os.W_OK | os.X_OK):
        where = out if above == absolute else above
        raise write_error(out, PermissionError(13, f"`{where}` is not writable"))


def check_out_file(path: str | Path) -> None:
    """E902 for `-o PATH` naming a folder (a file is wanted)."""
    if Path(path).is_dir():
        raise PebdslError(
            error(
                "E902",
                f"output file `{path}` is an existing folder",
                hints=("-o names the file to write, e.g. -o model.lp",),
            )
        )


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def _leftovers(parent: Path, name: str, kind: str) -> list[Path]:
    """Temporary folders of `kind` ("new" or "old") for `name` whose run was killed here."""
    pat = re.compile(rf"^\.{re.escape(name)}\.pebdsl-{kind}-{re.escape(_host())}-(\d+)-\w+$")
    out = []
    with contextlib.suppress(OSError):
        for p in parent.iterdir():
            m = pat.match(p.name)
            if m and not _alive(int(m.group(1))):
                out.append(p)
    return out


def _recover(target: Path) -> None:
    """Undo what a killed run left: restore a backup whose swap was cut between its two renames
    (the fallback path), and remove temporary folders nobody writes into any more."""
    parent, name = target.parent, target.name
    old = _leftovers(parent, name, "old")
    if old and not target.exists():
        newest = max(old, key=lambda p: p.stat().st_mtime)
        with contextlib.suppress(OSError):
            os.rename(newest, target)
    for p in [*old, *_leftovers(parent, name, "new")]:
        if p.exists():
            shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE). False when unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def _swap(new: Path, target: Path) -> None:
    """Put `new` in the place of `target` (see the module docstring) and delete the old run."""
    try:
        os.rename(new, target)  # target absent, or an empty folder: one atomic rename
        return
    except OSError as e:
        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # `new` now holds the previous run
        return
    backup = target.parent / (
        f".{target.name}.pebdsl-old-{_host()}-{os.getpid()}-{secrets.token_hex(4)}"
    )
    os.rename(target, backup)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def replace_dir(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder; on a normal exit it replaces `target` as a whole."""
    check_out_dir(target)
    real = _resolved(target)
    real.parent.mkdir(parents=True, exist_ok=True)
    _recover(real)
    check_out_dir(target)  # a restored backup is checked like any folder
    mode = real.stat().st_mode & 0o7777 if real.is_dir() else _default_mode(0o777)
    tmp = Path(
        tempfile.mkdtemp(
            prefix=f".{real.name}.pebdsl-new-{_host()}-{os.getpid()}-", dir=real.parent
        )
    )
    try:
        os.chmod(tmp, mode)  # mkdtemp makes it 0700; keep what an ordinary mkdir would give
        yield tmp
        _swap(tmp, real)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
