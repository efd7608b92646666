"""The liquidation rules of the reference protocols, on the same vaults and price paths as Plimsoll's
(plimsoll.risk.cascade), for a side-by-side comparison (docs/risk.md, "Policy comparison").

Every policy sees the same vaults (standard margin: Σ value·LT against the debt, LT per collateral as Plimsoll's
unless the policy fixes its own), the same price steps, and liquidators who act at every step at that step's prices
with no slippage. Seizures take every collateral in the same fraction. Owners do not top up. What differs is the
rule, each from its source:

- Aave v3 (aave-v3-core `LiquidationLogic.sol`, `DEFAULT_LIQUIDATION_CLOSE_FACTOR` 0.5 and
  `CLOSE_FACTOR_HF_THRESHOLD` 0.95): below HF 1 a liquidator repays half the debt, all of it below 0.95, and takes
  collateral worth the repay times the asset's fixed bonus; liquidators repeat until HF ≥ 1. Debt left with no
  collateral is bad debt.
- MakerDAO Liquidations 2.0 (dss `dog.sol` `bark`, `clip.sol`): below the liquidation ratio the whole vault goes to
  a Dutch auction for a tab of debt × 1.13 (`chop`). The auction clears ``maker_delay`` seconds later at
  ``maker_discount`` below the market price. It sells collateral until the tab is covered and returns the rest.
- Liquity v1 (`TroveManager.sol` `_liquidateNormalMode`, MCR 110 %): below a collateral ratio of 110 % the whole
  trove is closed. The Stability Pool takes all the collateral, less 0.5 % paid as gas compensation, and cancels
  the debt.
- Euler v2 (euler-vault-kit `Liquidation.sol` `calculateLiquidation`): the discount is 1 − HF, capped at
  ``euler_max_discount``. A liquidator repays as much debt as the collateral allows at that discount (all of it
  when it can) and takes collateral worth repay / (1 − discount). It acts once the discount pays its cost
  (``liquidator_cost``: gas and slippage); the other policies' bonuses always do.

Shapes: n vaults, k collaterals, m steps (one path at a time).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from ..sdk.config import DeployConfig
from .cascade import Book, Rules, simulate

POLICIES = ("plimsoll", "aave", "maker", "liquity", "euler")
#: Rows of the comparison: Plimsoll as configured, Plimsoll without margin calls, then the reference protocols.
ROWS = ("plimsoll", "plimsoll_no_calls", *POLICIES[1:])


@dataclass(frozen=True)
class Terms:
    """The reference protocols' own parameters (fractions; seconds).

    Attributes:
        aave_close_factor, aave_full_below: Aave v3's close factor and the HF below which it is 1.
        maker_penalty: MakerDAO's liquidation penalty (chop − 1).
        maker_delay: seconds from `bark` until the auction clears; maker_discount: below market when it clears.
        liquity_mcr: Liquity v1's minimum collateral ratio; liquity_gas_compensation: share of the collateral
            paid to the liquidator.
        euler_max_discount: Euler v2's cap on the discount.
        liquidator_cost: a liquidation's gas and slippage, fraction of the debt repaid.
    """

    aave_close_factor: float = 0.5
    aave_full_below: float = 0.95
    maker_penalty: float = 0.13
    maker_delay: float = 600.0
    maker_discount: float = 0.05
    liquity_mcr: float = 1.10
    liquity_gas_compensation: float = 0.005
    euler_max_discount: float = 0.20
    liquidator_cost: float = 0.005


@dataclass(frozen=True)
class Tally:
    """One policy's outcome on one path.

    Attributes:
        vaults_liquidated, liquidations: vaults touched, liquidation events (a Maker auction counts once).
        repaid: debt repaid, pUSD; seized: market value of the collateral taken from borrowers when taken, USD.
        bad_debt: debt left without collateral, pUSD; wiped_out: vaults that lost all their collateral.
    """

    vaults_liquidated: int
    liquidations: int
    repaid: float
    seized: float
    bad_debt: float
    wiped_out: int

    @property
    def borrower_penalty(self) -> float:
        """Value seized above the debt it repaid, USD."""
        return self.seized - self.repaid

    @property
    def penalty_per_repaid(self) -> float:
        return self.borrower_penalty / self.repaid if self.repaid else 0.0


def run_reference(policy: str, book: Book, rules: Rules, times: np.ndarray, prices: np.ndarray,
                  terms: Terms = Terms()) -> Tally:
    """Run one reference protocol's rule (module docstring) along one path.

    Args:
        policy: "aave", "maker", "liquity" or "euler".
        book: the vaults; rules: LT and bonus per collateral, and the stability fee.
        times: (m,) seconds; prices: (m, k) USD per whole token.
        terms: the protocols' parameters.

    Raises:
        ValueError: an unknown policy.
    """
    if policy not in POLICIES[1:]:
        raise ValueError(f"unknown policy {policy!r}: one of {POLICIES[1:]}")
    amounts = np.array(book.amounts, dtype=float)
    debt = np.array(book.debt, dtype=float)
    n = debt.size
    touched = np.zeros(n, dtype=bool)
    wiped = np.zeros(n, dtype=bool)
    auction_at = np.full(n, np.inf)  # Maker: when a vault's auction clears
    totals = {"liquidations": 0, "repaid": 0.0, "seized": 0.0, "bad_debt": 0.0}

    def liquidate(idx: np.ndarray, fraction: np.ndarray, r: np.ndarray, seize: np.ndarray) -> None:
        """Take ``fraction`` of each vault's collateral (worth ``seize``) for ``r`` of its debt; a vault left with
        no collateral (Liquity: every liquidated trove) has the rest of its debt written off."""
        fraction = np.minimum(fraction, 1.0)
        amounts[idx] *= (1 - fraction)[:, None]
        debt[idx] = np.maximum(0.0, debt[idx] - r)
        empty = idx if policy == "liquity" else idx[fraction >= 1 - 1e-12]
        totals["liquidations"] += idx.size
        totals["repaid"] += float(r.sum())
        totals["seized"] += float(seize.sum())
        totals["bad_debt"] += float(debt[empty].sum())
        touched[idx] = True
        wiped[empty] = True
        debt[empty] = 0.0
    for j in range(len(times)):
        if j:
            debt *= np.exp(rules.stability_rate * (times[j] - times[j - 1]))
        values = amounts * prices[j]
        value = values.sum(axis=1)
        maintenance = values @ rules.liquidation_threshold
        if policy == "liquity":
            unsafe = (debt > 0) & (value < terms.liquity_mcr * debt)
        else:
            unsafe = (debt > 0) & (maintenance < debt)
        if policy == "maker":
            barked = unsafe & np.isinf(auction_at)
            auction_at[barked] = times[j] + terms.maker_delay
            touched |= barked
            totals["liquidations"] += int(barked.sum())
            clear = np.flatnonzero(auction_at <= times[j])
            if clear.size:
                tab = debt[clear] * (1 + terms.maker_penalty)
                price_factor = 1 - terms.maker_discount
                proceeds = np.minimum(tab, value[clear] * price_factor)
                sold = np.where(value[clear] > 0, proceeds / price_factor / np.maximum(value[clear], 1e-300), 0.0)
                to_debt = np.minimum(proceeds, debt[clear])
                totals["seized"] += float((value[clear] * sold).sum())
                totals["repaid"] += float(to_debt.sum())
                totals["bad_debt"] += float((debt[clear] - to_debt).sum())
                wiped[clear] |= sold >= 1 - 1e-12
                amounts[clear] *= (1 - np.minimum(sold, 1.0))[:, None]
                debt[clear] = 0.0
                auction_at[clear] = np.inf
            continue
        if policy == "aave":
            # Liquidators repeat until the vault is safe or empty; each round halves the debt at most.
            for _ in range(64):
                idx = np.flatnonzero(unsafe)
                if idx.size == 0:
                    break
                v = value[idx]
                bonus = np.where(v > 0, values[idx] @ rules.liquidation_bonus / np.maximum(v, 1e-300), 1.0)
                hf = maintenance[idx] / debt[idx]
                r = debt[idx] * np.where(hf < terms.aave_full_below, 1.0, terms.aave_close_factor)
                seize = np.minimum(r * bonus, v)
                r = np.minimum(r, seize / bonus)
                liquidate(idx, np.where(v > 0, seize / np.maximum(v, 1e-300), 1.0), r, seize)
                values = amounts * prices[j]
                value = values.sum(axis=1)
                maintenance = values @ rules.liquidation_threshold
                unsafe = (debt > 0) & (maintenance < debt)
            continue
        if policy == "euler":  # a liquidator acts once the discount pays for it
            with np.errstate(divide="ignore", invalid="ignore"):
                unsafe &= 1 - maintenance / np.where(debt > 0, debt, 1.0) >= terms.liquidator_cost
        idx = np.flatnonzero(unsafe)
        if idx.size == 0:
            continue
        v, d = value[idx], debt[idx]
        if policy == "liquity":
            seize = v
            r = np.minimum(d, v * (1 - terms.liquity_gas_compensation))
            fraction = np.ones(idx.size)
        else:  # euler
            hf = maintenance[idx] / d
            discount = np.minimum(1 - hf, terms.euler_max_discount)
            r = np.minimum(d, v * (1 - discount))
            seize = r / (1 - discount)
            fraction = np.where(v > 0, seize / np.maximum(v, 1e-300), 1.0)
        liquidate(idx, fraction, r, seize)
    return Tally(int(touched.sum()), totals["liquidations"], totals["repaid"], totals["seized"], totals["bad_debt"],
                 int(wiped.sum()))


def population(cfg: DeployConfig, n: int, start_prices: np.ndarray, seed: int = 42) -> Book:
    """The demo's vault spread (plimsoll.demo.run.plan_vaults: 55 % WETH, 30 % WBTC, 15 % both, half of those in
    portfolio margin, half of the owners answering calls) for ``n`` vaults at ``start_prices`` (USD, listing order),
    as simulator input."""
    from ..demo.run import plan_vaults  # the demo pulls in web3

    symbols = [c.symbol for c in cfg.collaterals]
    specs = plan_vaults(n, {s: Decimal(repr(float(p))) for s, p in zip(symbols, start_prices)}, cfg, seed,
                        portfolio_share=0.5)
    scale = np.array([10.0**c.decimals for c in cfg.collaterals])
    return Book(
        ids=np.arange(1, n + 1),
        amounts=np.array([[sp.collateral.get(sym, 0) for sym in symbols] for sp in specs], dtype=float) / scale,
        debt=np.array([sp.debt / 1e18 for sp in specs]),
        portfolio=np.array([sp.portfolio for sp in specs]),
        responsive=np.array([sp.responsive for sp in specs]),
    )


def run_all(book: Book, rules: Rules, times: np.ndarray, prices: np.ndarray, terms: Terms = Terms()) -> dict[str, Tally]:
    """Every row of ``ROWS`` on one path: Plimsoll's own rules through the cascade simulator (with its margin calls and
    without; no owner answers a call, as no owner tops up elsewhere), then the reference protocols'."""
    quiet = Book(book.ids, book.amounts, book.debt, book.portfolio, np.zeros_like(book.responsive))
    tallies = {}
    for row, r in (("plimsoll", rules), ("plimsoll_no_calls", replace(rules, grace_period=np.zeros_like(rules.grace_period)))):
        out = simulate(quiet, r, times, prices)
        tallies[row] = Tally(int(out.liquidated[0].sum()), int(out.liquidations[0]), float(out.repaid[0]),
                             float(out.seized[0]), float(out.bad_debt[0]), int(out.wiped_out[0].sum()))
    for policy in POLICIES[1:]:
        tallies[policy] = run_reference(policy, book, rules, times, prices[0] if prices.ndim == 3 else prices, terms)
    return tallies


