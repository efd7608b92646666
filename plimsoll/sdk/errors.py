"""Revert data in words: a custom error's name and arguments, from the exported ABIs (interfaces/abi).

Every exported ABI lists the errors its functions can surface, including those raised in the contracts they call
(plimsoll.sdk.contracts.export_abis), so one table of all of them names any revert the protocol produces.
Solidity's built-in ``Error(string)`` and ``Panic(uint256)`` are named too.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes

from .contracts import ABI_DIR, abi_type

#: Solidity's built-in reverts: selector → (name, argument types).
BUILTIN = {
    function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"], ["reason"]),
    function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"], ["code"]),
}


@cache
def error_table() -> dict[bytes, tuple[str, list[str], list[str]]]:
    """selector (4 bytes) → (error name, argument types, argument names), over every ABI in interfaces/abi."""
    table = dict(BUILTIN)
    for path in sorted(ABI_DIR.glob("*.json")):
        for entry in json.loads(path.read_text()):
            if entry.get("type") == "error":
                types = [abi_type(i) for i in entry["inputs"]]
                selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
                table[selector] = (entry["name"], types, [i["name"] for i in entry["inputs"]])
    return table


def decode_revert(data: bytes | str | None) -> str:
    """Revert data as ``Name(arg=value, …)``.

    Args:
        data: the revert data (bytes or 0x… hex), as a node returns it.
    Returns:
        the error with its arguments (addresses checksummed, bytes as 0x… hex); ``reverted without data`` when
        empty; ``unknown error 0x…`` (the selector and the raw data) when no exported ABI has it.
    """
    raw = HexBytes(data or b"")
    if len(raw) < 4:
        return "reverted without data"
    known = error_table().get(bytes(raw[:4]))
    if known is None:
        return f"unknown error {raw.to_0x_hex()}"
    name, types, names = known
    try:
        values = decode(types, bytes(raw[4:]))
    except Exception:  # malformed arguments: name it anyway
        return f"{name}(<undecodable {raw[4:].to_0x_hex()}>)"
    if name == "Panic":
        return f"Panic(0x{values[0]:02x})"
    return f"{name}({', '.join(f'{n}={_show(t, v)}' for n, t, v in zip(names, types, values))})"


def _show(abi_type: str, value: Any) -> str:
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return repr(value) if isinstance(value, str) else str(value)


def describe(error: BaseException) -> str:
    """A web3 exception in words: its revert decoded when it carries revert data (ContractCustomError,
    ContractLogicError, ContractPanicError), else ``repr(error)``."""
    data = getattr(error, "data", None)
    if isinstance(data, dict):  # some nodes wrap it: {"data": "0x…"}
        data = data.get("data")
    try:
        if isinstance(data, (bytes, str)) and len(HexBytes(data)) >= 4:
            return decode_revert(data)
    except ValueError:  # not hex: a message, not revert data
        pass
    return repr(error)


def revert_reason(fn: Any, params: dict[str, Any], block: int) -> str:
    """Why a mined transaction of ``fn`` (a bound web3 contract function, sent with ``params``) reverted in
    ``block``, in words: the call replayed on the state before that block, its revert decoded (``describe``)."""
    try:
        fn.call({"from": params["from"], "gas": params["gas"]}, block_identifier=block - 1)
    except Exception as e:  # the revert itself, whatever web3 class carries it
        return describe(e)
    return f"no revert when replayed at block {block - 1} (it depended on a transaction before it in its block)"
