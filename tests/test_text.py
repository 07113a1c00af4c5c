"""Stored text made safe for one line of iCalendar, an email header or a file name
(``pumpcare.text.one_line``)."""

from pumpcare.text import one_line


def test_line_breaks_and_controls_become_one_space():
    assert one_line("Ada\r\nMoreno\tD-1001\x00\u2028x") == "Ada Moreno D-1001 x"


def test_a_bidirectional_override_cannot_reorder_the_rest_of_the_line():
    # U+202E (right-to-left override) would show "1001-D" for "D-1001" and everything after
    # it backwards; the isolates U+2066..2069 and embeddings U+202A..202D likewise.
    assert one_line("Moreno\u202eD-1001") == "Moreno D-1001"
    assert one_line("\u2066Ada\u2069 \u202aB\u202c") == "Ada B"


def test_marks_and_joiners_that_names_need_are_kept():
    # The right-to-left mark, the zero-width joiner (Indic scripts, emoji sequences) and
    # letters of every script stay as typed.
    name = "\u05d3\u05b8\u05d5\u05b4\u05d3\u200f Zo\u00eb \U0001f469\u200d\U0001f52c"
    assert one_line(name) == name
