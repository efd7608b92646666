"""Exact-integer mirror of the contracts' math.

Every function here repeats, operation for operation and rounding for rounding, what the Solidity code
computes (``contracts/libraries/FixedPoint.sol``, ``VaultEngine._valuation`` / ``_accrue`` and
``LiquidationEngine._plan``), so that off-chain health and liquidation amounts equal the chain's to the wei.
``tests/test_mirror.py`` checks that claim against the deployed contracts on random states.

Units: WAD = 10**18, RAY = 10**27, RAD = WAD * RAY. Token amounts are in the token's own decimals;
prices are WAD USD per whole token; values and debts are WAD USD / WAD pUSD.
Formulas: ../shared/DESIGN.md, section "Math".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Sequence

WAD = 10**18
RAY = 10**27
RAD = WAD * RAY
MAX_UINT256 = 2**256 - 1
SECONDS_PER_YEAR = 365 * 24 * 3600
#: ``VaultEngine.MAX_RATE``: the rate accumulator saturates here (RAY).
MAX_RATE = 10**36


def mul_div_down(x: int, y: int, d: int) -> int:
    """floor(x * y / d) for non-negative integers (OpenZeppelin ``Math.mulDiv``, Rounding.Floor)."""
    return x * y // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """ceil(x * y / d) for non-negative integers (OpenZeppelin ``Math.mulDiv``, Rounding.Ceil)."""
    return -(-(x * y) // d)


def rpow_saturating(x: int, n: int, cap: int = MAX_RATE) -> int:
    """min(x**n, cap) for a RAY base x >= RAY by binary exponentiation, each product rounded half up.

    Mirrors ``FixedPoint.rpowSaturating`` (the rounding of MakerDAO's dss ``rpow``, stopping at ``cap``).

    Args:
        x: base, RAY, at least RAY.
        n: exponent (seconds when used for the stability fee).
        cap: largest result, RAY.

    Returns:
        RAY.
    """
    z = x if n % 2 else RAY
    if z > cap:
        return cap
    n //= 2
    while n:
        x = (x * x + RAY // 2) // RAY
        if x > cap:
            return cap
        if n % 2:
            z = (z * x + RAY // 2) // RAY
            if z > cap:
                return cap
        n //= 2
    return z


def accrue(rate: int, stability_fee: int, elapsed: int) -> int:
    """Rate accumulator after ``elapsed`` seconds: min(rate·fee^elapsed rounded down, MAX_RATE)
    (``VaultEngine._accrue``).

    Args:
        rate: stored accumulator, RAY.
        stability_fee: per-second factor, RAY.
        elapsed: seconds since the last drip (>= 0).

    Returns:
        RAY.
    """
    if stability_fee == RAY or elapsed == 0 or rate >= MAX_RATE:
        return rate
    return min(rpow_saturating(stability_fee, elapsed) * rate // RAY, MAX_RATE)


def apr_to_per_second(apr: Decimal | str | float) -> int:
    """Per-second RAY factor f with f**SECONDS_PER_YEAR = 1 + apr (continuous compounding of an APY).

    Args:
        apr: yearly rate as a fraction, e.g. ``"0.02"`` for 2 %.

    Returns:
        RAY, rounded down. Computed with 60-digit decimals, so the result is deterministic.
    """
    with localcontext() as ctx:
        ctx.prec = 60
        growth = (Decimal(1) + Decimal(str(apr))).ln() / SECONDS_PER_YEAR
        return int(growth.exp() * RAY)


def debt_of(normalized_debt: int, rate: int) -> int:
    """A vault's debt in WAD pUSD, rounded up: ceil(normalizedDebt·rate / RAY)."""
    return mul_div_up(normalized_debt, rate, RAY)


BPS = 10_000
SHOCK_UNIT = 10**14  # one basis point, WAD: the resolution of a scenario shock (VaultEngine.SHOCK_UNIT)


@dataclass(frozen=True)
class CollateralParams:
    """One collateral type's risk parameters as the engine stores them.

    Attributes:
        decimals: token decimals.
        ltv: max loan-to-value, WAD.
        liquidation_threshold: WAD.
        liquidation_bonus: WAD (>= WAD).
        initial_shocks: this type's shock in each initial-grid scenario, basis points (portfolio margin).
        maintenance_shocks: the same for the maintenance grid.
    """

    decimals: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    initial_shocks: tuple[int, ...] = ()
    maintenance_shocks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Valuation:
    """A vault's valuation (``IVaultEngine.Valuation``); all WAD but the mask.

    ``unpriced_mask`` has bit i set when the vault's i-th collateral had no usable price; such collateral counts
    zero in every sum. ``tokens`` and ``values`` are per collateral, in the vault's order (values WAD, 0 when
    unpriced); ``tokens`` is empty when the valuation comes from the mirror. ``in_margin_call`` is the vault's
    margin-call flag (the mirror leaves it False).
    """

    debt: int
    collateral_value: int
    borrow_power: int
    maintenance: int
    bonus_value: int
    unpriced_mask: int = 0
    tokens: tuple[str, ...] = ()
    values: tuple[int, ...] = ()
    in_margin_call: bool = False

    @property
    def health_factor(self) -> int:
        """Σ value·LT / debt, WAD rounded down; MAX_UINT256 without debt (``VaultEngine.healthFactor``)."""
        return MAX_UINT256 if self.debt == 0 else mul_div_down(self.maintenance, WAD, self.debt)

    @property
    def unsafe(self) -> bool:
        """HF < 1, i.e. maintenance < debt with some debt."""
        return self.debt != 0 and self.maintenance < self.debt

    @property
    def liquidatable(self) -> bool:
        """Unsafe, and something can be seized: priced collateral, or no collateral at all
        (``LiquidationEngine._liquidatable``)."""
        return self.unsafe and (self.collateral_value != 0 or self.unpriced_mask == 0)


def valuation(
    normalized_debt: int,
    rate: int,
    balances: Sequence[tuple[int, int | None, CollateralParams]],
    portfolio: bool = False,
) -> Valuation:
    """Value a vault exactly as ``VaultEngine._valuation`` does.

    Args:
        normalized_debt: WAD.
        rate: accumulator at the moment of valuation, RAY (``currentRate``).
        balances: (amount in token decimals, price WAD USD per whole token or None when the oracle fails,
            parameters) per collateral, in the vault's collateral order.
        portfolio: the vault is in portfolio margin (the parameters then need their grid shocks).

    Returns:
        The Valuation; per priced collateral value = floor(amount·price/10^decimals), each margin term rounded
        down; an unpriced collateral sets its bit in ``unpriced_mask`` and adds nothing. In portfolio margin,
        borrow power and maintenance are min over scenarios s of Σ floor(value·(10^4 + shock_s)/10^4)
        (docs/math.md, "Portfolio margin").
    """
    value_sum = borrow = maint = bonus = mask = 0
    values = []
    initial: list[int] = []
    maintenance: list[int] = []
    for i, (amount, price, p) in enumerate(balances):
        if price is None:
            mask |= 1 << i
            values.append(0)
            continue
        value = mul_div_down(amount, price, 10**p.decimals)
        values.append(value)
        value_sum += value
        bonus += value * p.liquidation_bonus // WAD
        if portfolio:
            initial = _add_shocked(initial, value, p.initial_shocks)
            maintenance = _add_shocked(maintenance, value, p.maintenance_shocks)
        else:
            borrow += value * p.ltv // WAD
            maint += value * p.liquidation_threshold // WAD
    if portfolio:
        borrow, maint = min(initial, default=0), min(maintenance, default=0)
    return Valuation(debt_of(normalized_debt, rate), value_sum, borrow, maint, bonus, mask, (), tuple(values))


def _add_shocked(scenarios: list[int], value: int, shocks: Sequence[int]) -> list[int]:
    """Scenario sums plus floor(value·(10^4 + shock)/10^4) per scenario (shocks in basis points)."""
    if not scenarios:
        scenarios = [0] * len(shocks)
    return [acc + value * (BPS + bp) // BPS for acc, bp in zip(scenarios, shocks)]


def shocks_to_bps(grid: Sequence[Sequence[int]]) -> list[list[int]]:
    """A grid of WAD shocks (rows = scenarios) as basis points, checking each is a whole basis point in [-1, 1].

    Raises:
        ValueError: a shock is out of range or not a whole basis point (the contract's InvalidShock).
    """
    out = []
    for s, row in enumerate(grid):
        for j, shock in enumerate(row):
            if not -WAD <= shock <= WAD or shock % SHOCK_UNIT:
                raise ValueError(f"shock {shock} at scenario {s}, column {j}: not a whole basis point in [-1, 1]")
        out.append([shock // SHOCK_UNIT for shock in row])
    return out


@dataclass(frozen=True)
class LiquidationPlan:
    """What ``LiquidationEngine.liquidate`` does to a vault (``ILiquidationEngine.Plan``); all WAD."""

    health_factor: int
    repay: int
    protocol_fee: int
    fraction: int
    seized_value: int
    full: bool

    @property
    def cost(self) -> int:
        """pUSD the liquidator pays: repay + protocol fee, WAD."""
        return self.repay + self.protocol_fee


def effective_bonus(bonus: int, health_factor: int, bonus_floor: int, max_bonus_health: int) -> int:
    """The bonus paid at ``health_factor`` on collateral whose full bonus is ``bonus`` (all WAD), mirroring
    ``LiquidationEngine.effectiveBonus``: min(bonus, floor) just under HF 1, rising linearly to ``bonus`` at
    ``max_bonus_health`` and below, rounded down (the growing bonus of Euler v2 and Aave v4)."""
    if bonus <= bonus_floor or health_factor <= max_bonus_health:
        return bonus
    if health_factor >= WAD:
        return bonus_floor
    return bonus_floor + mul_div_down(bonus - bonus_floor, WAD - health_factor, WAD - max_bonus_health)


@dataclass(frozen=True)
class LiquidationParams:
    """The LiquidationEngine's parameters (all WAD), and the engine's dust (WAD pUSD).

    ``bonus_floor`` = 2·WAD (its maximum) pays the full bonus at every depth.
    """

    target_health: int
    full_liquidation_health: int
    protocol_share: int
    dust: int
    bonus_floor: int = 2 * WAD
    max_bonus_health: int = 0


def liquidation_plan(
    v: Valuation,
    params: LiquidationParams,
    rooms: Sequence[int | None] | None = None,
) -> LiquidationPlan:
    """The liquidation of a liquidatable vault, mirroring ``LiquidationEngine._plan``.

    LB = effective_bonus(bonusValue/value, HF); r* = (T·D − M) / (T − LB·LT) with LB·LT = LB·(maintenance/value)
    (docs/math.md); the whole debt when HF < fullLiquidationHealth, when LB·LT >= T, or when the remainder would be
    dust; a partial r* scaled down to the volume caps' room; every priced collateral seized in the fraction
    r·LB/value. When that would take all of it: the whole debt while value >= debt (the bonus shrinks, no bad
    debt), else r = value/LB and the rest is written off.

    Args:
        v: the vault's valuation (must be liquidatable; ``values`` needed when ``rooms`` is given).
        params: the liquidation parameters.
        rooms: per collateral (vault order), the room under its volume cap (WAD USD), None without a cap.

    Returns:
        The plan; ``repay`` 0 on a partial plan means a cap has no room (the contract reverts
        LiquidationCapReached and a batch skips the vault).

    Raises:
        ValueError: the vault is not liquidatable (the contract reverts NotLiquidatable or NoPricedCollateral).
    """
    if not v.liquidatable:
        raise ValueError("vault is not liquidatable (health factor >= 1 or no debt)")
    hf = v.health_factor
    value = v.collateral_value
    if value == 0:
        return LiquidationPlan(hf, 0, 0, WAD, 0, True)
    d = v.debt
    mean_bonus = mul_div_down(v.bonus_value, WAD, value)
    bonus_value = mul_div_down(value, effective_bonus(mean_bonus, hf, params.bonus_floor, params.max_bonus_health), WAD)
    r = d
    k = mul_div_down(mul_div_down(bonus_value, v.maintenance, value), WAD, value)
    target = params.target_health
    if hf >= params.full_liquidation_health and k < target:
        r = mul_div_up(mul_div_up(target, d, WAD) - v.maintenance, WAD, target - k)
        if r >= d or d - r < params.dust:
            r = d
        elif rooms:
            fitted = _capped(v, r, bonus_value, rooms)
            r = 0 if fitted < r and fitted < params.dust else fitted
    seize_value = mul_div_down(r, bonus_value, value)
    if seize_value >= value:
        seize_value = value
        r = d if value >= d else min(r, mul_div_down(value, value, bonus_value))
        fraction = WAD
    else:
        fraction = mul_div_down(seize_value, WAD, value)
    fee = mul_div_up(seize_value - r, params.protocol_share, WAD)
    return LiquidationPlan(hf, r, fee, fraction, seize_value, r == d or fraction == WAD)


def _capped(v: Valuation, r: int, bonus_value: int, rooms: Sequence[int | None]) -> int:
    """``LiquidationEngine._capped``: r' = min over capped collaterals of floor(r·room/seized), seized =
    value_i·r·LB/V rounded up."""
    fitted = r
    for value, room in zip(v.values, rooms):
        if room is None:
            continue
        seized = mul_div_up(value, mul_div_up(r, bonus_value, v.collateral_value), v.collateral_value)
        if seized <= room:
            continue
        fitted = min(fitted, mul_div_down(r, room, seized))
    return fitted


def pending_premium(debt: int, premium: int, charged_until: int, deadline: int, now: int) -> int:
    """Margin-call premium accrued on ``debt`` (WAD) at the per-second RAY factor ``premium``, inside the grace
    window only: ceil(debt·(premium^elapsed − 1)) with elapsed = min(now, deadline) − charged_until (seconds),
    mirroring ``LiquidationEngine._pendingPremium``."""
    end = min(now, deadline)
    if end <= charged_until:
        return 0
    return mul_div_up(debt, rpow_saturating(premium, end - charged_until) - RAY, RAY)


@dataclass(frozen=True)
class MarginCallTerms:
    """A collateral type's margin-call terms (``ILiquidationEngine.MarginCallTerms``); grace 0: not offered.

    Attributes:
        grace_period: seconds; hard_floor: WAD health; premium: per-second RAY factor.
    """

    grace_period: int = 0
    hard_floor: int = 0
    premium: int = 0


def vault_terms(terms: Sequence[MarginCallTerms]) -> MarginCallTerms:
    """A vault's terms from its collaterals' (``LiquidationEngine._vaultTerms``): offered only if all offer it; the
    shortest grace, the highest floor and premium."""
    if not terms or any(t.grace_period == 0 for t in terms):
        return MarginCallTerms()
    return MarginCallTerms(min(t.grace_period for t in terms), max(t.hard_floor for t in terms),
                           max(t.premium for t in terms))


def margin_call_action(health_factor: int, terms: MarginCallTerms, deadline: int, hard_floor: int,
                       now: int) -> str:
    """What a keeper does with a liquidatable vault (health below 1), as the LiquidationEngine decides it.

    Args:
        health_factor: WAD, counting any pending premium in the debt.
        terms: the vault's terms (vault_terms) for a vault not yet called.
        deadline, hard_floor: the vault's call (0, 0 when none), seconds and WAD.
        now: the block timestamp, seconds.

    Returns:
        "wait" inside a call's grace window above its floor (MarginCallGracePeriod), "call" for a callable vault
        not yet called, else "liquidate".
    """
    if deadline:
        return "wait" if now < deadline and health_factor >= hard_floor else "liquidate"
    if terms.grace_period and health_factor >= terms.hard_floor:
        return "call"
    return "liquidate"


def to_wad(x: Decimal | str | int | float) -> int:
    """A decimal number (e.g. ``"0.85"``) as a WAD integer, exactly (rounded down past 18 decimals)."""
    return int(Decimal(str(x)) * WAD)


def rad_to_wad_str(x: int) -> str:
    """A RAD integer as a plain decimal string in WAD units (18 decimals), e.g. for reports."""
    with localcontext() as ctx:
        ctx.prec = 100
        return f"{Decimal(x) / RAD:.18f}"
