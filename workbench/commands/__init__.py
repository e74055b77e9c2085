"""One module per ``workbench`` sub-command.

Each module defines ``register(subparsers) -> None``, which adds its parser and sets
``func`` (a callable taking the parsed ``argparse.Namespace`` and returning an exit
code). ``workbench.cli`` discovers the modules, so adding a command touches one file.
"""
