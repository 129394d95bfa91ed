"""inert(): what reaches a terminal from user or content text."""

from telecbt_cli.core.store.textsafe import inert


def test_controls_and_bidi_become_visible_escapes():
    assert inert("a\x1b]52;c;aGk=\x07b\u202ec") == "a\\x1b]52;c;aGk=\\x07b\\u202ec"
    assert inert("one\ntwo\r") == "one\\x0atwo\\x0d"
    assert inert(None) == ""


def test_keep_newlines_keeps_only_line_breaks():
    assert inert("one\ntwo\r\x1b[2J", keep_newlines=True) == "one\ntwo\\x0d\\x1b[2J"
    assert inert("typed \\x0a literally", keep_newlines=True) == "typed \\x0a literally"
