"""Today's vaults and rules, read from the chain at one pinned block, as cascade-simulator input (docs/risk.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from web3.exceptions import ContractLogicError

from ..sdk.contracts import Protocol
from ..sdk.math import RAY, WAD, accrue
from ..sdk.reconcile import in_chunks
from .cascade import Book, Rules


@dataclass(frozen=True)
class ChainState:
    """What ``read_state`` returns.

    Attributes:
        block, timestamp: where it was read (seconds).
        symbols: the collaterals in the engine's listing order (the book's columns).
        book: every vault with debt (debt at the block's rate, pUSD; amounts in whole tokens). No owner is
            assumed to answer a margin call; vaults already in a call are read as not called (a simplification).
        rules: the deployment's parameters at that block.
        prices: (k,) USD per whole token from each oracle adapter, NaN where it reverts.
        unpriced: symbols whose oracle reverted.
    """

    block: int
    timestamp: int
    symbols: list[str]
    book: Book
    rules: Rules
    prices: np.ndarray
    unpriced: list[str]


def read_state(p: Protocol, block: int) -> ChainState:
    """Read every vault and every parameter at ``block``.

    Raises:
        web3 errors when the node cannot answer (no state at that block, connection lost).
    """
    at = {"block_identifier": block}
    e, lq = p.engine.functions, p.liquidation.functions
    timestamp = p.w3.eth.get_block(block)["timestamp"]
    rate = accrue(e.rate().call(**at), e.stabilityFee().call(**at), timestamp - e.lastDrip().call(**at))
    listed = [p.symbol_of(t) for t in e.collateralTokens().call(**at)]
    tokens = [p.tokens[s].address for s in listed]
    types = [e.collateralType(t).call(**at) for t in tokens]
    terms = [lq.marginCallTerms(t).call(**at) for t in tokens]
    initial, maintenance = p.portfolio.functions.scenarioGrids().call(**at)
    prices, unpriced = [], []
    for s in listed:
        try:
            prices.append(p.oracles[s].functions.price().call(**at) / WAD)
        except ContractLogicError:
            prices.append(float("nan"))
            unpriced.append(s)

    per = lambda f: np.array([f(i) for i in range(len(listed))], dtype=float)  # noqa: E731
    rules = Rules(
        ltv=per(lambda i: types[i][3] / WAD),
        liquidation_threshold=per(lambda i: types[i][6] / WAD),
        liquidation_bonus=per(lambda i: types[i][7] / WAD),
        initial_grid=np.array(initial, dtype=float).reshape(-1, len(listed)) / WAD,
        maintenance_grid=np.array(maintenance, dtype=float).reshape(-1, len(listed)) / WAD,
        target_health=lq.targetHealth().call(**at) / WAD,
        full_liquidation_health=lq.fullLiquidationHealth().call(**at) / WAD,
        protocol_share=lq.protocolShare().call(**at) / WAD,
        bonus_floor=lq.bonusFloor().call(**at) / WAD,
        max_bonus_health=lq.maxBonusHealth().call(**at) / WAD,
        dust=e.dust().call(**at) / WAD,
        grace_period=per(lambda i: terms[i][0]),
        hard_floor=per(lambda i: terms[i][1] / WAD),
        premium_rate=per(lambda i: np.log(terms[i][2] / RAY) if terms[i][2] else 0.0),
        stability_rate=float(np.log(e.stabilityFee().call(**at) / RAY)),
        liquidation_cap=per(lambda i: lq.liquidationCap(tokens[i]).call(**at) / WAD),
        cap_window=float(lq.capWindow().call(**at)),
    )

    ids = list(range(1, e.vaultCount().call(**at) + 1))
    states = [s for s in in_chunks(lambda chunk: p.lens.functions.vaults(chunk).call(**at), ids) if s[2] > 0]
    column = {t.lower(): j for j, t in enumerate(tokens)}
    scale = np.array([10.0 ** t[1] for t in types])
    amounts = np.zeros((len(states), len(listed)))
    for i, s in enumerate(states):
        for token, amount in zip(s[3], s[4]):
            amounts[i, column[token.lower()]] = amount
    book = Book(
        ids=np.array([s[0] for s in states], dtype=np.int64),
        amounts=amounts / scale,
        debt=np.array([-(-s[2] * rate // RAY) for s in states], dtype=float) / WAD,
        portfolio=np.array([bool(s[5]) for s in states]),
        responsive=np.zeros(len(states), dtype=bool),
    )
    return ChainState(block, timestamp, listed, book, rules, np.array(prices), unpriced)


def shock_paths(prices: np.ndarray, shocks: np.ndarray, steps: int, step_seconds: float,
                closing_seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Price paths from today's prices: each scenario's shocks reached linearly over ``steps`` steps, then one more
    step ``closing_seconds`` later at the shocked prices (every grace window run out).

    Args:
        prices: (k,) USD today.
        shocks: (S, k) fractions (−0.3 = a 30 % fall).
        steps: steps to reach the shock (1 = at once).
        step_seconds: seconds between steps.
        closing_seconds: seconds from the shock to the closing step.

    Returns:
        (times (steps + 2,), prices (S, steps + 2, k)).
    """
    ramp = np.concatenate([[0.0], np.arange(1, steps + 1) / steps, [1.0]])
    times = np.concatenate([[0.0], step_seconds * np.arange(1, steps + 1), [step_seconds * steps + closing_seconds]])
    path = prices[None, None, :] * (1 + shocks[:, None, :] * ramp[None, :, None])
    return times, path
