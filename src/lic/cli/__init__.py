"""The `lic` command. Errors a user can cause print one line on stderr and exit with 1."""

from __future__ import annotations

import argparse
import sys
import warnings

from lic.cli import codec, evaluate, training
from lic.errors import LicError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lic", description="Learned image compression.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (codec, training, evaluate):
        module.add_commands(commands)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"lic: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        return args.run(args) or 0
    except LicError as error:
        print(f"lic: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lic: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
