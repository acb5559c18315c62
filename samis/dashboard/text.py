"""Names and library text made safe for markdown; below :mod:`samis.dashboard.state` and :mod:`samis.dashboard.ui`."""

from __future__ import annotations

import re

# letters, digits, spaces, quotes and a few signs, and "_" only inside a word (never emphasis there)
_PLAIN = re.compile(r"(?:[A-Za-z0-9 '\-.,/=]|(?<=[A-Za-z0-9])_(?=[A-Za-z0-9]))+")


def literal(text: object) -> str:
    """A name (from a link, a file, a user) as an inline code span: markdown shows it exactly as written.

    A name of plain letters, digits and quotes is returned as it is. Inside a code span nothing is markup: no link, emphasis, HTML or colour directive. The fence is
    longer than any run of backticks in the name (CommonMark's rule), so a backtick cannot close it.
    """
    text = " ".join(str(text).splitlines())
    if _PLAIN.fullmatch(text):
        return text  # nothing in it markdown could read as markup
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text.strip() or text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def escaped(text: object) -> str:
    """Library text (notes, summaries) for markdown: every ASCII punctuation character backslash-escaped.

    CommonMark shows an escaped character as itself, so the text reads unchanged, but a name inside
    it can no longer become a link, emphasis or HTML.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(text))
