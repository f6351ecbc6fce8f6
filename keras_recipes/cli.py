"""The `keras-recipes` command: one subcommand per recipe.

    keras-recipes train --smoke
    keras-recipes lr-find --optimizer adam
    keras-recipes diagnose
    keras-recipes schedule --schedule piecewise --boundaries 5 15
    keras-recipes tune --algorithm hyperband
    keras-recipes fine-tune --base model.keras --dataset new.npz
    keras-recipes predict --run-dir runs/train-X --input new.csv
    keras-recipes SUBCOMMAND --help

A subcommand is a module of `keras_recipes.commands` with
`build_parser(parser)` and `run(args)`; `COMMANDS` lists them. Only the
module of the subcommand being run is imported (the list of subcommands
reads their docstrings from source).
"""

import argparse
import ast
import importlib
import importlib.util
import sys

from keras_recipes import __version__
from keras_recipes.commands.common import HelpFormatter, run_parsed, summary

# (subcommand, module): one line adds a subcommand.
COMMANDS = (
    ("train", "keras_recipes.commands.train"),
    ("lr-find", "keras_recipes.commands.lr_find"),
    ("diagnose", "keras_recipes.commands.diagnose"),
    ("schedule", "keras_recipes.commands.schedule"),
    ("tune", "keras_recipes.commands.tune"),
    ("fine-tune", "keras_recipes.commands.fine_tune"),
    ("predict", "keras_recipes.commands.predict"),
)


def _docstring(module_name):
    """A module's docstring, read from its source without importing it."""
    spec = importlib.util.find_spec(module_name)
    source = spec.loader.get_source(module_name) if spec is not None else None
    if source is None:  # No source (e.g. only bytecode installed): import it.
        return importlib.import_module(module_name).__doc__ or ""
    return ast.get_docstring(ast.parse(source)) or ""


def build_parser(command=None):
    """The `keras-recipes` parser, with the flags of subcommand `command`.

    Args:
        command: The subcommand whose module is imported to fill its parser
            (`None`: none; the others list only their summary).

    Returns:
        `(parser, subparsers)`: the main parser and a dict of the
        subcommands' parsers by name.
    """
    parser = argparse.ArgumentParser(
        prog="keras-recipes",
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(
        dest="command", title="subcommands", metavar="SUBCOMMAND"
    )
    subparsers = {}
    for name, module_name in COMMANDS:
        doc = _docstring(module_name)
        subparser = commands.add_parser(
            name, help=summary(doc), description=doc, formatter_class=HelpFormatter
        )
        if name == command:
            importlib.import_module(module_name).build_parser(subparser)
        subparsers[name] = subparser
    return parser, subparsers


def main(argv=None):
    """Runs `keras-recipes` with `argv` (default `sys.argv[1:]`).

    Returns:
        The exit status: the subcommand's, or 2 without a subcommand (the
        help is printed). Bad flags exit with status 2 (`SystemExit`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    # The main parser's own flags take no value: the first word is the command.
    command = next((word for word in argv if not word.startswith("-")), None)
    names = {name: module_name for name, module_name in COMMANDS}
    parser, subparsers = build_parser(command if command in names else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    command = args.command
    del args.command  # args.json holds the subcommand's arguments only.
    module = importlib.import_module(names[command])
    return run_parsed(subparsers[command], module.run, args)


if __name__ == "__main__":
    sys.exit(main())
