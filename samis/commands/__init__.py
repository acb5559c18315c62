"""CLI command groups, one module each; :func:`samis.cli.build_parser` finds them automatically.

Every module defines ``register(subparsers)``; each parser it adds sets ``handler=`` to a function
``(args, workspace) -> int`` that parses nothing further, calls the library and prints.
"""
