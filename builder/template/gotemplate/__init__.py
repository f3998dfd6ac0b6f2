"""A Go text/template subset for Packer's {{ }} language.

values (Go types and truth), strconv (Go literals), lexer, nodes, parser, gofmt (Go's fmt
verbs), builtins (the predefined functions) and executor; the public face is
`builder.template.interpolate`.
"""
