"""The `lic` command. Errors a user can cause print one line on stderr and exit with 1.

Building the parser imports no torch: `lic --help`, `--version` and `lic info` start in a
fraction of a second; each subcommand imports what it runs.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from lic import __version__
from lic.cli import codec, evaluate, training
from lic.errors import LicError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none to show (None, a flag)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.nargs == 0:  # nargs 0: a flag (store_true/false)
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lic", description="Learned image compression.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"lic {__version__}")
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    common.add_argument("-v", "--verbose", action="store_true", help="print more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        """A subcommand with -q/-v and the defaults in its help."""
        return commands.add_parser(
            name, parents=[common], help=help_text, formatter_class=HelpFormatter
        )

    for module in (codec, training, evaluate):
        module.add_commands(command)
    return parser


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"lic: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _one_line_warning
    if args.quiet:
        warnings.simplefilter("ignore")
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
