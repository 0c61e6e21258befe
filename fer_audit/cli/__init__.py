"""The `fer-audit` command line: `main`, and one module per command group."""

from fer_audit.cli.toplevel import build_parser, main

__all__ = ["build_parser", "main"]
