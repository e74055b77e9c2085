"""The fusion workbench: run store, diagnostics, bound validation, plots and the CLI.

Dependency direction: ``app.py -> workbench -> {fusion, evaluations}``.
"""

__version__ = "0.1.0"