def family_summary(report: dict, prefix: str = "generated") -> dict:
    """Summary over every path of ``report`` (compare.json: path → {"policies": policy → row}) whose name starts
    with ``prefix``: per policy, on how many paths it had the lowest borrower penalty among the policies with zero
    bad debt ("lowest"), on how many it left bad debt, and its mean penalty per $ repaid.

    Returns:
        {"paths": n, "policies": policy → {"lowest": int, "bad_debt_paths": int, "mean_penalty_per_repaid": float}}
    """
    names = [n for n in report if n.startswith(prefix)]
    policies = list(report[names[0]]["policies"]) if names else []
    out = {p: {"lowest": 0, "bad_debt_paths": 0, "mean_penalty_per_repaid": 0.0} for p in policies}
    for name in names:
        rows = report[name]["policies"]
        solvent = [p for p in policies if rows[p]["bad_debt"] == 0]
        if solvent:
            out[min(solvent, key=lambda p: rows[p]["borrower_penalty"])]["lowest"] += 1
        for p in policies:
            out[p]["bad_debt_paths"] += rows[p]["bad_debt"] > 0
            out[p]["mean_penalty_per_repaid"] += rows[p]["penalty_per_repaid"] / len(names)
    for p in policies:
        out[p]["mean_penalty_per_repaid"] = round(out[p]["mean_penalty_per_repaid"], 6)
    return {"paths": len(names), "policies": out}
