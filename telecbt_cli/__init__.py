"""telecbt: remote CBT for chronic pain on an encrypted local store."""

__version__ = "0.1.0"
