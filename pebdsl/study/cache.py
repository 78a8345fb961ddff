"""A result cache for studies: one folder per solved case, keyed by what determines its result.

Input: a cache folder (created when missing) and, per case, the resolved `Design`, the `--set`
edits that made it, the backend and any option that changes the answer. Output: `case_key(...)`,
a sha256 hex digest over the design's provenance hash (`Design.digest()`: the design text(s),
the data files they read, the variant), the edits, the backend, the options and the versions of
pebdsl and HiGHS; `CaseCache.get(key)` -> the `CachedCase` stored under it, or None;
`CaseCache.put(key, record)` writes `<root>/<key[:2]>/<key>/case.json` atomically, so a run
that is killed leaves only whole records behind and a later run with the same cache skips every
case recorded (a rerun solves nothing; a resumed study solves only what is missing).
Errors: none raised for a damaged or foreign record (it is ignored, so the case is solved
again); OSError when the OS refuses a write (the CLI turns it into E903).

What is kept: a solved case's value (JSON-safe, e.g. a sweep row's KPIs) and seconds, or the
failure that stopped it: its codes, messages and hints (`StoredError`), not its source spans, so
a failure read back renders without the caret excerpt. Failures that say nothing about the case
are never kept: E990 (a bug in pebdsl, which a fix may cure) and E991 (a lost worker), so a
rerun tries those cases again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pebdsl.diagnostics import Diagnostic, PebdslError
from pebdsl.fsutil import atomic_write_text

if TYPE_CHECKING:
    from pebdsl.design import Design

# Codes of failures that are not a property of the case (module docstring): never cached.
TRANSIENT = frozenset({"E990", "E991"})
# Bumped when the record's layout changes: older records are then ignored, not misread.
FORMAT = 1


def _versions() -> dict[str, str]:
    """The installed versions of pebdsl and HiGHS (by distribution metadata, not by importing
    the package's top level, which belongs to a later layer)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("pebdsl", "highspy"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - both are installed with pebdsl
            out[dist] = "?"
    return out


def case_key(
    design: Design,
    edits: Sequence[str] = (),
    backend: str = "highs",
    options: Mapping[str, Any] | None = None,
) -> str:
    """The cache key of one case (module docstring). Edits are kept in order: a later `--set`
    on the same path wins, so order is part of what the design is."""
    doc = {
        "format": FORMAT,
        "design": design.digest(),
        "edits": list(edits),
        "backend": backend,
        "options": dict(sorted((options or {}).items())),
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class CachedCase:
    """One stored case: `value` (a success) or `error` (a failure), and the seconds it took."""

    key: str
    value: Any = None
    error: PebdslError | None = None
    seconds: float = 0.0


def _error_doc(err: PebdslError) -> list[dict[str, Any]]:
    return [
        {"code": d.code, "message": d.message, "hints": list(d.hints), "severity": d.severity}
        for d in err.diagnostics
    ]


def _error_from(doc: list[dict[str, Any]]) -> PebdslError:
    return PebdslError(
        [
            Diagnostic(
                str(d["code"]),
                str(d["message"]),
                hints=tuple(str(h) for h in d.get("hints", ())),
                severity=str(d.get("severity", "error")),
            )
            for d in doc
        ]
    )


class CaseCache:
    """The cache folder `root` (module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The record of `key`: two-character fan-out so no folder holds too many entries."""
        return self.root / key[:2] / key / "case.json"

    def get(self, key: str) -> CachedCase | None:
        """The case stored under `key`, or None (absent, damaged or of another format)."""
        try:
            doc = json.loads(self.path(key).read_text(encoding="utf-8"))
            if doc.get("format") != FORMAT or doc.get("key") != key:
                return None
            seconds = float(doc.get("seconds") or 0.0)
            if doc.get("error"):
                return CachedCase(key, error=_error_from(doc["error"]), seconds=seconds)
            return CachedCase(key, value=doc["value"], seconds=seconds)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(
        self,
        key: str,
        *,
        value: Any = None,
        error: PebdslError | None = None,
        seconds: float = 0.0,
        about: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store one case (value or error); `about` (file, variant, values …) is written with it
        for a reader of the folder. False, and nothing written, for a transient failure."""
        if error is not None and set(error.codes) & TRANSIENT:
            return False
        doc = {
            "format": FORMAT,
            "key": key,
            **dict(about or {}),
            "seconds": seconds,
            "value": None if error is not None else value,
            "error": None if error is None else _error_doc(error),
            "error_text": None if error is None else error.render(),
        }
        atomic_write_text(self.path(key), json.dumps(doc, indent=2, default=str) + "\n")
        return True
