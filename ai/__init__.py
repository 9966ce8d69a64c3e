"""AI engines behind one small interface; see `ai.base`."""
