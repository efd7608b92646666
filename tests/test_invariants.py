"""Invariants of ../shared/DESIGN.md under random operation sequences (hypothesis stateful test on Anvil).

Operations: open, deposit, withdraw, borrow, repay, price moves, time passing (stability fee), liquidation, and
the same calls from a stranger. After every step the machine checks, exactly:
  1. Σ vault normalized debt == totalNormalizedDebt;
  2. the surplus (totalNormalizedDebt·rate + badDebt − pUSD supply·RAY, RAD) is never negative, and no step lowers it
     by more than the debt its liquidations wrote off against it;
  3. per collateral: Σ vault balances == engine token balance == totalDeposited;
  4. a successful borrow or withdraw leaves the vault at or above the initial margin;
  5. a liquidation never lowers health unless it closes the vault (full) and never pays more than the vault held;
  6. a stranger can neither raise a vault's debt nor move its collateral out.
"""

from __future__ import annotations

from ape.exceptions import ContractLogicError
from ape.utils import ZERO_ADDRESS
from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from conftest import set_price, surplus_rad
from plimsoll.sdk.math import RAY, WAD


def test_invariants_hold_under_random_sequences(funded, chain, engine, pusd, liquidation, weth, wbtc, weth_feed,
                                                wbtc_feed, admin, alice, bob, liquidator):
    users = (alice, bob)
    tokens = {"WETH": weth, "WBTC": wbtc}
    units = {"WETH": WAD, "WBTC": 10**8}
    feeds = {"WETH": (weth_feed, 2_000), "WBTC": (wbtc_feed, 40_000)}
    # The liquidator's inventory: a large, safe vault of its own.
    seen: Counter[str] = Counter()  # what the runs exercised: asserted at the end so the test cannot pass vacuously
    event = seen.update
    own = engine.open(weth, 900 * WAD, sender=liquidator).events.filter(engine.VaultOpened)[0].vaultId
    engine.borrow(own, 300_000 * WAD, liquidator, sender=liquidator)

    class Protocol(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.vaults: list[tuple[int, object]] = []  # (id, owner)
            self.price = {s: p for s, (_, p) in feeds.items()}
            self.surplus, self.written_off = surplus_rad(engine, pusd), 0

        def teardown(self):
            chain.restore(self.snapshot)

        def _vault(self, i):
            return self.vaults[i % len(self.vaults)]

        @rule(who=st.integers(0, 1), sym=st.sampled_from(["WETH", "WBTC"]), amount=st.integers(1, 50),
              leverage=st.integers(50, 99))
        def open(self, who, sym, amount, leverage):
            """Open a vault and borrow `leverage` % of its borrow power (nothing below dust)."""
            owner = users[who]
            tx = engine.open(tokens[sym], amount * units[sym] // 10, sender=owner)
            vid = tx.events.filter(engine.VaultOpened)[0].vaultId
            self.vaults.append((vid, owner))
            debt = engine.valuation(vid).borrowPower * leverage // 100
            if debt >= engine.dust():
                paused = engine.paused() or engine.collateralType(tokens[sym]).paused
                try:
                    engine.borrow(vid, debt, owner, sender=owner)
                except ContractLogicError:
                    assert paused  # within the borrow power and above dust: only a pause refuses it
                    event(["borrow refused"])
                    return
                event(["borrow"])
                self._check_margin(vid)

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), sym=st.sampled_from(["WETH", "WBTC"]), amount=st.integers(1, 20))
        def deposit(self, i, sym, amount):
            vid, owner = self._vault(i)
            engine.deposit(vid, tokens[sym], amount * units[sym] // 10, sender=owner)

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), sym=st.sampled_from(["WETH", "WBTC"]), share=st.integers(1, 100))
        def withdraw(self, i, sym, share):
            vid, owner = self._vault(i)
            amount = engine.collateralBalance(vid, tokens[sym]) * share // 100
            if amount == 0:
                return
            try:
                engine.withdraw(vid, tokens[sym], amount, owner, sender=owner)
            except ContractLogicError:
                event(["withdraw refused"])
                return  # e.g. InsufficientMargin: allowed to fail
            event(["withdraw"])
            self._check_margin(vid)

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), share=st.integers(1, 110))
        def borrow(self, i, share):
            vid, owner = self._vault(i)
            v = engine.valuation(vid)
            amount = max(v.borrowPower - v.debt, 0) * share // 100
            if amount == 0:
                return
            try:
                engine.borrow(vid, amount, owner, sender=owner)
            except ContractLogicError:
                event(["borrow refused"])
                return  # InsufficientMargin, DebtBelowDust, ...
            event(["borrow"])
            self._check_margin(vid)

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), share=st.integers(1, 120))
        def repay(self, i, share):
            vid, owner = self._vault(i)
            amount = min(engine.debt(vid) * share // 100, pusd.balanceOf(owner))
            if amount == 0:
                return
            try:
                engine.repay(vid, amount, sender=owner)
            except ContractLogicError:
                return  # DebtBelowDust, ERC20InsufficientBalance (fees accrued)

        @rule(sym=st.sampled_from(["WETH", "WBTC"]), pct=st.integers(-25, 10))
        def move_price(self, sym, pct):
            self.price[sym] = max(1, self.price[sym] * (100 + pct) // 100)
            set_price(feeds[sym][0], admin, self.price[sym])

        @rule(sym=st.sampled_from(["WETH", "WBTC"]), pct=st.integers(12, 30))
        def crash(self, sym, pct):
            """A crash, and a keeper that liquidates the worst vault right after it."""
            self.move_price(sym, -pct)
            if self.vaults:
                self.liquidate_unhealthiest()

        @rule(seconds=st.integers(1, 3_000))
        def warp(self, seconds):
            chain.pending_timestamp += seconds
            for sym, (feed, _) in feeds.items():  # keep the feeds fresh, as their heartbeat would
                set_price(feed, admin, self.price[sym])

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99))
        def liquidate(self, i):
            self._liquidate(self._vault(i)[0])

        @precondition(lambda self: self.vaults)
        @rule()
        def liquidate_unhealthiest(self):
            self._liquidate(min(self.vaults, key=lambda v: engine.healthFactor(v[0]))[0])

        def _liquidate(self, vid):
            before = engine.valuation(vid)
            held = {s: engine.collateralBalance(vid, t) for s, t in tokens.items()}
            got = {s: t.balanceOf(liquidator) for s, t in tokens.items()}
            try:
                tx = liquidation.liquidate(vid, sender=liquidator)
            except ContractLogicError:
                assert before.debt == 0 or before.maintenance >= before.debt  # only healthy vaults refuse
                event(["liquidation refused"])
                return
            full = tx.events.filter(liquidation.Liquidate)[0].full
            self.written_off += sum(e.coveredRad for e in tx.events.filter(engine.BadDebtWrittenOff))
            event(["liquidation full" if full else "liquidation partial"])
            for s, t in tokens.items():
                assert t.balanceOf(liquidator) - got[s] <= held[s]
            if not full:
                after = engine.valuation(vid)
                assert after.maintenance * before.debt >= before.maintenance * after.debt  # HF did not fall

        @rule(sym=st.sampled_from(["WETH", "WBTC", "all"]), paused=st.booleans())
        def guardian_pause(self, sym, paused):
            """The guardian pauses or resumes borrowing (one type, or all). Liquidation must go on regardless:
            _liquidate asserts that only a healthy vault refuses, paused or not."""
            engine.setPaused(ZERO_ADDRESS if sym == "all" else tokens[sym], paused, sender=admin)
            event(["pause" if paused else "resume"])
            if paused and self.vaults:
                self.crash(sym if sym != "all" else "WETH", 20)  # a crash during the pause: liquidations go on

        @rule(share=st.integers(1, 100))
        def burn_bad_debt(self, share):
            """The liquidator burns pUSD against recorded bad debt; the surplus must not fall."""
            amount = min(engine.badDebtRad() // RAY * share // 100 + 1, pusd.balanceOf(liquidator))
            if engine.badDebtRad() == 0 or amount == 0:
                return
            engine.burnBadDebt(amount, sender=liquidator)
            event(["burn bad debt"])

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), portfolio=st.booleans())
        def switch_margin_mode(self, i, portfolio):
            """The owner switches between standard and portfolio margin; with debt, only at the new initial margin."""
            vid, owner = self._vault(i)
            try:
                engine.setPortfolioMargin(vid, portfolio, sender=owner)
            except ContractLogicError:
                event(["switch refused"])
                return
            event(["switch"])
            self._check_margin(vid)

        @precondition(lambda self: self.vaults)
        @rule(i=st.integers(0, 99), sym=st.sampled_from(["WETH", "WBTC"]))
        def stranger(self, i, sym):
            vid, owner = self._vault(i)
            other = bob if owner == alice else alice
            normalized, bal = engine.normalizedDebt(vid), engine.collateralBalance(vid, tokens[sym])
            for call in (lambda: engine.borrow(vid, 100 * WAD, other, sender=other),
                         lambda: engine.withdraw(vid, tokens[sym], 1, other, sender=other)):
                try:
                    call()
                    raise AssertionError("a stranger managed a vault")
                except ContractLogicError:
                    pass
            assert (engine.normalizedDebt(vid), engine.collateralBalance(vid, tokens[sym])) == (normalized, bal)

        def _check_margin(self, vid):
            v = engine.valuation(vid)
            assert v.debt <= v.borrowPower

        @invariant()
        def debt_adds_up(self):
            ids = [vid for vid, _ in self.vaults] + [own]
            assert sum(engine.normalizedDebt(vid) for vid in ids) == engine.totalNormalizedDebt()

        @invariant()
        def surplus_kept(self):
            now = surplus_rad(engine, pusd)
            assert now >= 0
            assert now >= self.surplus - self.written_off  # nothing else here may lower it
            assert now == engine.surplusRad()
            self.surplus, self.written_off = now, 0

        @invariant()
        def collateral_conserved(self):
            ids = [vid for vid, _ in self.vaults] + [own]
            for t in tokens.values():
                booked = sum(engine.collateralBalance(vid, t) for vid in ids)
                assert booked == t.balanceOf(engine) == engine.collateralType(t).totalDeposited

    run_state_machine_as_test(
        Protocol,
        settings=settings(max_examples=12, stateful_step_count=25, deadline=None, derandomize=True,
                          suppress_health_check=list(HealthCheck)),
    )
    assert seen["liquidation partial"] + seen["liquidation full"] > 0 and seen["borrow"] > 0, seen
