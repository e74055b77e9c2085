"""Ports of the OpenCompass 0.4.2 answer postprocessors and evaluators behind ``--style paper``.

The paper (InfiGFusion) evaluated with OpenCompass; installing OpenCompass itself into the
workbench venv is not sane (it pins numpy<2, datasets<4 and pulls torch, opencv, tree-sitter,
sentence-transformers...), so its rules are ported here function by function, with the
source named in each module. tests/test_parity_opencompass.py proves per-item agreement
against fixtures scored once by the real OpenCompass 0.4.2 code
(tests/parity/generate_opencompass.py).
"""
