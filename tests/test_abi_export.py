"""interfaces/abi and interfaces/ts (what integrators use) must equal what the contracts compile to, plus the errors
that surface through each contract from the contracts it calls, which a wallet must decode from that one ABI, and a
name on every output."""

import json

from eth_abi import decode
from eth_utils import keccak
from web3.exceptions import ContractCustomError

from conftest import set_price

from plimsoll.sdk.contracts import (ABI_DIR, EXPORTED, TS_DIR, TS_PACKAGE_JSON, exported_abi, load_abi, ts_abi_name,
                                    typescript_module)


def test_exported_abis_match_the_build(project):
    built = {
        name: [a.model_dump(mode="json", by_alias=True, exclude_none=True)
               for a in project.get_contract(name).contract_type.abi]
        for name in (*EXPORTED, "PortfolioMargin")
    }
    key = lambda a: json.dumps(a, sort_keys=True)
    unnamed = lambda abi: [dict(e, outputs=[dict(o, name="") for o in e["outputs"]]) if "outputs" in e else e
                           for e in abi]
    for name in EXPORTED:
        committed = json.loads((ABI_DIR / f"{name}.json").read_text())
        expected = exported_abi(name, built)
        assert sorted(map(key, committed)) == sorted(map(key, expected)), f"{name}: run `plimsoll abi` after compiling"
        # naming the outputs changes nothing but names: the build's own entries are all there, in their types
        assert {key(e) for e in unnamed(built[name])} <= {key(e) for e in unnamed(committed)}
        assert [f"{e['name']}.{i}" for e in committed if e["type"] == "function"
                for i, o in enumerate(e["outputs"]) if not o["name"]] == [], name
        assert (TS_DIR / f"{name}.ts").read_text() == typescript_module(name, committed), f"{name}: run `plimsoll abi`"
    index = (TS_DIR / "index.ts").read_text()
    assert all(f"export {{ {ts_abi_name(n)} }} from \"./{n}.js\";" in index for n in EXPORTED)
    assert (TS_DIR / "package.json").read_text() == TS_PACKAGE_JSON


def test_chainlink_round_outputs_carry_their_names():
    """The feed ABI a wallet reads prices with names latestRoundData's outputs as Chainlink's
    AggregatorV3Interface does."""
    (entry,) = [e for e in load_abi("MockAggregator") if e.get("name") == "latestRoundData"]
    assert [o["name"] for o in entry["outputs"]] == ["roundId", "answer", "startedAt", "updatedAt", "answeredInRound"]


def _decode(abi, data: bytes) -> tuple[str, tuple]:
    """An error's name and arguments, from `abi` alone (what a wallet does)."""
    for e in abi:
        if e["type"] == "error":
            types = [i["type"] for i in e["inputs"]]
            if keccak(text=f"{e['name']}({','.join(types)})")[:4] == data[:4]:
                return e["name"], decode(types, data[4:])
    raise AssertionError(f"selector {data[:4].hex()} is not in the ABI")


def _revert_data(call) -> bytes:
    """The raw revert data of a web3 ``eth_call`` that must revert with a custom error."""
    try:
        call()
    except ContractCustomError as e:
        return bytes.fromhex(e.data[2:])
    raise AssertionError("the call did not revert with a custom error")


def test_errors_raised_in_called_contracts_decode_from_the_called_contracts_abi(alice_vault, engine, nft, liquidation,
                                                                                 weth_feed, admin, bob, chain):
    """What a wallet sees through web3 with only the exported ABI of the contract it called: pUSD's
    ERC20InsufficientBalance through LiquidationEngine.liquidate, and a stale feed's StalePrice (OracleAdapter)
    through VaultEngine.borrow."""
    w3 = chain.provider.web3
    wallet = lambda name, contract: w3.eth.contract(address=contract.address, abi=load_abi(name))

    set_price(weth_feed, admin, 1_700)  # alice's vault is liquidatable; bob holds no pUSD
    data = _revert_data(lambda: wallet("LiquidationEngine", liquidation).functions.liquidate(alice_vault).call(
        {"from": bob.address}))
    name, args = _decode(load_abi("LiquidationEngine"), data)
    assert name == "ERC20InsufficientBalance" and args[0].lower() == bob.address.lower() and args[1] == 0

    owner = nft.ownerOf(alice_vault)
    chain.pending_timestamp = chain.blocks.head.timestamp + 10 * 86_400  # past the WETH feeds' maximum age
    chain.mine()
    data = _revert_data(lambda: wallet("VaultEngine", engine).functions.borrow(alice_vault, 1, owner).call(
        {"from": owner}))
    name, args = _decode(load_abi("VaultEngine"), data)
    assert name == "StalePrice" and args[0].lower() == weth_feed.address.lower()
