"""Stored text at the edge where it leaves for a line-based format.

A name, an address or a serial number is accepted as typed (the API keeps what the clinic
entered), and may hold a carriage return, a tab, a NUL or a Unicode line separator. Where
such text goes into one line of iCalendar, an email header or a file name, a control
character either breaks the whole document for a strict parser (a bare CR ends an
iCalendar line) or makes the header refused. ``one_line`` is the one place that makes such
text safe to put there; the formats' own escaping (iCalendar's ``\\,``, an email header's
encoded words, ``filename*``) is applied after it by their writers.
"""

from __future__ import annotations

import unicodedata

# Control characters (CR, LF, TAB, NUL, DEL, the C1 controls such as NEL), surrogates, and
# the Unicode line and paragraph separators. Format characters (Cf: the zero-width joiner
# some scripts' names need) are kept.
BREAKING = {"Cc", "Cs", "Zl", "Zp"}
# The bidirectional embeddings, overrides and isolates are format characters too, but they
# reorder the text after them up to the end of the line: in a calendar event or a subject,
# a name holding one would make what follows it read backwards. (The left-to-right and
# right-to-left marks, which only nudge the text around them, are kept.)
BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


def one_line(text: str) -> str:
    """``text`` on one line: each character that breaks a line, controls a terminal or
    reorders the rest of the line becomes a space, runs of white space become one space, and the ends are trimmed."""
    return " ".join(
        "".join(
            " " if unicodedata.category(ch) in BREAKING or ch in BIDI_CONTROLS else ch for ch in str(text)
        ).split()
    )
