"""The deployment manifest as an address book: it follows deployments/manifest.schema.json, every address names its
contract, ABI and creating transaction as the chain has them, and the parameters are those of the configuration."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from plimsoll.sdk.contracts import MANIFEST_SCHEMA, EXPORTED, Manifest, ManifestError, check_manifest


def test_the_manifest_follows_its_schema_and_reads_back(deployment, tmp_path):
    path = deployment.save(tmp_path / "local.json")
    document = json.loads(path.read_text())
    check_manifest(document)
    assert Manifest.load(path) == deployment
    # the schema names every field the manifest writes, and nothing else is allowed
    schema = json.loads(MANIFEST_SCHEMA.read_text())
    assert set(schema["required"]) == set(document) == set(schema["properties"])


def test_every_address_names_its_contract_abi_and_creating_transaction(deployment, chain):
    w3 = chain.provider.web3
    book = deployment.addresses
    contracts = {**deployment.contracts,
                 **{f"{s} {what}": a for s, c in deployment.collaterals.items()
                    for what, a in (("token", c.token), ("oracle", c.oracle), ("feed 1", c.feed))}}
    assert {book[a].label for a in contracts.values()} == set(contracts)  # every address is in the book
    assert len(book) == len(contracts)
    for address, entry in book.items():
        assert entry.abi in EXPORTED and w3.eth.get_code(address) != b""
        receipt = w3.eth.get_transaction_receipt(entry.tx)
        assert receipt["blockNumber"] == entry.block and receipt["from"] == deployment.deployer
        assert entry.tx in deployment.transactions
        # a contract is created by its own transaction, except those the engine's constructor creates
        created = deployment.contracts["VaultEngine"] if entry.contract in ("PUSD", "PortfolioMargin", "VaultNFT") else address
        assert receipt["contractAddress"] == created, entry.label
    assert deployment.transactions == sorted(deployment.transactions, key=lambda h: (
        w3.eth.get_transaction(h)["blockNumber"], w3.eth.get_transaction(h)["transactionIndex"]))
    assert deployment.block_hash == w3.eth.get_block(deployment.block)["hash"].to_0x_hex()
    assert w3.eth.get_transaction(deployment.transactions[0])["blockNumber"] == deployment.block


def test_parameters_are_those_of_the_configuration(deployment, cfg):
    assert deployment.parameters == {"debt_ceiling": cfg.debt_ceiling, "dust": cfg.dust,
                                     "stability_fee": cfg.stability_fee}
    for c in cfg.collaterals:
        assert deployment.collaterals[c.symbol].params == {
            "ltv": c.ltv, "liquidation_threshold": c.liquidation_threshold, "liquidation_bonus": c.liquidation_bonus,
            "supply_cap": c.supply_cap, "liquidation_cap": c.liquidation_cap, "grace_period": c.grace_period,
            "hard_floor": c.hard_floor, "premium": c.premium}
    assert deployment.commit == "" or len(deployment.commit.split("+")[0]) == 40


def test_a_manifest_that_breaks_the_schema_is_refused_and_nothing_is_written(deployment, tmp_path):
    path = tmp_path / "bad.json"
    with pytest.raises(ManifestError, match="block_hash"):
        replace(deployment, block_hash="0x12").save(path)
    assert not path.exists()
    document = deployment.to_json()
    document["collaterals"]["WETH"]["params"].pop("ltv")
    path.write_text(json.dumps(document))
    with pytest.raises(ManifestError, match=r"collaterals/WETH/params.*'ltv' is a required property"):
        Manifest.load(path)
