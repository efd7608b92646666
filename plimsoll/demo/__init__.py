"""The end-to-end demo: a local Anvil, the deploy script, vaults, a replayed market, the keeper, a report."""
