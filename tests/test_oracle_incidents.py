"""The hardened oracle path (issue 5, section 2), with regression tests named after the incidents they guard against.

Each adapter here is a real OracleAdapter over MockAggregators (Chainlink-compatible feeds that, like an OCR
aggregator, publish and enforce min/max answers). The engine-level tests set the adapter on the live VaultEngine and
check what a failure does to borrowing, withdrawing and liquidation (docs/oracles.md).
"""

from __future__ import annotations

from decimal import Decimal

import ape
import pytest
from ape.utils import ZERO_ADDRESS
from conftest import open_vault

from plimsoll.sdk.math import WAD

FALLBACK, MEDIAN = 0, 1
E8 = 10**8


def usd(x) -> int:
    """Dollars as an 8-decimal feed answer."""
    return int(Decimal(str(x)) * E8)


@pytest.fixture
def feeds(project, admin):
    """Three independent mock feeds for one asset, all at $2,000."""
    return [admin.deploy(project.MockAggregator, 8, f"ETH / USD #{i}", usd(2_000)) for i in range(3)]


def adapter(project, admin, feeds, mode=FALLBACK, max_deviation=0, max_spread=0, sequencer=None, grace=0,
            max_age=3_600):
    return admin.deploy(project.OracleAdapter, [(f, max_age) for f in feeds], mode, 10**16, 10**30, max_deviation,
                        max_spread, sequencer or ZERO_ADDRESS, grace)


# ---------------------------------------------------------------- Venus / LUNA (May 2022)


def test_venus_luna_clamped_minimum_answer_is_not_a_price(project, admin):
    # LUNA/USD's aggregator had minAnswer $0.10. When LUNA fell through it, the feed kept reporting $0.10 and
    # Venus lent against LUNA bought for far less. An answer at the aggregator's own bound is refused.
    feed = admin.deploy(project.MockAggregator, 8, "LUNA / USD", usd(80))
    feed.setAggregatorBounds(usd("0.10"), usd(100_000), sender=admin)
    oracle = adapter(project, admin, [feed])
    assert oracle.aggregatorBounds(0) == (usd("0.10"), usd(100_000))  # read from the aggregator at deployment
    assert oracle.price() == 80 * WAD
    feed.updateAnswer(usd("0.005"), sender=admin)  # the real price; the aggregator clamps it
    assert feed.latestRoundData()[1] == usd("0.10")
    with ape.reverts(oracle.PriceAtAggregatorBound, feed=feed.address, answer=usd("0.10"), minAnswer=usd("0.10")):
        oracle.price()
    feed.updateAnswer(usd("0.11"), sender=admin)  # strictly inside the bounds again
    assert oracle.price() == int(Decimal("0.11") * WAD)


# ---------------------------------------------------------------- Compound DAI (November 2020)


