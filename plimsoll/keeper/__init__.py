"""The off-chain liquidation keeper (see bot.py)."""
