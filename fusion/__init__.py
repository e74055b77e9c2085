"""Fusion: co-activation graphs, Gromov-Wasserstein mathematics, losses, teacher cache,
alignment, trainer and config. Never imports Streamlit or the workbench."""
