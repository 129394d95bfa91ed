"""Click's own usage errors (a missing argument, an unknown option or command, a bad value) in the
reader's language: the usage line, the hint to ask for help and the error, built from the exception's
attributes. English readers get Click's own rendering, unchanged; help pages are commands/help_i18n.py's."""

from __future__ import annotations

import re
from typing import Any

from telecbt_cli.commands.i18n import t

#: Click's words for a value it could not convert (typer/_param_types.py, typer/_coercion.py), and the key
#: that says the same in the reader's language. Anything else (our own callbacks' messages) is shown as raised.
_DETAILS = [
    (re.compile(r"Input should be a valid integer.*", re.S), "cli.usage.not_whole"),
    (re.compile(r"Input should be a valid number.*", re.S), "cli.usage.not_number"),
    (re.compile(r"Input should be greater than or equal to (?P<low>\S+)", re.S), "cli.usage.at_least"),
    (re.compile(r"Input should be less than or equal to (?P<high>\S+)", re.S), "cli.usage.at_most"),
    (re.compile(r"(?P<value>'.*') is not one of (?P<choices>.*)\.", re.S), "cli.usage.not_one_of"),
    (re.compile(r"\w+ (?P<value>'.*') does not exist\.", re.S), "cli.usage.no_such_path"),
    (re.compile(r"Value (?P<value>'.*') is not a valid .*\.", re.S), "cli.usage.not_valid"),
]
_NO_COMMAND = re.compile(r"No such command (?P<name>'.*')\.(?: Did you mean (?P<names>.*)\?)?", re.S)
_EXTRA = re.compile(r"Got unexpected extra argument(?:\(s\)|s)? \((?P<args>.*)\)", re.S)
_REQUIRES = re.compile(r"Option (?P<option>'.*') requires (?:an argument|(?P<count>\d+) arguments)\.", re.S)
_NO_VALUE = re.compile(r"Option (?P<option>'.*') does not take a value\.", re.S)


def _hint(error: Any) -> str:
    hint = error.param_hint if error.param_hint is not None else \
        error.param.get_error_hint() if error.param is not None else None
    if hint is not None and not isinstance(hint, str):
        return " / ".join(repr(x) for x in hint)
    return hint or ""


def _detail(message: str) -> str:
    for pattern, key in _DETAILS:
        if found := pattern.fullmatch(message.strip()):
            return t(key, **found.groupdict())
    return message


def message(error: Any) -> str:
    """The error's sentence in the reader's language, from the exception's kind and attributes."""
    kind = type(error).__name__
    if kind == "MissingParameter":
        param_type = error.param_type or (error.param.param_type_name if error.param is not None else "parameter")
        key = {"argument": "cli.usage.missing_argument", "option": "cli.usage.missing_option"}.get(
            param_type, "cli.usage.missing")
        return t(key, name=_hint(error))
    if kind == "BadParameter":
        name = _hint(error)
        detail = _detail(error.message)
        return t("cli.usage.invalid_for", name=name, detail=detail) if name else t("cli.usage.invalid", detail=detail)
    if kind == "NoSuchOption":
        said = t("cli.usage.no_such_option", option=error.option_name)
        if error.possibilities:
            said += " " + t("cli.usage.possible", options=", ".join(sorted(error.possibilities)))
        return said
    text = error.message
    if found := _NO_COMMAND.fullmatch(text):
        said = t("cli.usage.no_such_command", name=found["name"])
        return said + (" " + t("cli.usage.did_you_mean", names=found["names"]) if found["names"] else "")
    if found := _EXTRA.fullmatch(text):
        return t("cli.usage.extra", args=found["args"])
    if found := _REQUIRES.fullmatch(text):
        return t("cli.usage.requires", option=found["option"]) if not found["count"] else \
            t("cli.usage.requires_n", option=found["option"], count=int(found["count"]))
    if found := _NO_VALUE.fullmatch(text):
        return t("cli.usage.no_value", option=found["option"])
    return text


def show(error: Any) -> None:
    """Write the usage line, the hint and the error to stderr, as Click does, in the reader's language."""
    from telecbt_cli.commands.output import error as say_error
    from telecbt_cli.commands.output import say

    ctx = error.ctx
    if ctx is not None:
        usage = ctx.get_usage().removeprefix("Usage: ")
        usage = usage.replace("[OPTIONS]", t("cli.usage.options")).replace("COMMAND [ARGS]...", t("cli.usage.command"))
        say(t("cli.usage.usage", usage=usage))
        if ctx.command.get_help_option(ctx) is not None:
            say(t("cli.usage.try", command=f"{ctx.command_path} {ctx.help_option_names[0]}"))
    say_error(message(error))
