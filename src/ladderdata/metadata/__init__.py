"""Per-view metadata: which objects each selected view sees, how much of each, and where."""
