"""Evaluations: benchmark registry, prompts, answer extraction, scoring and engines
(lm-eval, EvalPlus). Never imports Streamlit or the workbench."""
