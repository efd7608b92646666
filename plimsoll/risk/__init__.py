"""Risk engine (docs/risk.md): parameters from price history, the predictive-margin backtest, the cascade simulator
and its stress test and calibration, and portfolio-margin grids."""
