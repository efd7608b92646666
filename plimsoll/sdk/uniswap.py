"""Uniswap v2 on a local chain: the real factory, pair and router, deployed from the compiled artifacts that ship in
the ``@uniswap/v2-core`` (1.0.1) and ``@uniswap/v2-periphery`` (1.1.0-beta.0) npm packages, and seeded with
token/pUSD liquidity. The keeper's flash mode sells seized collateral on these pairs.

The router finds a pair by the CREATE2 address derived from the pair's init-code hash, which it has built in; the
pair bytecode in v2-core's build has that very hash (``PAIR_INIT_CODE_HASH``), checked on load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract

from plimsoll.sdk.contracts import PROJECT_ROOT

NODE_MODULES = PROJECT_ROOT / "node_modules" / "@uniswap"
#: keccak256 of UniswapV2Pair's creation code, as UniswapV2Library.pairFor has it built in (v2-periphery 1.1.0-beta.0).
PAIR_INIT_CODE_HASH = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"


class UniswapError(RuntimeError):
    """The Uniswap artifacts are missing or not the expected build (run ``make setup``)."""


def artifact(package: str, name: str) -> tuple[list[dict[str, Any]], str]:
    """ABI and creation bytecode (0x hex) of ``name`` from ``node_modules/@uniswap/<package>/build/<name>.json``.

    Args:
        package: ``"v2-core"`` or ``"v2-periphery"``.
        name: contract name, e.g. ``"UniswapV2Factory"``.
    Raises:
        UniswapError: the file is missing (npm packages not installed).
    """
    path = NODE_MODULES / package / "build" / f"{name}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise UniswapError(f"{path} is missing: install the npm packages (make setup)") from e
    code = data["bytecode"]
    return data["abi"], code if code.startswith("0x") else "0x" + code


@dataclass(frozen=True)
class UniswapV2:
    """Handles on a deployed Uniswap v2.

    Attributes:
        factory: UniswapV2Factory; router: UniswapV2Router02; w3: the connection.
    """

    w3: Web3
    factory: Contract
    router: Contract

    def pair(self, token: str, other: str) -> Contract | None:
        """The token/other pair, or None if it does not exist."""
        address = self.factory.functions.getPair(token, other).call()
        if int(address, 16) == 0:
            return None
        abi, _ = artifact("v2-core", "UniswapV2Pair")
        return self.w3.eth.contract(address=address, abi=abi)

    def reserves(self, token: str, other: str) -> tuple[int, int]:
        """Reserves (token, other) in token units of each, (0, 0) when there is no pair."""
        pair = self.pair(token, other)
        if pair is None:
            return 0, 0
        r0, r1, _ = pair.functions.getReserves().call()
        return (r0, r1) if pair.functions.token0().call().lower() == token.lower() else (r1, r0)


def amount_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """What a swap of ``amount_in`` pays out of a v2 pair with 0.3 % fee (UniswapV2Library.getAmountOut), rounded
    down as the pair does. Units: each token's own. Returns 0 for an empty pair or input."""
    if amount_in <= 0 or reserve_in <= 0 or reserve_out <= 0:
        return 0
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def deploy(w3: Web3, sender: str) -> UniswapV2:
    """Deploy UniswapV2Factory and UniswapV2Router02 from the npm artifacts; ``sender`` pays (an account the node
    or a web3 signing middleware can sign for). The router's WETH argument is the zero address: only its
    token-to-token functions are used.

    Raises:
        UniswapError: artifacts missing, or the pair bytecode is not the one the router was built for.
    """
    _, pair_code = artifact("v2-core", "UniswapV2Pair")
    if keccak(hexstr=pair_code).hex().removeprefix("0x") != PAIR_INIT_CODE_HASH:
        raise UniswapError("UniswapV2Pair bytecode does not match the router's init-code hash")
    factory = _deploy(w3, sender, "v2-core", "UniswapV2Factory", sender)
    router = _deploy(w3, sender, "v2-periphery", "UniswapV2Router02", factory.address,
                     "0x0000000000000000000000000000000000000000")
    return UniswapV2(w3, factory, router)


def at(w3: Web3, router_address: str) -> UniswapV2:
    """Handles on an existing deployment, from its router's address."""
    router_abi, _ = artifact("v2-periphery", "UniswapV2Router02")
    router = w3.eth.contract(address=Web3.to_checksum_address(router_address), abi=router_abi)
    factory_abi, _ = artifact("v2-core", "UniswapV2Factory")
    factory = w3.eth.contract(address=router.functions.factory().call(), abi=factory_abi)
    return UniswapV2(w3, factory, router)


def add_liquidity(uni: UniswapV2, sender: str, token: Contract, other: Contract, amount: int, other_amount: int) -> None:
    """Add ``amount`` of ``token`` and ``other_amount`` of ``other`` (each in its own units) to their pair through
    the router, creating the pair if needed; ``sender`` holds both and receives the LP tokens.

    Raises:
        web3's ContractLogicError with the router's reason (e.g. ``TransferHelper: TRANSFER_FROM_FAILED``).
    """
    w3 = uni.w3
    for t, a in ((token, amount), (other, other_amount)):
        _wait(w3, t.functions.approve(uni.router.address, a).transact({"from": sender}))
    deadline = w3.eth.get_block("latest")["timestamp"] + 3600
    _wait(w3, uni.router.functions.addLiquidity(token.address, other.address, amount, other_amount, 0, 0, sender,
                                                 deadline).transact({"from": sender}))


def _deploy(w3: Web3, sender: str, package: str, name: str, *args: Any) -> Contract:
    abi, code = artifact(package, name)
    receipt = _wait(w3, w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact({"from": sender}))
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


def _wait(w3: Web3, tx_hash: Any) -> Any:
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        raise UniswapError(f"transaction {Web3.to_hex(tx_hash)} reverted")
    return receipt
