"""The keeper's decisions, pure: from the state read at one block to margin calls and liquidation batches.

No I/O here, so every rule is unit-tested without a node (tests/test_keeper_strategy.py). The math is the exact
mirror of the contracts (plimsoll.sdk.math).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from eth_utils import to_checksum_address

from ..sdk.math import (
    BPS,
    RAY,
    WAD,
    CollateralParams,
    LiquidationParams,
    LiquidationPlan,
    MarginCallTerms,
    liquidation_plan,
    margin_call_action,
    mul_div_up,
    pending_premium,
    valuation,
    vault_terms,
)
from ..sdk.uniswap import amount_out


@dataclass
class BlockState:
    """Everything read at one block. Amounts in contract units (see plimsoll.sdk.math).

    Attributes:
        number, timestamp, base_fee: the block (timestamp in seconds, base fee in wei).
        rate: the rate accumulator (RAY) accrued to ``timestamp``.
        vaults: VaultLens.VaultState tuples (id, owner, normalized debt WAD, tokens, amounts, portfolio, in call).
        prices: symbol → oracle price (WAD), None where the oracle reverts.
        params: symbol → collateral parameters.
        inventory: the keeper's pUSD balance (WAD).
        rooms: symbol → liquidation volume cap room (WAD of debt), None when uncapped.
        terms: symbol → margin-call terms.
        calls: vault id → LiquidationEngine.MarginCallState tuple, for vaults in a margin call.
        gas_limit: the block gas limit (None: unknown).
        reserves: flash mode: symbol → (token reserve, pUSD reserve) of its Uniswap v2 pair; absent: no pair.
        flash_fee_rate: flash mode with the flash mint: pUSD's flash fee rate, WAD.
        max_loan: flash mode with the flash mint: pUSD's maxFlashLoan, WAD (None otherwise).
    """

    number: int
    timestamp: int
    base_fee: int
    rate: int
    vaults: list[Any]
    prices: dict[str, int | None]
    params: dict[str, CollateralParams]
    inventory: int
    rooms: dict[str, int | None] = field(default_factory=dict)
    terms: dict[str, MarginCallTerms] = field(default_factory=dict)
    calls: dict[int, Any] = field(default_factory=dict)
    gas_limit: int | None = None
    reserves: dict[str, tuple[int, int]] = field(default_factory=dict)
    flash_fee_rate: int = 0
    max_loan: int | None = None


@dataclass
class Decision:
    """What to do at a block: vaults to margin-call, (vault id, plan) to liquidate lowest health first, and the
    vaults left alone with the reason (``unknown collateral``, ``margin call grace``, ``volume cap``)."""

    calls: list[int] = field(default_factory=list)
    plans: list[tuple[int, LiquidationPlan]] = field(default_factory=list)
    skips: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    """One transaction to send: vault ids in strictly ascending order (liquidateBatch requires it), the most pUSD
    (WAD) it may burn, and in flash mode what the sale should leave after paying, before gas (pUSD WAD)."""

    vault_ids: tuple[int, ...]
    cost: int
    earned: int = 0


def decide(state: BlockState, token_symbol: dict[str, str], params: LiquidationParams,
           limit: int | None = None) -> Decision:
    """Decide every vault of ``state``.

    A vault below maintenance whose collaterals all offer margin calls and that is above its hard floor is called
    rather than liquidated; a called vault waits out its grace window above its floor; a vault whose volume cap
    has no room waits; a vault holding a collateral ``token_symbol`` (lower-case token address → symbol) does not
    know is skipped.

    Every vault is valued (one health factor each); only the unsafe ones are then taken, lowest health first, and
    at most ``limit`` of them become calls or plans: a crash that makes thousands unsafe plans what the next block
    can carry, not all of them (the rest are skipped as ``block full`` and decided again at the next block).

    Args:
        state: the block's state.
        token_symbol: lower-case collateral token address → symbol.
        params: the LiquidationEngine's parameters.
        limit: most margin calls plus plans (None: no limit).
    Returns:
        the Decision; calls and plans by health factor, lowest first.
    """
    d = Decision()
    unsafe: list[tuple[int, Any, list[str], Any]] = []  # (vault id, valuation, symbols, margin-call state)
    floor = _maintenance_floor_factors(state, token_symbol)
    rate = state.rate / RAY
    for vault_id, _owner, normalized, tokens, amounts, portfolio, in_call in state.vaults:
        if normalized == 0:
            continue
        if not in_call:
            # Safe beyond doubt in floating point: not valued exactly (most vaults at most blocks; a tenth of the
            # cost). A vault with an unknown collateral has no factor and goes on to be skipped by name.
            factors = floor[portfolio]
            try:
                lower = sum(a * factors[t] for a, t in zip(amounts, tokens))
            except KeyError:
                lower = 0.0
            # Exact maintenance is at most 2 wei a collateral under the real one (two floors), exact debt 1 wei
            # over (rounded up).
            if lower >= normalized * rate * SAFE_BEYOND_DOUBT + 2 * len(tokens) + 1:
                continue
        symbols = [token_symbol.get(token.lower()) for token in tokens]
        if None in symbols:
            d.skips.append((vault_id, "unknown collateral"))
            continue
        balances = [(a, state.prices[sym], state.params[sym]) for a, sym in zip(amounts, symbols)]
        v = valuation(normalized, state.rate, balances, portfolio)
        call = state.calls.get(vault_id) if in_call else None
        if call is not None:  # the premium that liquidate() books first
            premium = pending_premium(v.debt, call[3], call[1], call[0], state.timestamp)
            v = replace(v, debt=v.debt + premium)
        if v.liquidatable:
            unsafe.append((vault_id, v, symbols, call))
    unsafe.sort(key=lambda u: u[1].health_factor)  # stable: equal health keeps the index's order
    for vault_id, v, symbols, call in unsafe:
        if limit is not None and len(d.calls) + len(d.plans) >= limit:
            d.skips.append((vault_id, "block full"))
            continue
        action = margin_call_action(
            v.health_factor, vault_terms([state.terms.get(sym, MarginCallTerms()) for sym in symbols]),
            call[0] if call else 0, call[2] if call else 0, state.timestamp,
        )
        if action == "call":
            d.calls.append(vault_id)
        elif action == "wait":
            d.skips.append((vault_id, "margin call grace"))
        else:
            plan = liquidation_plan(v, params, [state.rooms.get(sym) for sym in symbols])
            if plan.repay == 0 and not plan.full:
                d.skips.append((vault_id, "volume cap"))
            else:
                d.plans.append((vault_id, plan))
    return d


#: How far a vault's floating-point lower bound on maintenance must exceed its debt, relatively, to be taken as safe
#: without its exact valuation: far beyond the relative error of a few float operations (1e-15); the exact math's
#: rounding is added in wei.
SAFE_BEYOND_DOUBT = 1 + 1e-9


def _maintenance_floor_factors(state: BlockState, token_symbol: dict[str, str]) -> dict[bool, dict[str, float]]:
    """Per margin mode (False: isolated, True: portfolio), token address (as in the VaultLens states and in
    lower case) → a float f such that Σ amount·f over a vault's collateral is at most its maintenance: price /
    10^decimals × the liquidation threshold (isolated), or × (1 + the collateral's most negative maintenance shock)
    (portfolio: the minimum over scenarios of the sums is at least the sum of each collateral's worst). An unpriced
    collateral counts 0, as in the engine; a token ``token_symbol`` does not know has no factor."""
    out: dict[bool, dict[str, float]] = {False: {}, True: {}}
    for token, symbol in token_symbol.items():
        price, p = state.prices.get(symbol), state.params.get(symbol)
        if p is None:
            continue
        per_token = (price or 0) / 10**p.decimals
        for spelling in (token, to_checksum_address(token)):
            out[False][spelling] = per_token * p.liquidation_threshold / WAD
            out[True][spelling] = per_token * (BPS + min(p.maintenance_shocks, default=-BPS)) / BPS
    return out


def allowance(plan: LiquidationPlan) -> int:
    """pUSD (WAD) to set aside for a plan: its cost plus 0.1 % and 1 wei, rounded up, because the liquidation
    executes a block later with a little more interest accrued."""
    return plan.cost + plan.cost // 1000 + 1


#: Gas of a single liquidation, an upper bound: 170,876 after a margin call and up to about 223,000 with two collaterals
#: (benchmarks/results/gas.md; the default demo's gas_per_liquidation max). Used to price and size, never as a limit.
GAS_FIRST_VAULT = 220_000
#: Gas of each further vault in a liquidateBatch, an upper bound (54,072 per vault in a batch of 20, one collateral).
GAS_NEXT_VAULT = 70_000
#: Gas of a marginCall, or of the first vault in a marginCallBatch, an upper bound (109,935 measured,
#: benchmarks/results/gas.md).
GAS_MARGIN_CALL = 130_000
#: Gas of each further vault in a marginCallBatch, an upper bound (benchmarks/results/gas.md: margin_call_batch20).
GAS_NEXT_CALL = 90_000
#: Gas that the next block's first engine transaction spends on the stability-fee drip (a power over the seconds
#: elapsed, the rate, the surplus, the Drip event), an upper bound. The keeper simulates at the latest block, where
#: no second has elapsed and the drip is free, so its room for the next block keeps this much aside: a batch of
#: 20 vaults simulated at 1,077,695 used 1,086,865 in the next block (stop 23).
DRIP_GAS = 30_000


def call_batches(vault_ids: list[int], batch_size: int, room: int,
                 gas_margin: float = 1.3) -> tuple[list[tuple[int, ...]], list[int], int]:
    """Group the vaults to margin-call, in order, into batches of at most ``batch_size``, as far as ``room`` (gas)
    holds their worst case (GAS_MARGIN_CALL for a batch's first vault, GAS_NEXT_CALL for each further one): the
    batches before the last at their gas, the last at its gas limit (× ``gas_margin``), as a block includes them.

    Returns:
        (batches, left, gas): the batches; the vaults that did not fit (``block full``); the batches' worst-case gas.
    """
    batches: list[list[int]] = []
    closed = current = 0
    for i, vault_id in enumerate(vault_ids):
        opens = not batches or len(batches[-1]) == batch_size
        before, batch = (closed + current, GAS_MARGIN_CALL) if opens else (closed, current + GAS_NEXT_CALL)
        if before + int(batch * gas_margin) > room:
            return [tuple(b) for b in batches], vault_ids[i:], closed + current
        if opens:
            batches.append([vault_id])
        else:
            batches[-1].append(vault_id)
        closed, current = before, batch
    return [tuple(b) for b in batches], [], closed + current


@dataclass(frozen=True)
class GasTerms:
    """What gas costs at the block decided on.

    Attributes:
        gas_price: wei per gas the keeper offers (base fee + tip).
        gas_token_price: pUSD WAD per gas token (the WETH oracle's price on Ethereum); None when unknown (then
            gas is not priced and no vault is skipped as unprofitable).
        block_gas: the block gas limit (a batch's worst-case gas × gas_margin must fit); None: no bound.
        gas_margin: the keeper's gas limit = simulated gas × this.
        min_profit: the least profit (pUSD WAD) a vault must bring after its gas; None: liquidate regardless (a
            protocol-run keeper that puts solvency before profit).
        room: gas the blocks until the keeper's next look have left for its new transactions (their gas limits
            less its pending transactions and this look's margin calls); batches are planned within it. None: no
            bound.
        vault_gas: gas of each further vault in a batch as the node last simulated one ((gas −
            GAS_FIRST_VAULT) / (vaults − 1)), which replaces the worst case GAS_NEXT_VAULT in planning the room;
            None: not known yet.
    """

    gas_price: int = 0
    gas_token_price: int | None = None
    block_gas: int | None = None
    gas_margin: float = 1.3
    min_profit: int | None = 0
    room: int | None = None
    vault_gas: int | None = None

    def gas_cost(self, gas: int) -> int:
        """``gas`` priced in pUSD WAD, rounded up (0 when the gas token's price is unknown)."""
        return mul_div_up(gas * self.gas_price, self.gas_token_price, WAD) if self.gas_token_price else 0

    def max_batch(self, batch_size: int) -> int:
        """Most vaults per batch: ``batch_size``, fewer when the block gas limit cannot hold their gas × ``gas_margin``
        (GAS_FIRST_VAULT, then ``vault_gas`` or else GAS_NEXT_VAULT for each further vault)."""
        if self.block_gas is None:
            return batch_size
        room = int(self.block_gas / self.gas_margin) - GAS_FIRST_VAULT
        return max(1, min(batch_size, 1 + room // (self.vault_gas or GAS_NEXT_VAULT)))


def profit(plan: LiquidationPlan, gas: int, terms: GasTerms) -> int:
    """What liquidating a vault earns, pUSD WAD: collateral value seized − pUSD paid − its gas (``gas`` units at
    ``terms``). Slippage is 0: the seized collateral is kept, not sold."""
    return plan.seized_value - plan.cost - terms.gas_cost(gas)


def seized_amounts(state: BlockState, token_symbol: dict[str, str],
                   plans: list[tuple[int, LiquidationPlan]]) -> dict[int, dict[str, int]]:
    """What each plan takes out of its vault, per collateral: vault id → symbol → amount (token units). As the
    VaultEngine books it (``_takeCollateral``): the whole balance at fraction 1, else balance·fraction/WAD rounded
    down, and nothing of an unpriced collateral."""
    by_id = {v[0]: v for v in state.vaults}
    out: dict[int, dict[str, int]] = {}
    for vault_id, plan in plans:
        _, _, _, tokens, amounts, _, _ = by_id[vault_id]
        taken: dict[str, int] = {}
        for token, amount in zip(tokens, amounts):
            sym = token_symbol[token.lower()]
            if state.prices.get(sym) is not None:
                taken[sym] = amount if plan.fraction == WAD else amount * plan.fraction // WAD
        out[vault_id] = taken
    return out


@dataclass
class Sales:
    """Flash mode's market: what the seized collateral sells for on token/pUSD pairs, as the sales of one block
    add up (each sale moves its pair's price for the next).

    Attributes:
        reserves: symbol → (token reserve, pUSD reserve) of its pair; a symbol without a pair is absent.
        flash_fee_rate: pUSD's flash fee, WAD share of the loan (0 for the callback mode, which borrows nothing).
        max_loan: the largest flash mint now (pUSD's maxFlashLoan, WAD), which bounds each batch's cost; None for
            the callback mode.
        sold: symbol → amount already counted in this block's sales.
    """

    reserves: dict[str, tuple[int, int]]
    flash_fee_rate: int = 0
    max_loan: int | None = None
    sold: dict[str, int] = field(default_factory=dict)

    def proceeds(self, taken: dict[str, int]) -> int | None:
        """pUSD (WAD) that selling ``taken`` (symbol → amount) adds after the sales counted so far, or None when a
        collateral cannot be sold: no pair, an empty one, or an amount too small to pay out anything (Uniswap v2
        reverts such a swap, and the whole liquidation with it)."""
        total = 0
        for sym, amount in taken.items():
            if amount == 0:
                continue
            r_in, r_out = self.reserves.get(sym, (0, 0))
            done = self.sold.get(sym, 0)
            added = amount_out(done + amount, r_in, r_out) - amount_out(done, r_in, r_out)
            if added == 0:
                return None
            total += added
        return total

    def count(self, taken: dict[str, int]) -> None:
        """Add ``taken`` to the sales of this block."""
        for sym, amount in taken.items():
            self.sold[sym] = self.sold.get(sym, 0) + amount


def choose(plans: list[tuple[int, LiquidationPlan]], busy: set[int], budget: int, batch_size: int,
           terms: GasTerms | None = None, sales: Sales | None = None,
           seized: dict[int, dict[str, int]] | None = None) -> tuple[list[Batch], list[tuple[int, str]]]:
    """Pick, in the order given (lowest health first), the vaults to liquidate now, and batch them.

    Args:
        plans: (vault id, plan) from ``decide``.
        busy: vaults already in a pending transaction (skipped).
        budget: pUSD (WAD) available: inventory minus what pending transactions may burn.
        batch_size: most vaults per transaction (fewer when the block gas limit requires, GasTerms.max_batch).
        terms: gas prices and the profit rule (default: gas not priced).
    Returns:
        (batches, skips): batches ids ascending within each; skips as (vault id, ``pending`` | ``inventory`` |
        ``unprofitable`` | ``no market`` | ``sale short`` | ``flash max`` | ``block full``). A vault is unprofitable
        when its profit, with the gas of a further vault in a batch (GAS_NEXT_VAULT), is below ``terms.min_profit``.
        A vault whose gas (GAS_FIRST_VAULT opening a batch; joining one, ``terms.vault_gas`` or else the worst case
        GAS_NEXT_VAULT) no longer fits ``terms.room`` waits for the next block (``block full``): the batches before
        its own at their gas, its own at its gas limit (× ``gas_margin``), as a block includes transactions. What
        the block cannot hold is not sent to queue (the dispatcher then checks each batch's own simulated gas).
        Flash mode (``sales`` and ``seized``, from seized_amounts): no inventory is needed and the profit is what the
        seized collateral sells for after the sales chosen before it (the slippage), less the cost, the flash fee
        and gas. A vault whose collateral cannot be sold is skipped (``no market``), and so is one whose sale would
        not pay its cost and flash fee (``sale short``: the transaction would revert), whatever ``min_profit`` says,
        and one that costs more than one flash mint may lend (``flash max``); a batch's cost stays within it.
    """
    terms = terms or GasTerms()
    groups: list[list[tuple[int, int, int]]] = []  # batches of (vault id, pUSD set aside, flash: expected earnings)
    skips: list[tuple[int, str]] = []
    spent = closed = current = 0  # gas of the closed batches and of the last one
    size = terms.max_batch(batch_size)
    loan_cap = sales.max_loan if sales is not None else None
    for vault_id, plan in plans:
        if vault_id in busy:
            skips.append((vault_id, "pending"))
            continue
        need = allowance(plan)
        earned = 0
        if sales is not None:
            proceeds = sales.proceeds(seized[vault_id])
            if proceeds is None:
                skips.append((vault_id, "no market"))
                continue
            if loan_cap is not None and need > loan_cap:
                skips.append((vault_id, "flash max"))
                continue
            earned = proceeds - need - mul_div_up(need, sales.flash_fee_rate, WAD)
            if earned < 0:
                skips.append((vault_id, "sale short"))
                continue
            if terms.min_profit is not None and earned - terms.gas_cost(GAS_NEXT_VAULT) < terms.min_profit:
                skips.append((vault_id, "unprofitable"))
                continue
        elif terms.min_profit is not None and profit(plan, GAS_NEXT_VAULT, terms) < terms.min_profit:
            skips.append((vault_id, "unprofitable"))
            continue
        elif spent + need > budget:
            skips.append((vault_id, "inventory"))
            continue
        # In order: a new batch when the last is full or (flash mint) its loan would pass the cap.
        last = groups[-1] if groups else None
        opens = last is None or len(last) == size or (
            loan_cap is not None and sum(n for _, n, _ in last) + need > loan_cap)
        added = GAS_FIRST_VAULT if opens else terms.vault_gas or GAS_NEXT_VAULT
        # A block takes a transaction whose gas limit (gas × margin) fits what the ones before it used.
        before, batch = (closed + current, added) if opens else (closed, current + added)
        if terms.room is not None and before + int(batch * terms.gas_margin) > terms.room:
            skips.append((vault_id, "block full"))
            continue
        if sales is not None:
            sales.count(seized[vault_id])
        if opens:
            groups.append([(vault_id, need, earned)])
        else:
            last.append((vault_id, need, earned))
        spent += need
        closed, current = before, batch
    batches = [Batch(tuple(sorted(v for v, _, _ in g)), sum(n for _, n, _ in g), sum(e for _, _, e in g))
               for g in groups]
    return batches, skips


#: A same-nonce replacement must raise both fees by at least 10 % (geth's and Anvil's pool rule); 12.5 % leaves room.
REPLACEMENT_BUMP_BPS = 1_250


def bumped(fee: int) -> int:
    """``fee`` raised by REPLACEMENT_BUMP_BPS, rounded up (so that the node's minimum bump always holds), wei."""
    return fee + mul_div_up(fee, REPLACEMENT_BUMP_BPS, 10_000)


def replacement_fees(max_fee: int, tip: int, base_fee: int, min_tip: int, gas: int, bonus: int,
                     gas_token_price: int | None, fee_cap: int) -> tuple[int, int] | None:
    """Fees for replacing a stuck transaction with the same nonce, or None when it must not be replaced.

    Args:
        max_fee, tip: the stuck transaction's maxFeePerGas and maxPriorityFeePerGas, wei.
        base_fee: the current block's base fee, wei.
        min_tip: the keeper's configured tip, wei.
        gas: its gas limit.
        bonus: what it should earn, pUSD WAD (0 for a margin call, which earns nothing: only ``fee_cap`` bounds it).
        gas_token_price: the gas token's price in pUSD, WAD (None when unknown: only ``fee_cap`` bounds it).
        fee_cap: the highest maxFeePerGas the keeper ever pays, wei.
    Returns:
        (max_fee, tip): each bumped by at least 12.5 % (``bumped``), max_fee at least 2·base_fee + tip, as a new
        transaction gets; None when that max_fee exceeds ``fee_cap``, or when the most it could cost,
        gas·max_fee valued at ``gas_token_price`` (rounded up), exceeds a liquidation's bonus: a replacement never
        pays more for gas than the liquidation earns.
    """
    new_tip = max(min_tip, bumped(tip))
    new_max_fee = max(bumped(max_fee), 2 * base_fee + new_tip)
    if new_max_fee > fee_cap:
        return None
    if bonus and gas_token_price is not None and mul_div_up(gas * new_max_fee, gas_token_price, WAD) > bonus:
        return None
    return new_max_fee, new_tip
