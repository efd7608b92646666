"""The keeper's parts that need no node: its decisions (strategy), its state database (store), its vault index
with reorg handling (index, driven by a chain written down as block hashes and Borrow events), its position
cache (positions) and how its dispatcher reads a simulation's answers (written down as they come from Anvil and
geth)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from eth_account import Account
from prometheus_client import generate_latest
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from plimsoll.keeper.dispatcher import COLD_PREMIUM, METHOD_NOT_FOUND, REVERTED, Dispatcher
from plimsoll.keeper.errors import StateError
from plimsoll.keeper.index import VaultIndex, fork_point
from plimsoll.keeper.metrics import KeeperMetrics
from plimsoll.keeper.positions import PositionCache, named_vaults, vault_topics
from plimsoll.keeper.store import KeeperStore, PendingTx
from plimsoll.keeper.strategy import (
    GAS_FIRST_VAULT,
    GAS_MARGIN_CALL,
    GAS_NEXT_CALL,
    GAS_NEXT_VAULT,
    Batch,
    BlockState,
    GasTerms,
    Sales,
    allowance,
    bumped,
    call_batches,
    choose,
    decide,
    replacement_fees,
    seized_amounts,
)
from plimsoll.sdk.contracts import load_abi
from plimsoll.sdk.uniswap import amount_out
from plimsoll.sdk.math import (
    RAY,
    WAD,
    CollateralParams,
    LiquidationParams,
    LiquidationPlan,
    MarginCallTerms,
    valuation,
)

WETH, NEW = "0x" + "11" * 20, "0x" + "22" * 20
ENGINE = "0x" + "ee" * 20
PARAMS = LiquidationParams(target_health=WAD * 105 // 100, full_liquidation_health=WAD // 2,
                           protocol_share=WAD // 10, dust=100 * WAD)
WETH_PARAMS = CollateralParams(decimals=18, ltv=WAD * 8 // 10, liquidation_threshold=WAD * 85 // 100,
                               liquidation_bonus=WAD * 105 // 100)


def _state(vaults, *, rooms=None, terms=None, calls=None, price=1_000 * WAD) -> BlockState:
    return BlockState(number=10, timestamp=1_000, base_fee=1, rate=RAY, vaults=vaults, prices={"WETH": price},
                      params={"WETH": WETH_PARAMS}, inventory=0, rooms=rooms or {}, terms=terms or {},
                      calls=calls or {})


def _vault(vault_id: int, debt_wad: int, weth: int, token: str = WETH, in_call: bool = False):
    """A VaultLens.VaultState tuple at rate 1 (normalized debt = debt)."""
    return (vault_id, "0x" + "aa" * 20, debt_wad, [token], [weth], False, in_call)


# ---------------------------------------------------------------- strategy


def test_decide_orders_unsafe_vaults_lowest_health_first_and_leaves_safe_and_debt_free_ones():
    # 10 WETH at $1,000, LT 0.85 → $8,500 of maintenance: HF = 8,500 / debt.
    vaults = [_vault(1, 8_000 * WAD, 10 * WAD), _vault(2, 9_000 * WAD, 10 * WAD), _vault(3, 10_000 * WAD, 10 * WAD),
              _vault(4, 0, 10 * WAD)]
    d = decide(_state(vaults), {WETH: "WETH"}, PARAMS)
    assert [v for v, _ in d.plans] == [3, 2]
    assert [p.health_factor for _, p in d.plans] == [WAD * 85 // 100, 8_500 * WAD // 9_000]
    assert d.calls == [] and d.skips == []


def test_decide_takes_a_vault_as_safe_without_valuing_it_only_beyond_doubt_to_the_last_wei():
    """The floating-point screen never hides an unsafe vault: at the boundary (maintenance = debt, HF exactly 1:
    safe; one wei more debt: unsafe), for isolated and portfolio vaults, large and dust-sized, decide finds exactly
    the vaults that the exact valuation finds unsafe."""
    shocked = replace(WETH_PARAMS, maintenance_shocks=(-1_500, -3_000), initial_shocks=(-2_000, -3_500))
    # At $1/3 a WETH, 4 and 5 wei are worth 1.13 and 1.17 wei of maintenance in real numbers, 0 in the engine's.
    for price in (1_000 * WAD, WAD // 3):
        state = _state([], price=price)
        state.params = {"WETH": shocked}
        vaults, unsafe = [], set()
        for weth in [1, 4, 5, 10**9 + 7, 7 * WAD // 3, 12_345 * WAD + 1]:
            for portfolio in (False, True):
                v = valuation(0, RAY, [(weth, price, shocked)], portfolio)
                for extra in (0, 1):
                    vault_id = len(vaults) + 1
                    vaults.append((vault_id, "0x" + "aa" * 20, v.maintenance + extra, [WETH], [weth], portfolio,
                                   False))
                    if extra:
                        unsafe.add(vault_id)
        state.vaults = vaults
        d = decide(state, {WETH: "WETH"}, PARAMS)
        assert {v for v, _ in d.plans} | {v for v, _ in d.skips} | set(d.calls) == unsafe


def test_decide_plans_at_most_limit_unsafe_vaults_lowest_health_first_and_leaves_the_rest_for_the_next_block():
    # HF = 8,500 / debt: vault 2 (debt 12,000) is the lowest, then 3 (11,000), then 1 (10,000); 4 is safe.
    vaults = [_vault(1, 10_000 * WAD, 10 * WAD), _vault(2, 12_000 * WAD, 10 * WAD), _vault(3, 11_000 * WAD, 10 * WAD),
              _vault(4, 8_000 * WAD, 10 * WAD)]
    d = decide(_state(vaults), {WETH: "WETH"}, PARAMS, limit=2)
    assert [v for v, _ in d.plans] == [2, 3] and d.skips == [(1, "block full")]
    assert decide(_state(vaults), {WETH: "WETH"}, PARAMS, limit=0).skips == [(2, "block full"), (3, "block full"),
                                                                               (1, "block full")]
    assert [v for v, _ in decide(_state(vaults), {WETH: "WETH"}, PARAMS).plans] == [2, 3, 1]


def test_choose_fills_the_block_room_at_worst_case_gas_and_leaves_the_rest():
    plans = [(v, _plan(v, 100 * WAD)) for v in (5, 3, 8, 1, 9)]
    # One batch opening (220,000) and two vaults joining it (70,000 each): 360,000 gas, a gas limit of 468,000.
    room = (GAS_FIRST_VAULT + 2 * GAS_NEXT_VAULT) * 13 // 10
    batches, skips = choose(plans, set(), 10**30, 25, GasTerms(room=room))
    assert [b.vault_ids for b in batches] == [(3, 5, 8)] and skips == [(1, "block full"), (9, "block full")]
    # Batches of two: the first (290,000 gas) fits, the second's gas limit (220,000 × 1.3) no longer fits after it.
    batches, skips = choose(plans, set(), 10**30, 2, GasTerms(room=room))
    assert [b.vault_ids for b in batches] == [(3, 5)] and [v for v, _ in skips] == [8, 1, 9]
    assert [b.vault_ids for b in choose(plans, set(), 10**30, 2, GasTerms(room=290_000 + 377_000))[0]] == [
        (3, 5), (1, 8)]  # then 290,000 used and a limit of 290,000 × 1.3 for the second
    # One gas short, the third vault no longer fits; no room given, all of them in one batch.
    assert choose(plans, set(), 10**30, 25, GasTerms(room=room - 1))[0][0].vault_ids == (3, 5)
    assert choose(plans, set(), 10**30, 25, GasTerms(room=None))[0][0].vault_ids == (1, 3, 5, 8, 9)
    # Once the node has estimated a further vault at 45,000 gas, that replaces the worst case:
    # (220,000 + 4 × 45,000) × 1.3 = 520,000.
    assert choose(plans, set(), 10**30, 25, GasTerms(room=520_000, vault_gas=45_000)) == (
        [Batch((1, 3, 5, 8, 9), 5 * allowance(plans[0][1]))], [])
    batches, skips = choose(plans, set(), 10**30, 25, GasTerms(room=519_999, vault_gas=45_000))
    assert batches[0].vault_ids == (1, 3, 5, 8) and skips == [(9, "block full")]


def test_margin_calls_are_batched_within_the_block_room():
    # A first batch of two (its gas), then a second one's first vault at its gas limit (× 1.3).
    room = GAS_MARGIN_CALL + GAS_NEXT_CALL + GAS_MARGIN_CALL * 13 // 10
    assert call_batches([7, 3, 9, 4, 1], 2, room) == ([(7, 3), (9,)], [4, 1], 2 * GAS_MARGIN_CALL + GAS_NEXT_CALL)
    assert call_batches([7, 3, 9], 25, room) == ([(7, 3)], [9], GAS_MARGIN_CALL + GAS_NEXT_CALL)
    assert call_batches([7], 25, GAS_MARGIN_CALL * 13 // 10 - 1) == ([], [7], 0)
    assert call_batches([], 25, 0) == ([], [], 0)


def test_decide_skips_unknown_collateral_and_full_caps_and_calls_callable_vaults():
    vaults = [_vault(1, 9_000 * WAD, 10 * WAD), _vault(2, 9_000 * WAD, 10 * WAD, token=NEW)]
    capped = decide(_state(vaults, rooms={"WETH": 0}), {WETH: "WETH"}, PARAMS)
    assert capped.plans == [] and capped.skips == [(2, "unknown collateral"), (1, "volume cap")]
    offered = {"WETH": MarginCallTerms(grace_period=3_600, hard_floor=WAD * 9 // 10, premium=RAY)}
    called = decide(_state(vaults[:1], terms=offered), {WETH: "WETH"}, PARAMS)
    assert called.calls == [1] and called.plans == []
    # In its window (deadline 2,000 > now 1,000) and above the floor (0.944 ≥ 0.9): wait.
    waiting = decide(_state([_vault(1, 9_000 * WAD, 10 * WAD, in_call=True)], terms=offered,
                            calls={1: (2_000, 1_000, WAD * 9 // 10, RAY)}), {WETH: "WETH"}, PARAMS)
    assert waiting.skips == [(1, "margin call grace")] and waiting.plans == []


def _plan(hf: int, repay: int, bonus_bps: int = 500) -> LiquidationPlan:
    return LiquidationPlan(health_factor=hf, repay=repay, protocol_fee=0, fraction=0,
                           seized_value=repay * (10_000 + bonus_bps) // 10_000, full=False)


def test_choose_skips_pending_vaults_keeps_within_the_budget_and_sorts_each_batch():
    plans = [(9, _plan(1, 100 * WAD)), (4, _plan(2, 100 * WAD)), (7, _plan(3, 100 * WAD)), (2, _plan(4, 1_000 * WAD)),
             (5, _plan(5, 100 * WAD))]
    need = allowance(_plan(0, 100 * WAD))
    assert need == 100 * WAD + 100 * WAD // 1000 + 1
    batches, skips = choose(plans, busy={4}, budget=3 * need, batch_size=2)
    assert skips == [(4, "pending"), (2, "inventory")]
    assert batches == [Batch((7, 9), 2 * need), Batch((5,), need)]


GWEI = 10**9


def test_a_replacement_bumps_both_fees_enough_for_the_node_and_pays_at_most_the_bonus():
    assert bumped(8 * GWEI) == 9 * GWEI and bumped(1) == 2  # +12.5 %, rounded up: never below the node's +10 %
    # Base fee now 20 gwei: the new max fee is what a new transaction would offer, 2·base + tip.
    assert replacement_fees(4 * GWEI, GWEI, 20 * GWEI, GWEI, 300_000, 100 * WAD, 2_000 * WAD, 500 * GWEI) == (
        41_125_000_000, 1_125_000_000)
    # Base fee unchanged: both fees bumped by 12.5 %.
    assert replacement_fees(40 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, 300_000, 100 * WAD, 2_000 * WAD, 500 * GWEI) == (
        45 * GWEI, 2_250_000_000)
    # Worst case 300,000 gas × 45 gwei = 0.0135 ETH = $27 at $2,000: more than a $20 bonus → not replaced.
    assert replacement_fees(40 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, 300_000, 20 * WAD, 2_000 * WAD, 500 * GWEI) is None
    assert replacement_fees(40 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, 300_000, 27 * WAD, 2_000 * WAD, 500 * GWEI)
    # The fee cap binds every transaction, margin calls (no bonus) included.
    assert replacement_fees(40 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, 300_000, 0, None, 44 * GWEI) is None
    assert replacement_fees(40 * GWEI, 2 * GWEI, 10 * GWEI, GWEI, 300_000, 0, None, 45 * GWEI) == (45 * GWEI,
                                                                                                2_250_000_000)


def test_choose_skips_vaults_whose_gas_costs_more_than_their_bonus_and_sizes_batches_to_the_block():
    # Gas at 100 gwei, ETH at $2,000: a further vault in a batch (70,000 gas) costs $14.
    terms = GasTerms(gas_price=100 * GWEI, gas_token_price=2_000 * WAD, block_gas=30_000_000)
    assert terms.gas_cost(GAS_NEXT_VAULT) == 14 * WAD
    plans = [(1, _plan(1, 200 * WAD)), (2, _plan(2, 300 * WAD)), (3, _plan(3, 280 * WAD))]  # bonus $10, $15, $14
    batches, skips = choose(plans, busy=set(), budget=10**30, batch_size=25, terms=terms)
    assert skips == [(1, "unprofitable")] and batches == [Batch((2, 3), allowance(plans[1][1]) + allowance(plans[2][1]))]
    assert choose(plans, set(), 10**30, 25, replace(terms, min_profit=None))[1] == []  # solvency before profit
    assert choose(plans, set(), 10**30, 25, replace(terms, gas_token_price=None))[1] == []  # gas not priced
    # 30M gas / 1.3 = 23,076,923: 220,000 for the first vault, then 326 more at 70,000: the block allows 327.
    assert terms.max_batch(500) == 327 and terms.max_batch(25) == 25
    assert replace(terms, block_gas=300_000).max_batch(25) == 1
    assert replace(terms, vault_gas=50_000).max_batch(500) == 458  # once estimated: 1 + 22,856,923 // 50,000


def test_amount_out_is_uniswap_v2s_formula():
    # UniswapV2Library.getAmountOut: 997·in·R_out / (1000·R_in + 997·in), rounded down.
    assert amount_out(10 * WAD, 100 * WAD, 200_000 * WAD) == 997 * 10 * 200_000 * WAD // (100_000 + 9_970)
    assert amount_out(0, 1, 1) == amount_out(1, 0, 1) == amount_out(1, 1, 0) == 0


def test_flash_mode_prices_each_vault_by_what_its_sale_adds_after_the_ones_before_it():
    """Pair 100 WETH / 200,000 pUSD. Each vault's 10 WETH sells for less than the one before (slippage): the first
    two pay their cost (15,016 with the keeper's allowance), the third no longer would (sale short) and is left, whatever min_profit says; a
    vault holding a collateral with no pair is left too (no market). No inventory is needed."""
    vaults = [(v, "0x" + "aa" * 20, 1, [WETH], [10 * WAD], False, False) for v in (1, 2, 3)]
    vaults.append((4, "0x" + "aa" * 20, 1, [NEW], [10 * WAD], False, False))
    state = replace(_state(vaults), prices={"WETH": 1_800 * WAD, "NEW": WAD})
    plans = [(v, LiquidationPlan(WAD // 2, 15_000 * WAD, 0, WAD, 18_000 * WAD, True)) for v in (1, 2, 3, 4)]
    taken = seized_amounts(state, {WETH: "WETH", NEW: "NEW"}, plans)
    assert taken == {1: {"WETH": 10 * WAD}, 2: {"WETH": 10 * WAD}, 3: {"WETH": 10 * WAD}, 4: {"NEW": 10 * WAD}}
    sales = Sales({"WETH": (100 * WAD, 200_000 * WAD)})
    first = amount_out(10 * WAD, 100 * WAD, 200_000 * WAD)
    assert sales.proceeds(taken[1]) == first  # 18,132; then 15,118 and 12,797
    batches, skips = choose(plans, busy=set(), budget=0, batch_size=25, terms=GasTerms(min_profit=None),
                            sales=sales, seized=taken)
    second = amount_out(20 * WAD, 100 * WAD, 200_000 * WAD) - first
    need = allowance(plans[0][1])
    assert batches == [Batch((1, 2), 2 * need, first + second - 2 * need)]
    assert skips == [(3, "sale short"), (4, "no market")]
    assert sales.sold == {"WETH": 20 * WAD}
    assert first > second > need > amount_out(30 * WAD, 100 * WAD, 200_000 * WAD) - first - second
    # A flash fee of 1 % on the 15,016 borrowed (150) makes the second sale short as well.
    batches, skips = choose(plans, set(), 0, 25, GasTerms(min_profit=None),
                            Sales({"WETH": (100 * WAD, 200_000 * WAD)}, flash_fee_rate=WAD // 100), taken)
    assert batches == [Batch((1,), need, first - need - need // 100 - 1)] and skips[0] == (2, "sale short")
    # A flash mint lends at most max_loan: each batch's cost stays within it, a vault above it is skipped.
    batches, _ = choose(plans[:2], set(), 0, 25, GasTerms(min_profit=None),
                        Sales({"WETH": (100 * WAD, 200_000 * WAD)}, max_loan=need), taken)
    assert [b.vault_ids for b in batches] == [(1,), (2,)]
    assert choose(plans[:1], set(), 0, 25, GasTerms(min_profit=None),
                  Sales({"WETH": (100 * WAD, 200_000 * WAD)}, max_loan=need - 1), taken)[1] == [(1, "flash max")]


def test_a_sale_that_pays_nothing_is_no_market():
    """Uniswap v2 reverts a swap with no output, and the whole liquidation with it: an empty pair (anyone may create
    one) and an amount too small to pay out a wei are no market, not a sale of zero."""
    assert Sales({"WETH": (0, 0)}).proceeds({"WETH": WAD}) is None
    assert Sales({"WETH": (10**30, 1)}).proceeds({"WETH": 1}) is None
    assert Sales({"WETH": (WAD, WAD)}).proceeds({"WETH": 0}) == 0


# ---------------------------------------------------------------- store


def _store(tmp_path, block_hash="0x" + "01" * 32, engine=ENGINE) -> KeeperStore:
    return KeeperStore(f"sqlite:///{tmp_path / 'state.sqlite'}", 31337, engine, 100, block_hash)


def test_store_keeps_everything_across_reopening(tmp_path):
    s = _store(tmp_path)
    assert s.load().scanned_to == 99
    s.save_scan(120, {3, 1}, set(), {120: "0xab"}, 0)
    tx = PendingTx("0xt1", (1, 3), 120, 2**70, 7, 3 * WAD, "0x" + "cc" * 20, "0xdeadbeef", 300_000, 2**65, 10**9, 121)
    s.add_pending(tx)
    s.close()
    again = _store(tmp_path).load()
    assert (again.scanned_to, again.vault_ids, again.hashes) == (120, {1, 3}, {120: "0xab"})
    assert again.pending == (tx,)


@pytest.mark.parametrize("other", [{"block_hash": "0x" + "02" * 32}, {"engine": "0x" + "ef" * 20}])
def test_store_refuses_the_state_of_another_deployment(tmp_path, other):
    _store(tmp_path).close()
    with pytest.raises(StateError, match="belongs to another deployment"):
        _store(tmp_path, **other)


def test_store_reports_an_unusable_url_as_a_state_error(tmp_path):
    with pytest.raises(StateError, match="cannot open the keeper state"):
        KeeperStore(f"sqlite:///{tmp_path / 'missing-dir' / 'x.sqlite'}", 1, ENGINE, 0, "0x00")


# ---------------------------------------------------------------- index and reorgs


class Chain:
    """A chain as the node reports it: block number → (hash, vault ids that borrowed in it)."""

    def __init__(self):
        self.blocks: dict[int, tuple[str, set[int]]] = {}

    def mine(self, number: int, fork: str = "a", borrowers: set[int] | None = None) -> str:
        h = f"0x{fork}{number:063x}"
        self.blocks[number] = (h, borrowers or set())
        for n in [n for n in self.blocks if n > number]:
            del self.blocks[n]
        return h

    async def hash_at(self, number: int) -> str | None:
        return self.blocks[number][0] if number in self.blocks else None

    async def borrowers(self, first: int, last: int) -> set[int]:
        return {v for n in range(first, last + 1) if n in self.blocks for v in self.blocks[n][1]}


def _sync(index: VaultIndex, chain: Chain, head: int) -> dict[str, int]:
    return asyncio.run(index.sync(head, chain.blocks[head][0]))


def test_fork_point_is_the_newest_remembered_block_still_on_the_chain():
    chain = Chain()
    for n in range(1, 6):
        chain.mine(n)
    remembered = {n: chain.blocks[n][0] for n in (2, 4, 5)}
    chain.mine(4, fork="b")
    chain.mine(5, fork="b")
    assert asyncio.run(fork_point(remembered, 5, chain.hash_at)) == 2
    assert asyncio.run(fork_point({9: "0xdead"}, 5, chain.hash_at)) is None


def test_index_scans_in_ranges_resumes_after_a_restart_and_drops_debt_free_vaults(tmp_path):
    chain = Chain()
    for n in range(100, 131):
        chain.mine(n, borrowers={n} if n % 10 == 0 else set())
    calls = []

    async def borrowers(first, last):
        calls.append((first, last))
        return await chain.borrowers(first, last)

    index = VaultIndex(_store(tmp_path), borrowers, chain.hash_at, log_range=12)
    assert _sync(index, chain, 125) == {"new": 3}
    assert calls == [(100, 111), (112, 123), (124, 125)] and index.vault_ids == {100, 110, 120}
    index.drop({110, 999})
    index.store.close()
    # Restarted at 130: Borrow events in 126..130 only, nothing missed, nothing scanned twice.
    calls.clear()
    again = VaultIndex(_store(tmp_path), borrowers, chain.hash_at, log_range=12)
    assert again.vault_ids == {100, 120}
    assert _sync(again, chain, 130) == {"new": 1}
    assert calls == [(126, 130)] and again.vault_ids == {100, 120, 130}


def test_a_reorg_scans_the_forked_blocks_again_and_finds_the_vault_that_borrowed_there(tmp_path):
    chain = Chain()
    for n in range(100, 106):
        chain.mine(n, borrowers={1} if n == 103 else set())
    index = VaultIndex(_store(tmp_path), chain.borrowers, chain.hash_at, log_range=100)
    for n in range(100, 106):
        _sync(index, chain, n)
    assert index.vault_ids == {1}
    # Blocks 104.. are replaced; in the new 104, vault 2 borrows. The new head (104) is below the old one (105).
    chain.mine(104, fork="b", borrowers={2})
    assert _sync(index, chain, 104) == {"reorg_from": 104, "new": 1}
    assert index.vault_ids == {1, 2}  # a superset: vault 1 leaves when read without debt
    # A fork deeper than the remembered window (2 blocks): the index is rebuilt from the deployment block (100).
    shallow = VaultIndex(_store(tmp_path), chain.borrowers, chain.hash_at, log_range=100, window=2)
    for n in range(105, 111):
        chain.mine(n)
        _sync(shallow, chain, n)
    assert sorted(shallow.hashes) == [108, 109, 110]
    for n in range(100, 112):
        chain.mine(n, fork="c", borrowers={3} if n == 101 else set())
    assert _sync(shallow, chain, 111) == {"reorg_from": 100, "new": 1}
    assert 3 in shallow.vault_ids


def test_one_leader_per_state_file_and_the_lead_passes_when_it_is_released(tmp_path):
    a, b = _store(tmp_path), _store(tmp_path)
    assert a.try_lead() and a.try_lead()  # asking again keeps the lead
    assert not b.try_lead()
    a.close()  # as the system does for a process that dies
    assert b.try_lead()
    assert KeeperStore("sqlite://", 1, ENGINE, 0, "0x00").try_lead()  # in memory: nobody to share with


# ---------------------------------------------------------------- metrics and health


def test_health_is_stalled_once_no_head_was_heard_within_the_watchdog_time():
    m = KeeperMetrics()
    m.heard_head(120)
    m.worked(118, leading=True, vaults=7)
    ok, details = m.health(watchdog=60)
    assert ok and {k: details[k] for k in ("status", "head", "processed", "leader", "vaults")} == {
        "status": "ok", "head": 120, "processed": 118, "leader": True, "vaults": 7}
    m.last_head_at -= 61  # as if the last head came 61 s ago
    ok, details = m.health(watchdog=60)
    assert not ok and details["status"] == "stalled" and details["seconds_since_head"] >= 61
    assert b"plimsoll_keeper_blocks_behind 2.0" in generate_latest(m.registry)


# ---------------------------------------------------------------- the position cache


def _topic(signature: str) -> str:
    from web3 import Web3

    return Web3.keccak(text=signature).to_0x_hex()


def test_every_event_that_changes_a_vault_names_it_in_a_topic():
    engine, liquidation = vault_topics(load_abi("VaultEngine")), vault_topics(load_abi("LiquidationEngine"))
    assert engine == {
        _topic("VaultOpened(uint256,address)"): 1,
        _topic("Deposit(uint256,address,address,uint256)"): 1,
        _topic("Withdraw(uint256,address,address,address,uint256)"): 1,
        _topic("Borrow(uint256,address,address,uint256,uint256)"): 1,
        _topic("Repay(uint256,address,uint256,uint256)"): 1,
        _topic("Seize(uint256,address,uint256)"): 1,
        _topic("CollateralSeized(uint256,address,uint256)"): 1,
        _topic("BadDebtWrittenOff(uint256,uint256,uint256)"): 1,
        _topic("MarginModeSet(uint256,address,bool)"): 1,
        _topic("PremiumCharged(uint256,uint256,uint256)"): 1,
    }
    # the vault changing hands, on the VaultNFT (the vault id is its third topic)
    assert vault_topics(load_abi("VaultNFT")) == {_topic("Transfer(address,address,uint256)"): 3}
    assert liquidation == {
        _topic("Liquidate(uint256,address,uint256,uint256,uint256,uint256,uint256,bool)"): 1,
        _topic("MarginCall(uint256,uint256,uint256,uint256,uint256)"): 1,
        _topic("MarginCallCured(uint256,uint256)"): 1,
        _topic("MarginCallEnded(uint256)"): 1,
    }


def test_named_vaults_reads_the_vault_id_from_its_topic_and_ignores_other_events():
    from hexbytes import HexBytes

    topics = {**vault_topics(load_abi("VaultEngine")), **vault_topics(load_abi("VaultNFT"))}
    word = lambda n: HexBytes(n.to_bytes(32, "big"))
    logs = [
        {"topics": [HexBytes(_topic("Borrow(uint256,address,address,uint256,uint256)")), word(7), word(0xABC),
                    word(0xDEF)]},
        {"topics": [HexBytes(_topic("Transfer(address,address,uint256)")), word(1), word(2), word(9)]},
        {"topics": [HexBytes(_topic("Drip(uint256,uint256)"))]},  # names no vault
        {"topics": []},  # an anonymous event
    ]
    assert named_vaults(logs, topics) == {7, 9}


def _vault_state(vault_id: int, debt: int, in_call: bool = False) -> tuple:
    return (vault_id, "0xowner", debt, (WETH,), (WAD,), False, in_call)


def test_position_cache_reads_everything_cold_then_only_what_events_named():
    cache = PositionCache()
    indexed = {1, 2, 3}
    assert cache.stale(indexed) == [1, 2, 3]
    empty = cache.update(indexed, [_vault_state(1, WAD), _vault_state(2, WAD, True), _vault_state(3, 0)],
                         {2: (100, 50, 0, RAY)})
    assert empty == {3}
    indexed -= empty  # the keeper drops them from the index
    assert set(cache.states) == {1, 2} and cache.calls == {2: (100, 50, 0, RAY)}
    assert cache.stale(indexed) == []  # nothing happened: nothing to read
    cache.touch({2, 42})  # 42 is not indexed (no debt): not read
    indexed.add(5)  # a Borrow: never read yet
    assert cache.stale(indexed) == [2, 5]
    cache.touch({1})  # named while the read of 2 and 5 is under way: read at the next block
    cache.update(indexed, [_vault_state(2, 2 * WAD), _vault_state(5, WAD)], {})
    assert cache.states[2][2] == 2 * WAD and cache.calls == {}  # vault 2's margin call ended
    assert cache.touched == {1} and cache.stale(indexed) == [1]
    cache.update(indexed, [_vault_state(1, WAD)], {})
    assert cache.stale(indexed) == [] and cache.touched == set()
    cache.update(indexed - {1}, [], {})  # a vault that left the index leaves the cache
    assert set(cache.states) == {2, 5}
    cache.invalidate()  # a reorg, a takeover
    assert cache.stale(indexed) == [1, 2, 5] and not cache.states


# ---------------------------------------------------------------- simulation (a node written down as its answers)


class _Node:
    """A node written down as its answers to a simulation: eth_createAccessList's response (an error response
    raises, as web3's request manager does); eth_call, which with a gas limit succeeds from ``needs`` gas on and
    without one raises the decoded revert, as web3 does; and eth_estimateGas."""

    def __init__(self, access_list_response, needs=0):
        self.response, self.needs, self.asked = access_list_response, needs, []
        self.manager, self.eth = self, self

    async def socket_request(self, method, params):
        self.asked.append(method)
        if "error" in self.response:
            raise Web3RPCError(self.response["error"]["message"], rpc_response=self.response)
        return self.response["result"]

    async def call(self, tx, block):
        if "gas" not in tx:
            self.asked.append("decode")
            raise ContractLogicError("NotLiquidatable(vaultId=5, healthFactor=1)")
        self.asked.append("eth_call")
        if tx["gas"] < self.needs:
            raise ContractLogicError("InsufficientGasForOracle(gasLeft=184587, needed=208174)")
        return b""

    async def estimate_gas(self, tx, block):
        self.asked.append("eth_estimateGas")
        return 300_000


def _dispatcher(node):
    return Dispatcher(node, Account.create(), 31337, None, lambda *a, **k: None, None, 1.3, 0, dry_run=False)


_USED = {"result": {"gasUsed": hex(200_000), "accessList": [
    {"address": ENGINE, "storageKeys": ["0x" + "01" * 32, "0x" + "02" * 32]}, {"address": WETH, "storageKeys": []}]}}


def test_a_simulation_counts_what_the_access_list_prepaid_and_checks_its_gas_limit_in_a_second_execution():
    node = _Node(_USED, needs=int(200_400 * 1.3))
    assert asyncio.run(_dispatcher(node).simulate(ENGINE, "0x")) == (200_000 + COLD_PREMIUM * 4, int(200_400 * 1.3))
    assert node.asked == ["eth_createAccessList", "eth_call"]


def test_a_gas_limit_too_low_for_what_the_call_needs_beyond_what_it_uses_is_estimated_instead():
    node = _Node(_USED, needs=int(200_400 * 1.3) + 1)  # e.g. the engine's reserve for an oracle call
    assert asyncio.run(_dispatcher(node).simulate(ENGINE, "0x")) == (200_400, int(300_000 * 1.3))
    assert node.asked == ["eth_createAccessList", "eth_call", "eth_estimateGas"]


@pytest.mark.parametrize("response", [
    {"error": {"code": REVERTED, "message": "execution reverted", "data": "0xd8edc336"}},  # Anvil
    {"result": {"gasUsed": hex(30_000), "accessList": [], "error": "execution reverted"}},  # geth
])
def test_a_reverting_simulation_raises_the_decoded_revert_from_an_eth_call(response):
    node = _Node(response)
    with pytest.raises(ContractLogicError, match="NotLiquidatable"):
        asyncio.run(_dispatcher(node).simulate(ENGINE, "0x"))
    assert node.asked == ["eth_createAccessList", "decode"]


def test_a_node_without_eth_create_access_list_is_simulated_with_eth_estimate_gas_from_then_on():
    node = _Node({"error": {"code": METHOD_NOT_FOUND, "message": "the method does not exist"}})
    d = _dispatcher(node)
    assert asyncio.run(d.simulate(ENGINE, "0x")) == (300_000, 390_000)
    assert asyncio.run(d.simulate(ENGINE, "0x")) == (300_000, 390_000)
    assert node.asked == ["eth_createAccessList", "eth_estimateGas", "eth_estimateGas"]


def test_any_other_node_error_in_a_simulation_is_raised_as_it_is():
    node = _Node({"error": {"code": -32000, "message": "header not found"}})
    with pytest.raises(Web3RPCError, match="header not found"):
        asyncio.run(_dispatcher(node).simulate(ENGINE, "0x", 12))
    assert node.asked == ["eth_createAccessList"]


class _Pool:
    """A node that knows a transaction neither as pending nor as mined (dropped, or between its pool and a block
    being mined), with ``nonce`` transactions of the keeper's counted."""

    def __init__(self, nonce):
        self.nonce, self.eth = nonce, self

    async def get_transaction_receipt(self, tx_hash):
        raise TransactionNotFound(tx_hash)

    async def get_transaction(self, tx_hash):
        raise TransactionNotFound(tx_hash)

    async def get_transaction_count(self, address, block):
        return self.nonce


def test_a_transaction_the_node_does_not_know_is_lost_only_when_still_unknown_a_block_later():
    store = KeeperStore("sqlite://", 1, ENGINE, 0, "0x00")
    logged = []
    d = Dispatcher(_Pool(nonce=7), Account.create(), 31337, store, lambda event, **f: logged.append(event),
                   KeeperMetrics(), 1.3, 0, dry_run=False)
    tx = PendingTx("0xt1", (1, 3), 120, WAD, 7, WAD, ENGINE, "0xdeadbeef", 300_000, 2 * 10**9, 10**9, 121)
    store.add_pending(tx)
    d.restore()
    for block in (121, 121):  # mined meanwhile, perhaps: its vaults stay busy
        asyncio.run(d.check(block, 10**9, 30_000_000))
        assert d.busy == {1, 3} and logged == []
    asyncio.run(d.check(122, 10**9, 30_000_000))
    assert d.busy == set() and logged == ["tx_lost"] and d.nonce == 7 and store.load().pending == ()
