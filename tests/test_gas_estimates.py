"""An integrator's gas estimate holds: web3.py, with only the shipped ABIs (interfaces/abi), estimates a write with
eth_estimateGas in one block and sends it, with that estimate as its gas limit and no padding, in a later block.

It must succeed. The engine checks that an oracle call gets its full gas allowance, so a write that costs even a few
gas more than its estimate reverts (InsufficientGasForOracle). The only cost that moves with time is the rate's
power over the seconds since the last drip (FixedPoint.rpowSaturating), which therefore costs the same for any
exponent. Here the estimate sees 2,048 s since the drip (one bit set) and the write 4,095 s (twelve bits set).
"""

from __future__ import annotations

import pytest
from conftest import set_price

from plimsoll.sdk.contracts import load_abi
from plimsoll.sdk.math import WAD

ESTIMATE_AFTER = 2_048  # seconds since the drip when estimating: binary 1 followed by 11 zeros
SEND_AFTER = 4_095  # when sending: twelve ones; both within the feeds' 4,500 s max age


@pytest.mark.parametrize("action", ["deposit", "withdraw", "borrow", "repay", "liquidate"])
def test_an_unpadded_estimate_from_an_earlier_block_is_enough(action, alice_vault, engine, liquidation, weth,
                                                              weth_feed, wbtc_feed, alice, liquidator, admin, chain):
    w3 = chain.provider.web3
    vault_engine = w3.eth.contract(address=engine.address, abi=load_abi("VaultEngine"))
    liquidations = w3.eth.contract(address=liquidation.address, abi=load_abi("LiquidationEngine"))
    calls = {
        "deposit": (alice, vault_engine.functions.deposit(alice_vault, weth.address, WAD)),
        "withdraw": (alice, vault_engine.functions.withdraw(alice_vault, weth.address, WAD // 10, alice.address)),
        "borrow": (alice, vault_engine.functions.borrow(alice_vault, 100 * WAD, alice.address)),
        "repay": (alice, vault_engine.functions.repay(alice_vault, 1_000 * WAD)),
        "liquidate": (liquidator, liquidations.functions.liquidate(alice_vault)),
    }
    sender, call = calls[action]
    engine.drip(sender=admin)
    drip = engine.lastDrip()
    set_price(weth_feed, admin, 1_700 if action == "liquidate" else 2_000)  # HF 0.96 at $1,700
    set_price(wbtc_feed, admin, 40_000)
    chain.mine(1, timestamp=drip + ESTIMATE_AFTER)

    estimate = call.estimate_gas({"from": sender.address}, block_identifier="latest")
    chain.pending_timestamp = drip + SEND_AFTER
    tx = call.build_transaction({"from": sender.address, "gas": estimate,
                                 "nonce": w3.eth.get_transaction_count(sender.address)})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx))
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] == drip + SEND_AFTER
    assert receipt["status"] == 1, f"{action}: estimated {estimate}, reverted"
