"""Typer command groups: parse options, call core, print results."""
