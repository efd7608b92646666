"""Reverts in words (plimsoll.sdk.errors): any custom error of the protocol, or of a contract it calls, by name with
its arguments, from the exported ABIs alone."""

from __future__ import annotations

import pytest
from conftest import open_vault
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector as selector
from web3.exceptions import ContractCustomError

from plimsoll.sdk.contracts import load_abi
from plimsoll.sdk.errors import decode_revert, describe
from plimsoll.sdk.math import WAD


def test_custom_builtin_and_unknown_reverts_are_named():
    data = selector("InsufficientMargin(uint256,uint256,uint256)") + encode(["uint256"] * 3, [7, 2, 1])
    assert decode_revert(data) == "InsufficientMargin(vaultId=7, debt=2, borrowPower=1)"
    assert decode_revert("0x" + data.hex()) == "InsufficientMargin(vaultId=7, debt=2, borrowPower=1)"
    # OpenZeppelin's, surfaced through the engine's ABI: the address checksummed, the role as hex
    oz = selector("AccessControlUnauthorizedAccount(address,bytes32)") + encode(["address", "bytes32"],
                                                                               ["0x" + "ab" * 20, b"\x01" * 32])
    assert decode_revert(oz) == ("AccessControlUnauthorizedAccount(account=0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB, "
                                 "neededRole=0x" + "01" * 32 + ")")
    assert decode_revert(selector("Error(string)") + encode(["string"], ["no"])) == "Error(reason='no')"
    assert decode_revert(selector("Panic(uint256)") + encode(["uint256"], [0x11])) == "Panic(0x11)"
    assert decode_revert("0xdeadbeef") == "unknown error 0xdeadbeef"
    assert decode_revert(b"") == "reverted without data"


@pytest.mark.parametrize("name", ["StalePrice", "PriceOutOfBounds", "NonPositivePrice"])
def test_the_oracle_errors_are_named_from_the_engine_abi(name):
    entry = next(e for e in load_abi("VaultEngine") if e.get("type") == "error" and e["name"] == name)
    types = [i["type"] for i in entry["inputs"]]
    data = selector(f"{name}({','.join(types)})") + encode(types, ["0x" + "11" * 20 if t == "address" else 1
                                                                     for t in types])
    assert decode_revert(data).startswith(f"{name}(")


def test_a_web3_revert_on_anvil_is_described_with_its_arguments(chain, engine, weth, alice, funded):
    """Withdrawing 2 WETH from a vault holding 1, sent through plain web3 with the exported ABI: the node's revert
    data becomes the error's name and arguments."""
    vault = open_vault(engine, alice, weth, WAD)
    w3 = chain.provider.web3
    contract = w3.eth.contract(address=engine.address, abi=load_abi("VaultEngine"))
    with pytest.raises(ContractCustomError) as e:
        contract.functions.withdraw(vault, weth.address, 2 * WAD, alice.address).call({"from": alice.address})
    assert describe(e.value) == (f"InsufficientCollateral(vaultId={vault}, token={weth.address}, balance={WAD}, "
                                 f"requested={2 * WAD})")
