"""OracleAdapter (decimals, staleness, bounds), pUSD (engine-only mint/burn, permit) and the mock feed."""

from __future__ import annotations

import ape
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from plimsoll.sdk.math import WAD


def test_price_is_wad_per_whole_token(weth_oracle, weth_feed, admin):
    weth_feed.updateAnswer(1_234_56789012, sender=admin)  # $1,234.56789012 with 8 decimals
    assert weth_oracle.price() == 1_234_567_890_120_000_000_000


def test_non_positive_and_out_of_bounds_answers_rejected(weth_oracle, weth_feed, admin):
    weth_feed.updateAnswer(0, sender=admin)
    with ape.reverts(weth_oracle.NonPositivePrice, feed=weth_feed.address, answer=0):
        weth_oracle.price()
    weth_feed.updateAnswer(-5, sender=admin)
    with ape.reverts(weth_oracle.NonPositivePrice, answer=-5):
        weth_oracle.price()
    too_high = weth_oracle.maxPrice() // 10**10 + 1  # feed decimals 8, WAD bounds
    weth_feed.updateAnswer(too_high, sender=admin)
    with ape.reverts(weth_oracle.PriceOutOfBounds, price=too_high * 10**10, maxPrice=weth_oracle.maxPrice()):
        weth_oracle.price()
    weth_feed.updateAnswer(weth_oracle.minPrice() // 10**10 - 1, sender=admin)
    with ape.reverts(weth_oracle.PriceOutOfBounds):
        weth_oracle.price()


def test_stale_and_future_answers_rejected(weth_oracle, weth_feed, admin, chain):
    now = chain.pending_timestamp
    weth_feed.setRoundData(2_000 * 10**8, now - 4_501, sender=admin)
    with ape.reverts(weth_oracle.StalePrice, maxAge=4_500):
        weth_oracle.price()
    weth_feed.setRoundData(2_000 * 10**8, now + 3_600, sender=admin)
    with ape.reverts(weth_oracle.StalePrice):
        weth_oracle.price()
    weth_feed.setRoundData(2_000 * 10**8, chain.pending_timestamp - 4_000, sender=admin)
    assert weth_oracle.price() == 2_000 * WAD


def test_adapter_constructor_validates(project, admin, weth_feed):
    zero = ape.utils.ZERO_ADDRESS
    one = [(weth_feed, 3600)]
    for args, what in (
        (([], 0, 1, 2, 0, 0, zero, 0), "feeds"),
        (([(weth_feed, 3600)] * 4, 0, 1, 2, 0, 0, zero, 0), "feeds"),
        (([(zero, 3600)], 0, 1, 2, 0, 0, zero, 0), "feed"),
        (([(weth_feed, 0)], 0, 1, 2, 0, 0, zero, 0), "maxAge"),
        ((one, 0, 0, 2, 0, 0, zero, 0), "bounds"),
        ((one, 0, 5, 5, 0, 0, zero, 0), "bounds"),
        ((one, 0, 1, 10**36 + 1, 0, 0, zero, 0), "bounds"),
        ((one, 0, 1, 2, WAD + 1, 0, zero, 0), "maxDeviation"),
        ((one, 0, 1, 2, 0, WAD // 50, zero, 0), "maxSpread"),  # a spread means nothing in fallback mode
        ((one, 1, 1, 2, 0, WAD // 50, zero, 0), "maxSpread"),  # a median needs two feeds
        (([(weth_feed, 3600)] * 2, 1, 1, 2, 0, 0, zero, 0), "maxSpread"),
        ((one, 0, 1, 2, 0, 0, weth_feed, 0), "sequencer"),
        ((one, 0, 1, 2, 0, 0, zero, 60), "sequencer"),
    ):
        with ape.reverts(project.OracleAdapter.InvalidOracleConfig, what=what):
            admin.deploy(project.OracleAdapter, *args)


def test_mock_feed_keeps_rounds_and_guards_reports(weth_feed, admin, alice):
    first = weth_feed.latestRound()
    weth_feed.updateAnswer(2_100 * 10**8, sender=admin)
    rid, answer, _, updated, answered = weth_feed.latestRoundData()
    assert (rid, answer, answered) == (first + 1, 2_100 * 10**8, first + 1)
    assert weth_feed.getRoundData(first)[1] != 0
    with ape.reverts(weth_feed.NoDataPresent, roundId=first + 5):
        weth_feed.getRoundData(first + 5)
    with ape.reverts(weth_feed.OnlyOperator, caller=alice.address):
        weth_feed.updateAnswer(1, sender=alice)


def test_pusd_is_minted_and_burned_only_by_the_engine(pusd, engine, alice):
    assert pusd.engine() == engine.address
    assert (pusd.name(), pusd.symbol(), pusd.decimals()) == ("Plimsoll USD", "pUSD", 18)
    with ape.reverts(pusd.OnlyEngine, caller=alice.address):
        pusd.mint(alice, 1, sender=alice)
    with ape.reverts(pusd.OnlyEngine, caller=alice.address):
        pusd.burn(alice, 1, sender=alice)


def test_pusd_permit(pusd, chain, accounts, bob):
    owner = Account.create()
    deadline = chain.pending_timestamp + 3600
    data = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"}, {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"}, {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": "Plimsoll USD", "version": "1", "chainId": chain.chain_id,
                   "verifyingContract": pusd.address},
        "message": {"owner": owner.address, "spender": bob.address, "value": 123, "nonce": 0, "deadline": deadline},
    }
    sig = Account.sign_message(encode_typed_data(full_message=data), owner.key)
    pusd.permit(owner.address, bob, 123, deadline, sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big"),
                sender=bob)
    assert pusd.allowance(owner.address, bob) == 123
    assert pusd.nonces(owner.address) == 1
