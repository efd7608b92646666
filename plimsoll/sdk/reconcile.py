"""Margin reconciliation: at one pinned block, from raw chain state, recompute every vault's health and the
system identities of ../shared/DESIGN.md, and list every mismatch.

What is checked (all exact integers):

* Σ vault normalized debt = ``totalNormalizedDebt`` (WAD);
* the surplus identity: surplus = totalNormalizedDebt·rate + badDebt − pUSD supply·RAY (RAD) equals the engine's
  ``surplusRad`` and is not negative;
* per collateral: Σ vault balances = the engine's booked ``totalDeposited`` = the tokens the engine holds;
* every vault's health factor recomputed with the exact mirror (plimsoll.sdk.math) from its raw position, the
  oracle prices and the parameters equals the engine's own ``healthFactor`` (through VaultLens);
* the vault count: ids 1..vaultCount are all read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from web3.exceptions import ContractLogicError

from .contracts import Protocol
from .math import RAY, SHOCK_UNIT, CollateralParams, accrue, valuation

#: Vaults per VaultLens call: one call over thousands of vaults exceeds the node's gas cap for calls.
READ_CHUNK = 400


def collateral_params(ct: Any, column: int | None, initial: Any, maintenance: Any) -> CollateralParams:
    """A collateral's parameters from the chain's raw answers.

    Args:
        ct: ``VaultEngine.collateralType(token)`` (decimals at index 1, ltv 3, liquidation threshold 6, bonus 7).
        column: the token's column in the scenario grids (its listing index), None when not listed.
        initial, maintenance: ``PortfolioMargin.scenarioGrids()`` (shocks in SHOCK_UNIT steps).
    """
    return CollateralParams(
        decimals=ct[1], ltv=ct[3], liquidation_threshold=ct[6], liquidation_bonus=ct[7],
        initial_shocks=tuple(row[column] // SHOCK_UNIT for row in initial) if column is not None else (),
        maintenance_shocks=tuple(row[column] // SHOCK_UNIT for row in maintenance) if column is not None else (),
    )


def in_chunks(read, ids: list[int], size: int = READ_CHUNK) -> list[Any]:
    """``read(chunk)`` over ``ids`` in chunks of ``size``, concatenated."""
    return [x for i in range(0, len(ids), size) for x in read(ids[i : i + size])]


@dataclass
class Reconciliation:
    """The result at one block. Amounts: normalized debt and supply WAD, rate RAY, surplus and bad debt RAD.

    Attributes:
        block: the block read.
        vaults: vaults read (ids 1..vaultCount).
        mismatches: one line per identity that does not hold or vault whose health differs (empty: all hold).
        figures: the totals read and derived, for the report.
        unpriced_vaults: vaults whose health could not be recomputed because an oracle refused to price.
    """

    block: int
    vaults: int
    mismatches: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    unpriced_vaults: int = 0

    @property
    def ok(self) -> bool:
        """True when every identity holds and every health factor matches."""
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (integers beyond 2^53 as they are: Python's json keeps them exact)."""
        return {"block": self.block, "ok": self.ok, "mismatches": self.mismatches, "vaults": self.vaults,
                "unpriced_vaults": self.unpriced_vaults, "figures": self.figures}


def reconcile(p: Protocol, block: int) -> Reconciliation:
    """Reconcile the deployment ``p`` at ``block`` (see the module docstring).

    Raises:
        web3 errors when the node cannot answer (no state at that block, connection lost).
    """
    at = {"block_identifier": block}
    e = p.engine.functions
    count = e.vaultCount().call(**at)
    ids = list(range(1, count + 1))
    states = in_chunks(lambda chunk: p.lens.functions.vaults(chunk).call(**at), ids)
    out = Reconciliation(block, len(states))
    if len(states) != count:
        out.mismatches.append(f"vault count: {count} on-chain, {len(states)} read")

    total_normalized = e.totalNormalizedDebt().call(**at)
    rate, last_drip, fee = e.rate().call(**at), e.lastDrip().call(**at), e.stabilityFee().call(**at)
    timestamp = p.w3.eth.get_block(block)["timestamp"]
    current = accrue(rate, fee, timestamp - last_drip)
    bad_debt, surplus_onchain = e.badDebtRad().call(**at), e.surplusRad().call(**at)
    supply = p.pusd.functions.totalSupply().call(**at)
    vault_debt = sum(s[2] for s in states)
    if vault_debt != total_normalized:
        out.mismatches.append(f"debt: Σ vault normalized debt {vault_debt} ≠ totalNormalizedDebt {total_normalized}")
    surplus = total_normalized * current + bad_debt - supply * RAY
    if surplus < 0:
        out.mismatches.append(f"surplus negative: {surplus} RAD")
    if surplus != surplus_onchain:
        out.mismatches.append(f"surplus: derived {surplus} ≠ surplusRad() {surplus_onchain}")

    in_vaults: dict[str, int] = {sym: 0 for sym in p.tokens}
    for s in states:
        for token, amount in zip(s[3], s[4]):
            in_vaults[p.symbol_of(token)] += amount
    collateral = {}
    for sym, token in p.tokens.items():
        held = token.functions.balanceOf(p.engine.address).call(**at)
        booked = e.collateralType(token.address).call(**at)[5]  # totalDeposited
        collateral[sym] = {"in_vaults": in_vaults[sym], "booked": booked, "held": held}
        if not in_vaults[sym] == booked == held:
            out.mismatches.append(f"collateral {sym}: in vaults {in_vaults[sym]}, booked {booked}, held {held}")

    listed = [p.symbol_of(t) for t in e.collateralTokens().call(**at)]
    initial, maintenance = p.portfolio.functions.scenarioGrids().call(**at)
    params = {sym: collateral_params(e.collateralType(p.tokens[sym].address).call(**at),
                                     listed.index(sym) if sym in listed else None, initial, maintenance)
              for sym in p.tokens}
    prices = {}
    for sym, oracle in p.oracles.items():
        try:
            prices[sym] = oracle.functions.price().call(**at)
        except ContractLogicError:
            prices[sym] = None
    try:
        onchain = in_chunks(lambda chunk: p.lens.functions.healthFactors(chunk).call(**at), ids)
    except ContractLogicError:  # an oracle refused: the engine's view reverts for every vault
        onchain = None
    for i, s in enumerate(states):
        if s[2] == 0:
            continue
        symbols = [p.symbol_of(t) for t in s[3]]
        if onchain is None or any(prices[sym] is None for sym in symbols):
            out.unpriced_vaults += 1
            continue
        v = valuation(s[2], current, [(a, prices[sym], params[sym]) for a, sym in zip(s[4], symbols)], s[5])
        if v.health_factor != onchain[i]:
            out.mismatches.append(f"vault {s[0]}: health {v.health_factor} recomputed ≠ {onchain[i]} on-chain")

    out.figures = {
        "total_normalized_debt": total_normalized, "sum_vault_normalized_debt": vault_debt, "rate": current,
        "pusd_supply": supply, "bad_debt_rad": bad_debt, "surplus_rad": surplus, "collateral": collateral,
        "vaults_with_debt": sum(1 for s in states if s[2]),
    }
    return out

