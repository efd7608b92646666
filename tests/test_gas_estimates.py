"""An integrator's gas estimate holds: web3.py, with only the shipped ABIs (interfaces/abi), estimates a write with
eth_estimateGas in one block and sends it, with that estimate as its gas limit and no padding, in a later block.

It must succeed. The engine checks that an oracle call gets its full gas allowance, so a write that costs even a few
gas more than its estimate reverts (InsufficientGasForOracle), and one without an oracle (repay) runs out of gas. The
only cost that moves with time is the rate's power over the seconds since the last drip
(FixedPoint.rpowSaturating), which therefore costs the same for any exponent, 0 included, and the elapsed seconds
are computed without a branch. The first test estimates 2,048 s after the drip (one bit set) and writes at 4,095 s
(twelve bits set); the second estimates in the drip's own second (0 s) and writes 12 s later.
"""

from __future__ import annotations

import pytest
from conftest import set_price

from plimsoll.sdk.contracts import load_abi
from plimsoll.sdk.math import WAD

ESTIMATE_AFTER = 2_048  # seconds since the drip when estimating: binary 1 followed by 11 zeros
SEND_AFTER = 4_095  # when sending: twelve ones; both within the feeds' 4,500 s max age


def _call(action, w3, engine, liquidation, weth, vault, alice, liquidator):
    """(sender, web3 call) of ``action`` on ``vault``, through the exported ABIs only."""
    vault_engine = w3.eth.contract(address=engine.address, abi=load_abi("VaultEngine"))
    liquidations = w3.eth.contract(address=liquidation.address, abi=load_abi("LiquidationEngine"))
    return {
        "deposit": (alice, vault_engine.functions.deposit(vault, weth.address, WAD)),
        "withdraw": (alice, vault_engine.functions.withdraw(vault, weth.address, WAD // 10, alice.address)),
        "borrow": (alice, vault_engine.functions.borrow(vault, 100 * WAD, alice.address)),
        "repay": (alice, vault_engine.functions.repay(vault, 1_000 * WAD)),
        "liquidate": (liquidator, liquidations.functions.liquidate(vault)),
    }[action]


def _send_unpadded(w3, chain, sender, call, at: int) -> tuple[int, dict]:
    """Estimate ``call`` at the latest block, then send it with exactly that gas limit in a block stamped ``at``."""
    estimate = call.estimate_gas({"from": sender.address}, block_identifier="latest")
    chain.pending_timestamp = at
    tx = call.build_transaction({"from": sender.address, "gas": estimate,
                                 "nonce": w3.eth.get_transaction_count(sender.address)})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] == at
    return estimate, receipt


@pytest.mark.parametrize("action", ["deposit", "withdraw", "borrow", "repay", "liquidate"])
def test_an_unpadded_estimate_from_an_earlier_block_is_enough(action, alice_vault, engine, liquidation, weth,
                                                              weth_feed, wbtc_feed, alice, liquidator, admin, chain):
    w3 = chain.provider.web3
    sender, call = _call(action, w3, engine, liquidation, weth, alice_vault, alice, liquidator)
    engine.drip(sender=admin)
    drip = engine.lastDrip()
    set_price(weth_feed, admin, 1_700 if action == "liquidate" else 2_000)  # HF 0.96 at $1,700
    set_price(wbtc_feed, admin, 40_000)
    chain.mine(1, timestamp=drip + ESTIMATE_AFTER)

    estimate, receipt = _send_unpadded(w3, chain, sender, call, drip + SEND_AFTER)
    assert receipt["status"] == 1, f"{action}: estimated {estimate}, reverted"


@pytest.mark.parametrize("action", ["withdraw", "borrow", "repay", "liquidate"])
def test_an_unpadded_estimate_made_in_the_second_of_a_drip_is_enough(action, alice_vault, engine, liquidation, weth,
                                                                     weth_feed, wbtc_feed, alice, liquidator, admin,
                                                                     chain):
    """The latest block dripped, so a simulation there sees no second elapsed; the write, mined a block later, raises
    the fee to the power of the seconds since. The engine computes that power even for 0 s, so the estimate holds
    (before stop 24 the power was skipped at 0 s, and these writes reverted InsufficientGasForOracle)."""
    w3 = chain.provider.web3
    sender, call = _call(action, w3, engine, liquidation, weth, alice_vault, alice, liquidator)
    set_price(weth_feed, admin, 1_700 if action == "liquidate" else 2_000)
    set_price(wbtc_feed, admin, 40_000)
    engine.drip(sender=admin)
    head = chain.blocks.head
    assert engine.lastDrip() == head.timestamp  # the estimate's block is the drip's own second

    estimate, receipt = _send_unpadded(w3, chain, sender, call, head.timestamp + 12)
    assert receipt["status"] == 1, f"{action}: estimated {estimate} in the drip's second, reverted"

