"""The `keras-recipes` subcommands, one module each (what `recipes/` runs).

Every module has `build_parser(parser=None)` (fills an `argparse` parser, or a
new one), `run(args) -> int` and `main(argv=None) -> int`. `keras_recipes.cli`
imports only the module of the subcommand it runs, so nothing is imported here.
"""

__all__ = []
