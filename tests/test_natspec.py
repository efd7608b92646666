"""NatSpec is complete where integrators read it: every parameter of every external or public function of the
protocol's contracts is documented in the compiled devdoc (solc keeps only the first tag of a line, so a second
`@param` on the same line would be silently lost and show up here as missing)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".build" / "__local__.json"
PROTOCOL = ("VaultEngine", "LiquidationEngine", "OracleAdapter", "PUSD", "VaultLens", "PortfolioMargin", "RiskSteward")
#: Inherited unchanged from OpenZeppelin (ERC-20, ERC-721, permit, AccessControl), documented there. The Timelock is
#: OpenZeppelin's TimelockController unchanged, and is not listed in PROTOCOL.
OPENZEPPELIN = {
    "allowance", "approve", "balanceOf", "getApproved", "isApprovedForAll", "nonces", "ownerOf", "permit",
    "safeTransferFrom", "setApprovalForAll", "supportsInterface", "tokenURI", "transfer", "transferFrom",
    "getRoleAdmin", "grantRole", "hasRole", "renounceRole", "revokeRole",
}


def _contracts() -> dict:
    return json.loads(BUILD.read_text())["contractTypes"]


def _signature(fn: dict) -> str:
    def kind(i: dict) -> str:
        if i["type"].startswith("tuple"):
            return "(" + ",".join(kind(c) for c in i["components"]) + ")" + i["type"][5:]
        return i["type"]

    return f"{fn['name']}({','.join(kind(i) for i in fn['inputs'])})"


@pytest.mark.parametrize("name", PROTOCOL)
def test_every_parameter_of_every_external_function_is_documented(name):
    contract = _contracts()[name]
    methods = contract.get("devdoc", {}).get("methods", {})
    getters = contract.get("devdoc", {}).get("stateVariables", {})  # public state variables' getters
    missing = []
    for fn in contract["abi"]:
        if fn["type"] != "function" or not fn["inputs"] or fn["name"] in OPENZEPPELIN:
            continue
        documented = (methods.get(_signature(fn)) or getters.get(fn["name"]) or {}).get("params", {})
        # An implementation may suffix a name with "_" where it would shadow a state variable; @inheritdoc keeps the
        # interface's name.
        missing += [f"{_signature(fn)}: {i['name'] or '(unnamed)'}" for i in fn["inputs"]
                    if i["name"] not in documented and i["name"].rstrip("_") not in documented]
    assert not missing, f"{name}: undocumented parameters:\n" + "\n".join(missing)


def test_no_source_line_carries_two_natspec_tags():
    tag = re.compile(r"@(param|return|notice|dev|inheritdoc|title|author|custom)\b")
    offenders = []
    for path in [*ROOT.glob("contracts/**/*.sol"), *ROOT.glob("interfaces/*.sol")]:
        if ".cache" in path.parts:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("///") and len(tag.findall(line)) > 1:
                offenders.append(f"{path.relative_to(ROOT)}:{n}")
    assert not offenders, offenders
