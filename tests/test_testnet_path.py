"""The test-network path, rehearsed: scripts/config/sepolia.yaml (real token and Chainlink feed addresses, no mocks)
deployed by `plimsoll deploy` with an ape keystore account, on an Anvil that has Sepolia's chain id and no dev keys.

Offline, the real tokens and feeds cannot be reached, so the test installs stand-ins at their addresses first
(anvil_setCode with the code of a MockERC20 and a MockAggregator): the deployment itself uses no mock and names
no key on its command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from plimsoll.sdk.anvil import Anvil
from plimsoll.sdk.config import load_config
from plimsoll.sdk.contracts import PROJECT_ROOT, Manifest, load_abi

SEPOLIA = 11_155_111
CONFIG = PROJECT_ROOT / "scripts" / "config" / "sepolia.yaml"
ALIAS, PASSPHRASE = "rehearsal", "not a real passphrase"
#: Who deploys the stand-ins (impersonated: the node holds no key).
OPERATOR = "0x000000000000000000000000000000000000dEaD"


def _stand_in(w3: Web3, name: str, address: str, args: list, answer: int | None = None) -> None:
    """The compiled ``name`` deployed with ``args``, its code copied to ``address``; a feed's first round set."""
    built = json.loads((PROJECT_ROOT / ".build" / "__local__.json").read_text())["contractTypes"][name]
    factory = w3.eth.contract(abi=built["abi"], bytecode=built["deploymentBytecode"]["bytecode"])
    made = w3.eth.wait_for_transaction_receipt(factory.constructor(*args).transact({"from": OPERATOR}))
    w3.provider.make_request("anvil_setCode", [address, w3.eth.get_code(made["contractAddress"]).to_0x_hex()])
    if answer is not None:  # the operator is immutable, in the copied code
        w3.eth.wait_for_transaction_receipt(w3.eth.contract(address=address, abi=built["abi"]).functions.updateAnswer(
            answer).transact({"from": OPERATOR}))


@pytest.mark.integration
def test_the_sepolia_configuration_deploys_with_a_keystore_on_a_node_without_dev_keys(tmp_path):
    cfg = load_config(CONFIG)
    assert not any(c.mock for c in cfg.collaterals)
    with Anvil(accounts=0, chain_id=SEPOLIA, block_time=0.2, log_path=tmp_path / "anvil.log") as anvil:
        w3 = Web3(Web3.HTTPProvider(anvil.http_url))
        assert w3.eth.accounts == [] and w3.eth.chain_id == SEPOLIA  # no dev keys
        w3.provider.make_request("anvil_impersonateAccount", [OPERATOR])
        w3.provider.make_request("anvil_setBalance", [OPERATOR, hex(10**20)])
        for c, price in zip(cfg.collaterals, (3_000, 15)):
            _stand_in(w3, "MockERC20", c.token, [c.name, c.symbol, c.decimals])
            _stand_in(w3, "MockAggregator", c.feeds[0], [c.feed_decimals, f"{c.symbol} / USD", price * 10**8],
                      price * 10**8)
        deployer = Account.create()
        w3.provider.make_request("anvil_setBalance", [deployer.address, hex(10**20)])

        # an ape keystore in a data folder of its own, unlocked from the environment as an operator's would be
        env = dict(os.environ, APE_DATA_FOLDER=str(tmp_path / "ape"), **{f"APE_ACCOUNTS_{ALIAS}_PASSPHRASE": PASSPHRASE})
        subprocess.run([sys.executable, "-c", "import sys; from ape_accounts import import_account_from_private_key as i;"
                        " i(sys.argv[1], sys.argv[2], sys.stdin.read())", ALIAS, PASSPHRASE],
                       input=deployer.key.hex(), env=env, check=True, capture_output=True, text=True, timeout=120)
        out = tmp_path / "sepolia.json"
        command = [str(Path(sys.executable).parent / "plimsoll"), "deploy", "--network", anvil.http_url,
                   "--config", str(CONFIG), "--name", "sepolia", "--out", str(out), "--account", ALIAS, "--yes"]
        assert deployer.key.hex().removeprefix("0x") not in " ".join(command)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

        m = Manifest.load(out)
        assert m.chain_id == SEPOLIA and m.deployer == deployer.address
        for c in cfg.collaterals:
            col = m.collaterals[c.symbol]
            assert (col.token, col.feeds, col.mock) == (c.token, list(c.feeds), False)
            assert m.addresses[c.token].contract == "ERC20" and m.addresses[c.token].tx == ""  # not deployed by us
            assert m.addresses[c.feeds[0]].contract == "AggregatorV3Interface"
            assert col.params["ltv"] == c.ltv and col.params["grace_period"] == c.grace_period
        # the admin roles went to the Timelock; the deployer keeps none in the engine
        engine = w3.eth.contract(address=m.contracts["VaultEngine"], abi=load_abi("VaultEngine"))
        admin, risk_admin = engine.functions.DEFAULT_ADMIN_ROLE().call(), engine.functions.RISK_ADMIN_ROLE().call()
        assert engine.functions.hasRole(admin, m.contracts["Timelock"]).call()
        assert not engine.functions.hasRole(admin, deployer.address).call()
        assert not engine.functions.hasRole(risk_admin, deployer.address).call()
        # and it prices WETH from the ETH / USD feed's address
        oracle = w3.eth.contract(address=m.collaterals["WETH"].oracle, abi=load_abi("OracleAdapter"))
        assert oracle.functions.price().call() == 3_000 * 10**18
