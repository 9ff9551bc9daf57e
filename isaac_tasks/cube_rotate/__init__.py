"""A hand, palm down, rotating a cube about the vertical axis without support (paper 003); the hand is data."""
