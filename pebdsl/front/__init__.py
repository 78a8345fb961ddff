"""The front end: design text in, syntax out (grammar, parser, syntax tree, formatter, lexer)."""
