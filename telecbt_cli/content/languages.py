"""The languages content is written in: every text table holds exactly these."""

LANGS = ("en", "es")
