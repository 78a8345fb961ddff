"""`pebdsl check --json` and `--format sarif`: the diagnostics of a check for editors and CI.

Input: the checked files (each with the cases that passed: `base` and variant names) and the
`Diagnostic`s found (errors and warnings). Output: JSON-safe dicts, printed by the CLI.
- `check_json(files, diagnostics, version)`: pebdsl's own document, `CHECK_SCHEMA` below
  (JSON Schema, draft 2020-12; documented in docs/cli.md, validated by
  tests/test_cli_conventions.py).
- `sarif(files, diagnostics, version)`: SARIF 2.1.0 (one run, tool `pebdsl`, one rule per code
  seen; what GitHub code scanning and SARIF viewers read). Hints and labels go in `properties`.
A span is given as file, line and column of its start and its end (1-based; the end is just past
the last character, as in SARIF), with the 0-based character offsets; a diagnostic without a
place in a design (a missing file, E901) has `span: null`. Raises nothing; pure data, no
printing (cli.py prints).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from pebdsl.diagnostics import Diagnostic
from pebdsl.source import NO_SPAN, Span

SCHEMA_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_SPAN_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "required": ["file", "line", "column", "end_line", "end_column", "start", "end"],
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer"},
        "column": {"type": "integer"},
        "end_line": {"type": "integer"},
        "end_column": {"type": "integer"},
        "start": {"type": "integer"},
        "end": {"type": "integer"},
    },
}

CHECK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "pebdsl check --json",
    "type": "object",
    "required": ["schema_version", "tool", "files", "diagnostics", "errors", "warnings"],
    "properties": {
        "schema_version": {"type": "integer", "enum": [SCHEMA_VERSION]},
        "tool": {
            "type": "object",
            "required": ["name", "version"],
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["file", "ok", "checked"],
                "properties": {
                    "file": {"type": "string"},
                    "ok": {"type": "boolean"},
                    "checked": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "diagnostics": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "severity", "message", "label", "hints", "span", "related"],
                "properties": {
                    "code": {"type": "string"},
                    "severity": {"type": "string", "enum": ["error", "warning", "note"]},
                    "message": {"type": "string"},
                    "label": {"type": "string"},
                    "hints": {"type": "array", "items": {"type": "string"}},
                    "span": _SPAN_SCHEMA,
                    "related": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "span"],
                            "properties": {"message": {"type": "string"}, "span": _SPAN_SCHEMA},
                        },
                    },
                },
            },
        },
        "errors": {"type": "integer"},
        "warnings": {"type": "integer"},
    },
}


def span_json(span: Span) -> dict[str, Any] | None:
    """A span as file, 1-based line/column of start and end, and 0-based offsets."""
    if span is NO_SPAN or span.source.path == "<generated>":
        return None
    line, col = span.source.line_col(span.start)
    end_line, end_col = span.source.line_col(span.end)
    return {
        "file": span.source.path,
        "line": line,
        "column": col,
        "end_line": end_line,
        "end_column": end_col,
        "start": span.start,
        "end": span.end,
    }


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    """One diagnostic with its whole structure (CHECK_SCHEMA's `diagnostics` items)."""
    return {
        "code": d.code,
        "severity": d.severity,
        "message": d.message,
        "label": d.label,
        "hints": list(d.hints),
        "span": span_json(d.span),
        "related": [{"message": m, "span": span_json(s)} for s, m in d.related],
    }


def check_json(
    files: Sequence[tuple[str, Sequence[str]]], diagnostics: Sequence[Diagnostic], version: str
) -> dict[str, Any]:
    """The `check --json` document. `files`: (path, the cases that passed) in order given;
    a file is `ok` when no error points into it (warnings do not count). `version`: pebdsl's."""
    failed = {d.span.source.path for d in diagnostics if d.severity == "error"}
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pebdsl", "version": version},
        "files": [
            {"file": f, "ok": f not in failed and bool(cases), "checked": list(cases)}
            for f, cases in files
        ],
        "diagnostics": [diagnostic_json(d) for d in diagnostics],
        "errors": sum(d.severity == "error" for d in diagnostics),
        "warnings": sum(d.severity == "warning" for d in diagnostics),
    }


def _uri(path: str) -> str:
    return quote(PurePath(path).as_posix())


def _location(span: Span, message: str | None = None) -> dict[str, Any]:
    s = span_json(span)
    assert s is not None
    loc: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": {"uri": _uri(s["file"])},
            "region": {
                "startLine": s["line"],
                "startColumn": s["column"],
                "endLine": s["end_line"],
                "endColumn": s["end_column"],
                "charOffset": s["start"],
                "charLength": s["end"] - s["start"],
            },
        }
    }
    if message is not None:
        loc["message"] = {"text": message}
    return loc


def _result(d: Diagnostic) -> dict[str, Any]:
    placed = span_json(d.span) is not None
    out: dict[str, Any] = {
        "ruleId": d.code,
        "level": d.severity if d.severity in ("error", "warning", "note") else "none",
        "message": {"text": d.message},
        "locations": [_location(d.span)] if placed else [],
        "properties": {"label": d.label, "hints": list(d.hints)},
    }
    related = [{"id": i, **_location(s, m)} for i, (s, m) in enumerate(d.related) if span_json(s)]
    if related:
        out["relatedLocations"] = related
    return out


def sarif(
    files: Sequence[tuple[str, Sequence[str]]], diagnostics: Sequence[Diagnostic], version: str
) -> dict[str, Any]:
    """The same check as a SARIF 2.1.0 log (one run)."""
    codes = sorted({d.code for d in diagnostics})
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "pebdsl",
                        "version": version,
                        # Every code is explained, with an example, in the docs shipped with
                        # pebdsl; the log names the file rather than a web address.
                        "rules": [
                            {"id": c, "help": {"text": f"docs/errors.md, {c}"}} for c in codes
                        ],
                    }
                },
                "artifacts": [{"location": {"uri": _uri(f)}} for f, _ in files],
                "results": [_result(d) for d in diagnostics],
            }
        ],
    }
