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


@dataclass(frozen=True)
class CollateralParams:
    """One collateral type's risk parameters as the engine stores them.

    Attributes:
        decimals: token decimals.
        ltv: max loan-to-value, WAD.
        liquidation_threshold: WAD.
        liquidation_bonus: WAD (>= WAD).
    """

    decimals: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int


@dataclass(frozen=True)
class Valuation:
    """A vault's valuation (``IVaultEngine.Valuation``); all WAD but the mask.

    ``unpriced_mask`` has bit i set when the vault's i-th collateral had no usable price; such collateral counts
    zero in every sum.
    """

    debt: int
    collateral_value: int
    borrow_power: int
    maintenance: int
    bonus_value: int
    unpriced_mask: int = 0

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
) -> Valuation:
    """Value a vault exactly as ``VaultEngine._valuation`` does.

    Args:
        normalized_debt: WAD.
        rate: accumulator at the moment of valuation, RAY (``currentRate``).
        balances: (amount in token decimals, price WAD USD per whole token or None when the oracle fails,
            parameters) per collateral, in the vault's collateral order.

    Returns:
        The Valuation; per priced collateral value = floor(amount·price/10^decimals), each margin term rounded
        down; an unpriced collateral sets its bit in ``unpriced_mask`` and adds nothing.
    """
    value_sum = borrow = maint = bonus = mask = 0
    for i, (amount, price, p) in enumerate(balances):
        if price is None:
            mask |= 1 << i
            continue
        value = mul_div_down(amount, price, 10**p.decimals)
        value_sum += value
        borrow += value * p.ltv // WAD
        maint += value * p.liquidation_threshold // WAD
        bonus += value * p.liquidation_bonus // WAD
    return Valuation(debt_of(normalized_debt, rate), value_sum, borrow, maint, bonus, mask)


@dataclass(frozen=True)
class LiquidationPlan:
    """What ``LiquidationEngine.liquidate`` does to a vault (``ILiquidationEngine.Plan``); all WAD."""

    health_factor: int
    repay: int
    protocol_fee: int
    fraction: int
    full: bool

    @property
    def cost(self) -> int:
        """pUSD the liquidator pays: repay + protocol fee, WAD."""
        return self.repay + self.protocol_fee


def liquidation_plan(
    v: Valuation,
    target_health: int,
    full_liquidation_health: int,
    protocol_share: int,
    dust: int,
) -> LiquidationPlan:
    """The liquidation of a liquidatable vault, mirroring ``LiquidationEngine._plan``.

    r* = (T·D − M) / (T − LB·LT) with LB·LT = (bonusValue/value)·(maintenance/value) (docs/math.md);
    the whole debt when HF < fullLiquidationHealth, when LB·LT >= T, or when the remainder would be dust;
    every priced collateral seized in the fraction r·LB/value. When that would take all of it: the whole debt
    while value >= debt (the bonus shrinks, no bad debt), else r = value/LB and the rest is written off.

    Args:
        v: the vault's valuation (must be liquidatable).
        target_health, full_liquidation_health, protocol_share: WAD.
        dust: WAD pUSD.

    Raises:
        ValueError: the vault is not liquidatable (the contract reverts NotLiquidatable or NoPricedCollateral).
    """
    if not v.liquidatable:
        raise ValueError("vault is not liquidatable (health factor >= 1 or no debt)")
    hf = v.health_factor
    value = v.collateral_value
    if value == 0:
        return LiquidationPlan(hf, 0, 0, WAD, True)
    d = v.debt
    r = d
    k = mul_div_down(mul_div_down(v.bonus_value, v.maintenance, value), WAD, value)
    if hf >= full_liquidation_health and k < target_health:
        r = mul_div_up(mul_div_up(target_health, d, WAD) - v.maintenance, WAD, target_health - k)
        if r >= d or d - r < dust:
            r = d
    seize_value = mul_div_down(r, v.bonus_value, value)
    if seize_value >= value:
        seize_value = value
        r = d if value >= d else min(r, mul_div_down(value, value, v.bonus_value))
        fraction = WAD
    else:
        fraction = mul_div_down(seize_value, WAD, value)
    fee = mul_div_up(seize_value - r, protocol_share, WAD)
    return LiquidationPlan(hf, r, fee, fraction, r == d or fraction == WAD)


def to_wad(x: Decimal | str | int | float) -> int:
    """A decimal number (e.g. ``"0.85"``) as a WAD integer, exactly (rounded down past 18 decimals)."""
    return int(Decimal(str(x)) * WAD)


def rad_to_wad_str(x: int) -> str:
    """A RAD integer as a plain decimal string in WAD units (18 decimals), e.g. for reports."""
    with localcontext() as ctx:
        ctx.prec = 100
        return f"{Decimal(x) / RAD:.18f}"
