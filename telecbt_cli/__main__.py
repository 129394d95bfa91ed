"""Allows `python -m telecbt_cli`."""

from telecbt_cli.entry import main

if __name__ == "__main__":
    main()
