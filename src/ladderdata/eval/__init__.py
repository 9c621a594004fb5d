"""Answer extraction and scoring (shared by ``ladder eval`` and laddertrain's rewards)."""
