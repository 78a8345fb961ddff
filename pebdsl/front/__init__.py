"""The front room: design text -> typed syntax tree, syntax errors, canonical formatting.

Input: design text (and the path it came from, for spans). Output: `front.syntax.File`, the frozen
syntax tree that `resolve` turns into a validated `Design`; `front.formatter` turns text back into
canonical text. Errors: the E0xx syntax codes of docs/errors.md, raised as `PebdslError`.

Modules: `parser` (parse, parse_file, dump_tree), `grammar` (the grammar `grammars/pebdsl.lark`,
the tree built while parsing, the shared LALR parser), `postlex` (per-thread parse state, the
separator post-lexer, limits), `diagnose` (syntax errors in words), `syntax` (the node types),
`formatter` (the canonical layout's rules) and `layout` (lines, comments, rendering). Imports
only the base layer (source, diagnostics).
"""
