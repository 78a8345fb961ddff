"""Design text made safe to show: on a terminal, and in the HTML report.

Input: any text that came from a design file, a data file, a path or the command line (titles,
descriptions, names, source lines in diagnostics, error messages).
Output:
- `terminal_text(s) -> str`: the text with every character that would act on a terminal
  instead of being shown replaced by a visible escape in Python's notation: C0 controls other
  than newline and tab, DEL and the C1 controls (so ESC, the start of every colour, cursor,
  title and OSC-8 hyperlink sequence, shows as `\\x1b`, BEL as `\\x07`, a carriage return as
  `\\x0d`), the bidirectional controls `BIDI_CONTROLS` (`\\u202e`), and lone surrogates (a
  file name that is not UTF-8, `\\udcff`). Everything else, including any non-ASCII letter,
  is kept. Idempotent: an escape is plain text and stays as it is.
- `neutralise_bidi(s) -> str`: the bidi controls of `s` replaced by `<U+202E>`-style marks,
  escaped for HTML (`&lt;U+202E&gt;`). The report applies it to the whole rendered page, so no
  name, title, description or source line can reorder the text around it (Trojan Source).
Raises nothing.

Rich markup is a separate matter: the command line hands design text to rich as `Text`
objects (or with markup off), so `[/]` or `[link=…]` in a title is shown as written.
"""

from __future__ import annotations

# Explicit embeddings and overrides (U+202A-202E), isolates (U+2066-2069), the implicit marks
# LRM/RLM (U+200E/F) and the Arabic letter mark (U+061C).
BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})


def _terminal_escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


_TERMINAL = {
    cp: _terminal_escape(cp)
    for cp in (
        *(c for c in range(0x20) if c not in (0x09, 0x0A)),
        0x7F,
        *range(0x80, 0xA0),
        *BIDI_CONTROLS,
        *range(0xD800, 0xE000),
    )
}

_HTML_BIDI = {cp: f"&lt;U+{cp:04X}&gt;" for cp in BIDI_CONTROLS}


def terminal_text(s: str) -> str:
    """`s` with terminal controls, bidi controls and lone surrogates shown as escapes."""
    return s.translate(_TERMINAL)


def neutralise_bidi(s: str) -> str:
    """`s` (HTML) with each bidi control replaced by a visible, HTML-escaped `<U+XXXX>`."""
    return s.translate(_HTML_BIDI)
