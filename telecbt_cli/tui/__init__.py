"""Textual app and kiosk (built by a later issue)."""
