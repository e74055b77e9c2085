"""Answer extraction and metrics shared by the benchmarks (one concern per module)."""
