"""Plimsoll: CDP protocol tooling: sdk (chain access, math mirror), keeper, demo and CLI."""
