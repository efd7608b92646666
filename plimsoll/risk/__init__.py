"""Risk tooling: scenario grids from price history (stress tests and parameter recommendations come later)."""