def test_compound_dai_spike_on_one_source_is_outvoted(project, admin, feeds):
    # Coinbase's DAI price spiked to $1.30 for an hour and Compound liquidated against it. Three sources with a
    # median: the spiking one is out-voted; two that disagree are not trusted.
    for f in feeds:
        f.updateAnswer(usd(1), sender=admin)
    oracle = adapter(project, admin, feeds, mode=MEDIAN, max_spread=WAD // 50)  # 2 %
    feeds[1].updateAnswer(usd("1.30"), sender=admin)
    assert oracle.price() == WAD
    feeds[1].updateAnswer(usd("1.31"), sender=admin)  # the spike persists over several rounds: still out-voted
    assert oracle.price() == WAD
    feeds[2].setBroken(True, sender=admin)  # two sources left, and they disagree by 31 %
    with ape.reverts(oracle.PriceSpreadTooWide, low=WAD, high=int(Decimal("1.31") * WAD), maxSpread=WAD // 50):
        oracle.price()
    feeds[1].updateAnswer(usd("1.01"), sender=admin)  # within 2 %: their mean
    assert oracle.price() == int(Decimal("1.005") * WAD)
    feeds[1].setBroken(True, sender=admin)
    with ape.reverts(oracle.NotEnoughValidFeeds, valid=1, required=2):
        oracle.price()


def test_median_of_three_that_all_disagree_is_refused(project, admin, feeds):
    oracle = adapter(project, admin, feeds, mode=MEDIAN, max_spread=WAD // 50)
    feeds[0].updateAnswer(usd(1_800), sender=admin)
    feeds[2].updateAnswer(usd(2_200), sender=admin)
    with ape.reverts(oracle.PriceSpreadTooWide):
        oracle.price()
    feeds[2].updateAnswer(usd(2_020), sender=admin)  # 2,000 and 2,020 agree: the median stands
    assert oracle.price() == 2_000 * WAD


# ---------------------------------------------------------------- a stale feed during a crash


def test_stale_feed_during_a_crash_falls_back_and_liquidation_goes_on(
        project, admin, feeds, funded, engine, liquidation, weth, alice, liquidator, chain):
    # March 2020: feeds lagged the crash. The primary stops updating; the fallback carries the crash price, and
    # liquidation goes on. With both stale, the primary's own error explains why there is no price.
    primary, fallback = feeds[0], feeds[1]
    oracle = adapter(project, admin, [primary, fallback])
    engine.setOracle(weth, oracle, sender=admin)
    vault = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(vault, 15_000 * WAD, alice, sender=alice)
    own = open_vault(engine, liquidator, weth, 900 * WAD)
    engine.borrow(own, 100_000 * WAD, liquidator, sender=liquidator)

    chain.pending_timestamp = primary.latestRoundData()[3] + 3_601  # the primary goes stale
    fallback.updateAnswer(usd(1_700), sender=admin)  # the crash, on the fallback only
    assert oracle.price() == 1_700 * WAD
    liquidation.liquidate(vault, sender=liquidator)
    assert engine.healthFactor(vault) >= WAD

    chain.pending_timestamp += 3_601  # now both are stale
    chain.mine()
    with ape.reverts(oracle.StalePrice, feed=primary.address, maxAge=3_600):
        oracle.price()
    with ape.reverts(oracle.StalePrice, feed=primary.address):  # borrowing needs a price: the feed's own error
        engine.borrow(vault, WAD, alice, sender=alice)
    engine.repay(vault, 100 * WAD, sender=alice)  # repaying does not


# ---------------------------------------------------------------- an L2 sequencer outage


def test_sequencer_outage_stops_prices_until_the_grace_period_ends(
        project, admin, feeds, funded, engine, liquidation, weth, alice, liquidator, chain):
    # Arbitrum, 2021-2023: while the sequencer is down, users cannot top up their vaults; when it comes back,
    # stale L1 prices would liquidate them at once. No price while down, nor for an hour after.
    sequencer = admin.deploy(project.MockAggregator, 0, "sequencer uptime", 0)
    sequencer.setRoundData(0, chain.pending_timestamp - 7_200, sender=admin)  # up for two hours
    oracle = adapter(project, admin, feeds[:1], sequencer=sequencer, grace=3_600, max_age=100_000)
    engine.setOracle(weth, oracle, sender=admin)
    vault = open_vault(engine, alice, weth, 10 * WAD)
    engine.borrow(vault, 15_000 * WAD, alice, sender=alice)
    own = open_vault(engine, liquidator, weth, 900 * WAD)
    engine.borrow(own, 100_000 * WAD, liquidator, sender=liquidator)
    feeds[0].updateAnswer(usd(1_700), sender=admin)  # unsafe

    sequencer.setRoundData(1, chain.pending_timestamp, sender=admin)  # down
    with ape.reverts(oracle.SequencerDown):
        oracle.price()
    with ape.reverts(liquidation.NoPricedCollateral, vaultId=vault):
        liquidation.liquidate(vault, sender=liquidator)
    with ape.reverts(oracle.SequencerDown):
        engine.withdraw(vault, weth, WAD, alice, sender=alice)
    engine.deposit(vault, weth, WAD, sender=alice)  # topping up always works

    back = chain.blocks.head.timestamp + 10
    chain.pending_timestamp = back
    sequencer.setRoundData(0, back, sender=admin)  # up again: the grace period starts
    with ape.reverts(oracle.SequencerGracePeriod, upSince=back, gracePeriod=3_600):
        oracle.price()
    chain.pending_timestamp = back + 3_601
    chain.mine()
    assert oracle.price() == 1_700 * WAD
    assert engine.healthFactor(vault) >= WAD  # alice's top-up during the outage saved her vault


# ---------------------------------------------------------------- deviation breaker


def test_deviation_breaker_distrusts_a_round_that_jumps_from_the_previous_one(project, admin, feeds):
    primary, fallback = feeds[0], feeds[1]
    oracle = adapter(project, admin, [primary, fallback], max_deviation=WAD // 2)  # 50 %, Liquity v1's rule
    primary.updateAnswer(usd(900), sender=admin)  # −55 % in one round
    fallback.updateAnswer(usd(1_950), sender=admin)
    assert oracle.price() == 1_950 * WAD  # the fallback is used
    single = adapter(project, admin, [primary], max_deviation=WAD // 2)
    with ape.reverts(single.PriceDeviationTooLarge, feed=primary.address, answer=usd(900), previousAnswer=usd(2_000)):
        single.price()
    primary.updateAnswer(usd(880), sender=admin)  # the next round confirms the move
    assert single.price() == 880 * WAD


def test_feed_that_reverts_is_named(project, admin, feeds):
    oracle = adapter(project, admin, feeds[:1])
    feeds[0].setBroken(True, sender=admin)
    with ape.reverts(oracle.FeedReverted, feed=feeds[0].address):
        oracle.price()
    assert [tuple(f) for f in oracle.feeds()] == [(feeds[0].address, 3_600)]
    assert (oracle.mode(), oracle.maxDeviation(), oracle.sequencerFeed()) == (FALLBACK, 0, ZERO_ADDRESS)
