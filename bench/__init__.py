"""OCR Tray's benchmarks (``python -m bench``): figures measured against same-run baselines.

Every benchmark process chooses MLX's BLAS here, before anything imports MLX, so that a figure's "bare
mlx-vlm" side runs on the same matrix products as the engine (ADR 0023).
"""

from engine import native_blas

native_blas.use()
