"""The languages content is written in: every text table holds exactly these."""

LANGS = ("en", "es")
#: How each language writes the decimal point (Catalog.number writes it; parse_number reads it).
DECIMAL = {"en": ".", "es": ","}
