"""OCR Tray engine: QtCore and MLX only; never imports desktop/."""

__version__ = "0.1.0"
