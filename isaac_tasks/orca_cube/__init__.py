"""ORCA hand, palm down: rotating a 45 mm cube about the vertical axis without support (paper 003)."""
