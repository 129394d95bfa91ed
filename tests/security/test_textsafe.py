"""inert(): what reaches a terminal from user or content text."""

from telecbt_cli.core.store.textsafe import inert


def test_controls_and_bidi_become_visible_escapes():
    assert inert("a\x1b]52;c;aGk=\x07b\u202ec") == "a\\x1b]52;c;aGk=\\x07b\\u202ec"
    assert inert("one\ntwo\r") == "one\\x0atwo\\x0d"
    assert inert(None) == ""


def test_invisible_characters_become_visible_too():
    """Issue 12 point 2: zero-width characters, like bidi overrides, can hide or split words on screen."""
    for char, shown in (("\u200b", "\\u200b"), ("\u200d", "\\u200d"), ("\u2060", "\\u2060"),
                        ("\ufeff", "\\ufeff"), ("\xad", "\\xad"), ("\u2028", "\\u2028"),
                        ("\U000e0041", "\\U000e0041"), ("\u061c", "\\u061c"), ("\x9b", "\\x9b")):
        assert inert(f"a{char}b") == f"a{shown}b"
    assert inert("café ñ 日本 👍 tab\there") == "café ñ 日本 👍 tab\there"  # ordinary text is untouched


def test_keep_newlines_keeps_only_line_breaks():
    assert inert("one\ntwo\r\x1b[2J", keep_newlines=True) == "one\ntwo\\x0d\\x1b[2J"
    assert inert("typed \\x0a literally", keep_newlines=True) == "typed \\x0a literally"


def test_spreadsheet_cells_never_start_a_formula():
    """Guards CSV injection: =HYPERLINK(...) in a patient's note must not run in a spreadsheet."""
    from telecbt_cli.core.store.textsafe import spreadsheet_cell

    for attack in ("=HYPERLINK(\"http://x\",\"y\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert spreadsheet_cell(attack) == "'" + attack
    assert spreadsheet_cell("Ana") == "Ana" and spreadsheet_cell("") == ""
    assert spreadsheet_cell(-3) == -3 and spreadsheet_cell(2.5) == 2.5 and spreadsheet_cell(None) is None
    # a number written as text (a change in score, "-2,5" in Spanish) stays a number in the spreadsheet
    assert spreadsheet_cell("-3") == "-3" and spreadsheet_cell("-2,5") == "-2,5" and spreadsheet_cell("-0.5") == "-0.5"
    assert spreadsheet_cell("-3+1") == "'-3+1" and spreadsheet_cell("-3 ") == "'-3 "
