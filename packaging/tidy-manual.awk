# Tidies a page of swift-argument-parser's generate-manual (mdoc) for man(1): a blank line
# between paragraphs of the help text becomes a paragraph break, and a run of lines indented
# by two spaces (the examples in the commands' help) becomes a literal display, so that long
# command lines are not refilled.
/^  / {
    if (!literal) { print ".Bd -literal -offset indent"; literal = 1 }
    line = substr($0, 3)
    if (line ~ /^[.']/) line = "\\&" line
    print line
    next
}
literal { print ".Ed"; literal = 0 }
/^$/ { print ".Pp"; next }
{ print }
END { if (literal) print ".Ed" }
