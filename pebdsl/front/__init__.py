"""The front room: design text -> typed syntax tree, syntax errors, canonical formatting.

Input: design text (and the path it came from, for spans). Output: `front.syntax.File`, the frozen
syntax tree that `resolve` turns into a validated `Design`; `front.formatter` turns text back into
canonical text. Errors: the E0xx syntax codes of docs/errors.md, raised as `PebdslError`.

Modules: `parser` (loads the grammar `grammars/pebdsl.lark` and builds the tree while parsing),
`syntax` (the node types), `formatter` (canonical layout). Imports only the base layer
(source, diagnostics, safetext).
"""
