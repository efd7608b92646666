"""Risk parameters per collateral from the tail of its price history, and the step the risk steward may take toward
them today (docs/risk.md).

The three rules, each a loss at a stated confidence over a stated horizon (historical, overlapping windows):

- liquidation bonus: ``bonus ≥ 1 + ES(sale) + sale_cost``. The liquidator holds the seized collateral while it
  sells it; the bonus pays for the tail move over that time plus gas and slippage.
- liquidation threshold: ``LT ≤ (1 − ES(liquidation)) / bonus``. A vault crossing HF 1 is liquidated within the
  liquidation horizon (the margin call's grace included). It stays solvent for a full liquidation with its bonus
  as long as its health stays above LT·bonus (docs/math.md), so the tail move over that horizon must fit in
  1 − LT·bonus.
- LTV: ``LTV ≤ LT · (1 − VaR(borrow))``. A vault opened at its maximum loan is not margin-called by a move its
  owner should expect in a day (95 % by default).

The largest bonus the engine accepts is ``bonus·LT_j < 1`` for every listed LT_j (VaultEngine._validateRisk); the
recommended range runs from the rule's minimum to that bound. Fractions round toward the protocol: the bonus up,
LT and LTV down, to whole basis points.

Pure functions over numbers; ``steward_step`` and ``check_sequence`` mirror the RiskSteward's bounds and the
engine's checks exactly, in WAD integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import numpy as np

from .estimates import tail_loss

WAD = 10**18
BPS = Decimal("0.0001")
#: VaultEngine.MIN_LIQUIDATION_BONUS and MAX_LIQUIDATION_BONUS.
MIN_BONUS, MAX_BONUS = Decimal("1.01"), Decimal("2")


@dataclass(frozen=True)
class Horizons:
    """The confidence and horizons the rules are stated at.

    Attributes:
        confidence: tail confidence of the bonus and LT rules.
        sale_hours: hours a liquidator holds seized collateral before it is sold.
        sale_cost: gas and slippage of a liquidation, fraction of the value seized.
        liquidation_hours: hours from HF 1 to the liquidation (the margin call's grace period plus the keeper).
        borrow_confidence, borrow_hours: the move a fresh maximum loan should survive without a margin call.
    """

    confidence: float = 0.99
    sale_hours: int = 1
    sale_cost: float = 0.005
    liquidation_hours: int = 2
    borrow_confidence: float = 0.95
    borrow_hours: int = 24


@dataclass(frozen=True)
class Evidence:
    """The tail losses behind one collateral's parameters (positive fractions) and the windows they come from."""

    windows: int
    sale_es: float
    liquidation_es: float
    borrow_var: float


@dataclass(frozen=True)
class Target:
    """Recommended parameters of one collateral, fractions in whole basis points.

    Attributes:
        ltv, liquidation_threshold: from the rules above.
        bonus: the minimum bonus (LT is derived with it); bonus_max: the largest the engine would accept next to
            every recommended LT.
    """

    ltv: Decimal
    liquidation_threshold: Decimal
    bonus: Decimal
    bonus_max: Decimal


def _bps(x: float, rounding: str) -> Decimal:
    return Decimal(repr(x)).quantize(BPS, rounding=rounding)


def bps_down(x: float) -> Decimal:
    """``x`` (a fraction) in whole basis points, rounded down: how LT and LTV round (toward the protocol)."""
    return _bps(x, ROUND_FLOOR)


def ltv_for(liquidation_threshold: Decimal, borrow_var: float) -> Decimal:
    """The LTV rule: LT · (1 − VaR(borrow)), rounded down to basis points."""
    return bps_down(float(liquidation_threshold) * (1 - borrow_var))


def evidence(closes_by_hours, horizons: Horizons = Horizons()) -> Evidence:
    """Tail losses of one asset.

    Args:
        closes_by_hours: callable hours → overlapping simple returns over that horizon (e.g.
            ``lambda h: horizon_returns(closes, h)``).
        horizons: the rules' confidence and horizons.
    """
    sale = closes_by_hours(horizons.sale_hours)
    liquidation = closes_by_hours(horizons.liquidation_hours)
    borrow = closes_by_hours(horizons.borrow_hours)
    return Evidence(
        windows=int(np.size(liquidation)),
        sale_es=tail_loss(sale, horizons.confidence)[1],
        liquidation_es=tail_loss(liquidation, horizons.confidence)[1],
        borrow_var=tail_loss(borrow, horizons.borrow_confidence)[0],
    )


def recommend(evidence_by_symbol: dict[str, Evidence], horizons: Horizons = Horizons()) -> dict[str, Target]:
    """The three rules of the module docstring for every collateral, and the bonus bound across them.

    Raises:
        ValueError: a tail so heavy that no LT in (0, 1) satisfies the rules.
    """
    partial = {}
    for sym, ev in evidence_by_symbol.items():
        bonus = max(_bps(1 + ev.sale_es + horizons.sale_cost, ROUND_CEILING), MIN_BONUS)
        lt = bps_down((1 - ev.liquidation_es) / float(bonus))
        ltv = ltv_for(lt, ev.borrow_var)
        if not 0 < ltv < lt < 1:
            raise ValueError(f"{sym}: its tail leaves no valid LTV < LT < 1 (LT {lt}, LTV {ltv})")
        partial[sym] = (ltv, lt, bonus)
    top_lt = max(lt for _, lt, _ in partial.values())
    # bonus·LT < 1 strictly: one basis point below 1/LT, floored.
    bonus_max = min((Decimal(1) / top_lt - BPS).quantize(BPS, rounding=ROUND_FLOOR), MAX_BONUS)
    return {sym: Target(ltv, lt, bonus, max(bonus, bonus_max)) for sym, (ltv, lt, bonus) in partial.items()}


@dataclass(frozen=True)
class RiskParameters:
    """LTV, liquidation threshold and liquidation bonus of one collateral, WAD (as the engine stores them)."""

    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int


def _toward(current: int, target: int, step: int) -> int:
    return current + max(-step, min(step, target - current))


def steward_step(current: RiskParameters, target: Target, risk_step: int) -> RiskParameters:
    """The proposal the risk steward may send today: each parameter moved toward its target by at most
    ``risk_step`` (RiskSteward.setRiskParameters' `StepTooLarge` bound).

    Args:
        current: the engine's parameters now, WAD.
        target: the recommendation.
        risk_step: the steward's bound, WAD.
    """
    return RiskParameters(
        _toward(current.ltv, int(target.ltv * WAD), risk_step),
        _toward(current.liquidation_threshold, int(target.liquidation_threshold * WAD), risk_step),
        _toward(current.liquidation_bonus, int(target.bonus * WAD), risk_step),
    )


def shock_shift(
    current: RiskParameters,
    proposal: RiskParameters,
    column: int,
    initial_grid: tuple[tuple[int, ...], ...],
    maintenance_grid: tuple[tuple[int, ...], ...],
) -> int:
    """The shift (WAD, ≤ 0) of one collateral's scenario shocks that must precede ``proposal`` so that its grids
    stay at least as severe as its haircuts (RiskSteward.shiftScenarioShocks, then setRiskParameters).

    The grids were valid for ``current`` (worst shock ≤ LTV − 1 and ≤ LT − 1), so the shift is never larger in size
    than the larger of the LTV and LT steps: within the steward's bound whenever the proposal is.

    Args:
        current, proposal: the collateral's parameters, WAD.
        column: its index in the engine's listing order.
        initial_grid, maintenance_grid: WAD shocks (empty: portfolio margin off, no shift).
    """
    if not maintenance_grid:
        return 0
    worst_initial = min(row[column] for row in initial_grid)
    worst_maintenance = min(row[column] for row in maintenance_grid)
    return min(0, proposal.ltv - WAD - worst_initial, proposal.liquidation_threshold - WAD - worst_maintenance)


def shifted(grid: tuple[tuple[int, ...], ...], column: int, shift: int) -> tuple[tuple[int, ...], ...]:
    """``grid`` with ``shift`` (WAD) added to every shock of ``column``."""
    return tuple(tuple(x + shift if j == column else x for j, x in enumerate(row)) for row in grid)


def check_sequence(
    current: dict[str, RiskParameters],
    proposals: dict[str, RiskParameters],
    order: list[str],
    initial_grid: tuple[tuple[int, ...], ...] = (),
    maintenance_grid: tuple[tuple[int, ...], ...] = (),
    shifts: dict[str, int] | None = None,
) -> dict[str, str]:
    """The custom error each ``setRiskParameters`` call would revert with, sent one after another in ``order``,
    each after its collateral's ``shiftScenarioShocks`` when ``shifts`` has one.

    Mirrors VaultEngine._validateRisk (`InvalidRiskParameters`, `RiskParametersConflict` against every other
    collateral as it stands at that moment) and PortfolioMargin.checkRiskParameters
    (`ScenarioGridLooserThanHaircut`: a collateral's worst shock must stay at or below LTV − 1 on the initial grid
    and LT − 1 on the maintenance grid).

    Args:
        current, proposals: WAD parameters per symbol.
        order: the symbols in the engine's listing order (the grids' column order).
        initial_grid, maintenance_grid: WAD shocks, rows of one per listed collateral (empty: portfolio margin off).
        shifts: symbol → the shock shift (WAD) sent before its parameters (``shock_shift``); each is assumed to
            succeed (the shift only makes shocks more severe).

    Returns:
        symbol → error name, for the calls that would revert (they change nothing, so later calls see ``current``).
    """
    state = dict(current)
    errors = {}
    for j, sym in enumerate(order):
        p = proposals.get(sym)
        if p is None:
            continue
        ltv, lt, bonus = p.ltv, p.liquidation_threshold, p.liquidation_bonus
        if maintenance_grid and (shifts or {}).get(sym):
            initial_grid = shifted(initial_grid, j, shifts[sym])
            maintenance_grid = shifted(maintenance_grid, j, shifts[sym])
        error = None
        if not (0 < ltv < lt < WAD) or not int(MIN_BONUS * WAD) <= bonus <= int(MAX_BONUS * WAD) or bonus * lt >= WAD**2:
            error = "InvalidRiskParameters"
        elif any(
            bonus * o.liquidation_threshold >= WAD**2 or o.liquidation_bonus * lt >= WAD**2
            for other, o in state.items()
            if other != sym
        ):
            error = "RiskParametersConflict"
        elif maintenance_grid and (
            min(row[j] for row in initial_grid) > ltv - WAD or min(row[j] for row in maintenance_grid) > lt - WAD
        ):
            error = "ScenarioGridLooserThanHaircut"
        if error:
            errors[sym] = error
        else:
            state[sym] = p
    return errors
