"""Contract ABIs, deployment manifests and typed web3 handles on a deployed Plimsoll.

ABIs come from ``interfaces/abi/<Contract>.json``: the committed export of the compiled contracts that wallets
and integrators use too (``plimsoll abi`` refreshes it from ape's build; a test keeps it in step).
A deployment manifest, ``deployments/<network>.json``, records where one deployment lives.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_abi_to_4byte_selector
from web3 import Web3
from web3.contract import Contract

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ABI_DIR = PROJECT_ROOT / "interfaces" / "abi"
TS_DIR = PROJECT_ROOT / "interfaces" / "ts"
BUILD_MANIFEST = PROJECT_ROOT / ".build" / "__local__.json"
DEPLOYMENTS_DIR = PROJECT_ROOT / "deployments"

#: Contracts whose ABI is exported for integrators (mocks included: local networks use them).
EXPORTED = (
    "VaultEngine",
    "VaultNFT",
    "VaultRenderer",
    "LiquidationEngine",
    "OracleAdapter",
    "PUSD",
    "VaultLens",
    "PositionLens",
    "FlashLiquidator",
    "PortfolioMargin",
    "RiskSteward",
    "Timelock",
    "MockERC20",
    "MockAggregator",
    "MockAdversarialERC20",
)


#: The contracts whose errors can surface through each exported contract's functions (it calls them and lets their
#: reverts through), so that its exported ABI decodes them too. PUSD stands for every OpenZeppelin ERC-20: its
#: ``ERC20Insufficient*`` errors are those of a collateral token built on OpenZeppelin as well.
SURFACED: dict[str, tuple[str, ...]] = {
    # borrow/withdraw re-call a failing oracle so that its own error surfaces; repay and seize burn pUSD; deposit
    # and withdraw move collateral tokens.
    "VaultEngine": ("OracleAdapter", "PortfolioMargin", "PUSD"),
    # liquidations and margin calls run through the engine (valuation, seize, premium) and burn pUSD.
    "LiquidationEngine": ("VaultEngine", "OracleAdapter", "PortfolioMargin", "PUSD"),
    "VaultLens": ("VaultEngine", "OracleAdapter", "PortfolioMargin"),
    # tokenURI renders through the VaultRenderer, which reads the engine's views.
    "VaultNFT": ("VaultRenderer", "VaultEngine"),
    "VaultRenderer": ("VaultEngine",),
    # a position reads everything through the engine, the batch lens and the liquidation engine.
    "PositionLens": ("VaultLens", "VaultEngine", "LiquidationEngine", "OracleAdapter", "PortfolioMargin"),
    # a flash liquidation runs the liquidation engine's batch and pUSD's flash mint.
    "FlashLiquidator": ("LiquidationEngine", "VaultEngine", "OracleAdapter", "PortfolioMargin", "PUSD"),
    # the steward's moves are the engines' own setters, with their validation.
    "RiskSteward": ("VaultEngine", "LiquidationEngine", "PortfolioMargin"),
}


_ROUND = ("roundId", "answer", "startedAt", "updatedAt", "answeredInRound")  # Chainlink's AggregatorV3Interface

#: Names for the outputs that the compiler leaves unnamed (public getters, OpenZeppelin's functions, returned
#: structs), by function name, so that every output of an exported ABI has one and ethers and viem return named
#: results. A one-output function not listed takes its own name, less a ``get`` prefix: ``debtCeiling()`` returns
#: ``debtCeiling``, ``getMinDelay()`` returns ``minDelay``.
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "latestRoundData": _ROUND,
    "getRoundData": _ROUND,
    "aggregatorBounds": ("minAnswer", "maxAnswer"),
    "balanceOf": ("balance",),
    "ownerOf": ("owner",),
    "allowance": ("remaining",),  # EIP-20's name
    "approve": ("success",),
    "transfer": ("success",),
    "transferFrom": ("success",),
    "flashLoan": ("success",),
    "onFlashLoan": ("callbackResult",),  # EIP-3156's keccak256("ERC3156FlashBorrower.onFlashLoan")
    "onERC721Received": ("selector",),
    "onERC1155Received": ("selector",),
    "onERC1155BatchReceived": ("selector",),
    "supportsInterface": ("supported",),
    "hasRole": ("granted",),
    "tokenURI": ("uri",),
    "drip": ("rate",),
    "collateralType": ("params",),
    "marginCallOf": ("marginCall",),
    "marginCallTerms": ("terms",),
}


def with_output_names(abi: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``abi`` with a name on every function output that has none (``OUTPUT_NAMES``, else the function's own name
    less a ``get`` prefix). Types, order and selectors are unchanged: only the names that ethers and viem return
    results under.

    Raises:
        ValueError: a function with several unnamed outputs that ``OUTPUT_NAMES`` does not name.
    """
    named = []
    for entry in abi:
        outputs = entry.get("outputs", [])
        if entry["type"] != "function" or all(o["name"] for o in outputs):
            named.append(entry)
            continue
        fn = entry["name"]
        default = (fn[3].lower() + fn[4:],) if fn.startswith("get") and fn[3:4].isupper() else (fn,)
        names = OUTPUT_NAMES.get(fn, default if len(outputs) == 1 else ())
        if len(names) != len(outputs):
            raise ValueError(f"{fn}: {len(outputs)} outputs, add their names to OUTPUT_NAMES")
        named.append({**entry, "outputs": [{**o, "name": o["name"] or n} for o, n in zip(outputs, names)]})
    return named


def exported_abi(name: str, abis: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What ``interfaces/abi/<name>.json`` holds: contract ``name``'s compiled ABI (from ``abis``, name → ABI) with
    the errors that surface through it (``with_surfaced_errors``) and every output named (``with_output_names``).

    Raises:
        KeyError: ``name`` or a contract it surfaces is missing from ``abis``.
        ValueError: an output cannot be named (see ``with_output_names``).
    """
    return with_output_names(with_surfaced_errors(name, abis))


def typescript_module(name: str, abi: list[dict[str, Any]]) -> str:
    """A TypeScript module exporting ``abi`` as ``<name>Abi`` (first letter lower case; ``PUSD`` → ``pusdAbi``),
    ``as const`` so that viem, wagmi and abitype infer argument and result types from it."""
    return (f"// Generated by `plimsoll abi` from interfaces/abi/{name}.json: do not edit.\n"
            f"export const {ts_abi_name(name)} = {json.dumps(abi, indent=1, sort_keys=True)} as const;\n")


#: interfaces/ts/package.json: the modules are ES modules (imports name their ``.js`` files), as viem's are.
TS_PACKAGE_JSON = '{\n  "type": "module",\n  "description": "Generated by `plimsoll abi`: the exported ABIs as TypeScript modules."\n}\n'


def ts_abi_name(name: str) -> str:
    """The TypeScript export name of contract ``name``'s ABI: ``VaultEngine`` → ``vaultEngineAbi``,
    ``PUSD`` → ``pusdAbi``."""
    return (name.lower() if name.isupper() else name[0].lower() + name[1:]) + "Abi"


def with_surfaced_errors(name: str, abis: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Contract ``name``'s ABI (from ``abis``, name → compiled ABI) plus the errors of the contracts in
    ``SURFACED[name]`` that it does not declare itself (same name and argument types), in a stable order.

    Raises:
        KeyError: ``name`` or one of the contracts it surfaces is missing from ``abis``.
    """
    abi = list(abis[name])
    seen = {_error_signature(e) for e in abi if e["type"] == "error"}
    for other in SURFACED.get(name, ()):
        for entry in sorted((e for e in abis[other] if e["type"] == "error"), key=_error_signature):
            if _error_signature(entry) not in seen:
                seen.add(_error_signature(entry))
                abi.append(entry)
    return abi


def _error_signature(entry: dict[str, Any]) -> str:
    return entry["name"] + "(" + ",".join(i["type"] for i in entry["inputs"]) + ")"


def abi_type(param: dict[str, Any]) -> str:
    """An ABI parameter's canonical type, tuples spelled out: ``(uint256,address)[]``."""
    if param["type"].startswith("tuple"):
        return f"({','.join(abi_type(c) for c in param['components'])}){param['type'][5:]}"
    return param["type"]


def calldata(fn: Any) -> str:
    """A bound web3 contract function's calldata (0x…), encoded with eth_abi directly. web3's own encoder checks
    the whole contract ABI on every call, several milliseconds with the engines' ABIs: a keeper at 10,000 vaults
    pays that a dozen times a block.

    Args:
        fn: ``contract.functions.name(*args)``, arguments in eth_abi's shapes (tuples for structs).
    """
    types = [abi_type(i) for i in fn.abi["inputs"]]
    return "0x" + (function_abi_to_4byte_selector(fn.abi) + encode(types, fn.args)).hex()


def read_at(fn: Any, block: int) -> Any:
    """``fn.call(block_identifier=block)`` on a synchronous Web3, encoded (``calldata``) and decoded with eth_abi
    directly: web3's own encoder takes 300 ms for the ids of 5,000 vaults, this 26 ms. One output: the value;
    several: a tuple; arrays and structs as tuples.

    Raises:
        web3's ContractLogicError (or a subclass) when the call reverts.
    """
    out = decode([abi_type(o) for o in fn.abi["outputs"]],
                 fn.w3.eth.call({"to": fn.address, "data": calldata(fn)}, block_identifier=block))
    return out[0] if len(out) == 1 else out


class PinnedRead:
    """A contract read whose arguments never change, made at any block: calldata encoded once (``calldata``), the
    answer decoded with eth_abi (one output: the value; several: a tuple; arrays and structs as tuples).

    Raises (from ``at``):
        web3's ContractLogicError (or a subclass) when the call reverts.
    """

    def __init__(self, w3: Any, fn: Any):
        self.w3, self.tx = w3, {"to": fn.address, "data": calldata(fn)}
        self.types = [abi_type(o) for o in fn.abi["outputs"]]

    async def at(self, block: int) -> Any:
        """The answer at block number ``block`` (an AsyncWeb3 node)."""
        out = decode(self.types, await self.w3.eth.call(self.tx, block_identifier=block))
        return out[0] if len(out) == 1 else out


class ManifestError(Exception):
    """A deployment manifest is missing or malformed."""


def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of contract ``name`` from ``interfaces/abi``.

    Raises:
        FileNotFoundError: no exported ABI of that name (run ``plimsoll abi``).
    """
    return json.loads((ABI_DIR / f"{name}.json").read_text())


def export_abis(build_manifest: Path = BUILD_MANIFEST, out_dir: Path = ABI_DIR, ts_dir: Path = TS_DIR) -> list[Path]:
    """Write the ABI of every EXPORTED contract from ape's build manifest (``exported_abi``) to
    ``out_dir/<name>.json``, its TypeScript module to ``ts_dir/<name>.ts`` (``typescript_module``),
    ``ts_dir/index.ts`` re-exporting them all, and ``ts_dir/package.json`` (``TS_PACKAGE_JSON``).

    Returns:
        The files written.
    Raises:
        FileNotFoundError: nothing compiled yet (run ``ape compile``).
        KeyError: an exported contract is missing from the build.
        ValueError: an output cannot be named (see ``with_output_names``).
    """
    types = json.loads(build_manifest.read_text())["contractTypes"]
    abis = {name: t["abi"] for name, t in types.items() if "abi" in t}
    exported = {name: exported_abi(name, abis) for name in EXPORTED}  # all or nothing: no half-written export
    out_dir.mkdir(parents=True, exist_ok=True)
    ts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, abi in exported.items():
        (out_dir / f"{name}.json").write_text(json.dumps(abi, indent=1, sort_keys=True) + "\n")
        (ts_dir / f"{name}.ts").write_text(typescript_module(name, abi))
        written += [out_dir / f"{name}.json", ts_dir / f"{name}.ts"]
    index = "".join(f'export {{ {ts_abi_name(n)} }} from "./{n}.js";\n' for n in EXPORTED)
    (ts_dir / "index.ts").write_text("// Generated by `plimsoll abi`: every exported ABI, `as const`.\n" + index)
    (ts_dir / "package.json").write_text(TS_PACKAGE_JSON)  # ES modules, as viem is
    return written + [ts_dir / "index.ts", ts_dir / "package.json"]


@dataclass(frozen=True)
class CollateralDeployment:
    """Where one collateral type lives, and its parameters as deployed.

    Attributes:
        symbol: token symbol, e.g. ``"WETH"``.
        token: ERC-20 address.
        oracle: OracleAdapter address.
        feed: the primary Chainlink-compatible aggregator address (the one a local replay drives).
        decimals: token decimals.
        feed_decimals: aggregator answer decimals.
        mock: whether token and feeds are the project's mocks (local networks).
        feeds: every aggregator the oracle adapter reads, primary first.
        params: read back from the engines after the deployment: ``ltv``, ``liquidation_threshold``,
            ``liquidation_bonus`` (WAD), ``supply_cap`` (token units), ``liquidation_cap`` (WAD USD of seized value per
            cap window, 0 = none), ``grace_period`` (seconds, 0 = no margin calls), ``hard_floor`` (WAD health),
            ``premium`` (RAY per-second factor on the debt during a margin call).
    """

    symbol: str
    token: str
    oracle: str
    feed: str
    decimals: int
    feed_decimals: int
    mock: bool
    feeds: list[str] = field(default_factory=list)
    params: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AddressEntry:
    """What lives at one address of a deployment: the manifest's address book, by which a wallet routes a receipt's
    logs (a collateral's ERC-20 ``Transfer`` and the vault NFT's share topic0) and picks the ABI that decodes them.

    Attributes:
        contract: the contract's name: ``VaultEngine``, ``MockERC20``…; ``ERC20`` or ``AggregatorV3Interface`` for
            an external token or feed.
        label: its role in this deployment: ``VaultEngine``, ``WETH token``, ``WETH oracle``, ``WETH feed 1``.
        abi: the exported ABI that decodes its calls, events and errors: ``interfaces/abi/<abi>.json``, TypeScript
            ``<abi>Abi`` (an ERC-20 subset for external tokens: ``MockERC20``).
        tx: the transaction that created it (the engine's for PUSD and PortfolioMargin, which the engine creates);
            empty for an external contract.
        block: that transaction's block number; 0 for an external contract.
    """

    contract: str
    label: str
    abi: str
    tx: str = ""
    block: int = 0


#: The JSON Schema every manifest file follows (checked by ``Manifest.save`` and ``Manifest.load``).
MANIFEST_SCHEMA = DEPLOYMENTS_DIR / "manifest.schema.json"


@dataclass(frozen=True)
class Manifest:
    """One deployment: ``deployments/<network>.json``, an address book that follows ``MANIFEST_SCHEMA``.

    Attributes:
        network: name the manifest is filed under.
        chain_id: EIP-155 chain id.
        block: block number of the first deployment transaction (where event scans start).
        deployer: account that deployed (an admin only if the configuration's governance.admin is ``deployer``).
        contracts: name → address for VaultEngine, PUSD, VaultNFT, VaultRenderer, LiquidationEngine, VaultLens,
            PositionLens, PortfolioMargin, Timelock, RiskSteward.
        collaterals: symbol → CollateralDeployment.
        abi_source: where the ABIs come from (relative to the project root).
        compiler: the solc version string that built the bytecode.
        block_hash: hash of block ``block`` (a reorg that drops the deployment changes it).
        version: the plimsoll package version that deployed.
        commit: its git commit (40 hex digits, ``+dirty`` when the tree had uncommitted changes; empty outside git).
        addresses: checksummed address → AddressEntry, for every contract of the deployment, tokens, oracles and
            feeds included.
        transactions: every transaction the deployer sent for the deployment, in order.
        parameters: system parameters read back after the deployment: ``debt_ceiling`` (WAD pUSD), ``dust`` (WAD
            pUSD), ``stability_fee`` (RAY per second).
    """

    network: str
    chain_id: int
    block: int
    deployer: str
    contracts: dict[str, str]
    collaterals: dict[str, CollateralDeployment] = field(default_factory=dict)
    abi_source: str = "interfaces/abi"
    compiler: str = ""
    block_hash: str = ""
    version: str = ""
    commit: str = ""
    addresses: dict[str, AddressEntry] = field(default_factory=dict)
    transactions: list[str] = field(default_factory=list)
    parameters: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON-ready dict."""
        d = dict(self.__dict__)
        d["collaterals"] = {k: dict(v.__dict__) for k, v in self.collaterals.items()}
        d["addresses"] = {k: dict(v.__dict__) for k, v in self.addresses.items()}
        return d

    def save(self, path: Path | None = None) -> Path:
        """Check against ``MANIFEST_SCHEMA``, write to ``path`` (default ``deployments/<network>.json``) and return
        it.

        Raises:
            ManifestError: the manifest does not follow the schema (nothing is written).
        """
        check_manifest(self.to_json())
        path = path or DEPLOYMENTS_DIR / f"{self.network}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> "Manifest":
        """Read a manifest file and check it against ``MANIFEST_SCHEMA``.

        Raises:
            ManifestError: the file is missing, is not JSON or does not follow the schema.
        """
        path = Path(path)
        try:
            d = json.loads(path.read_text())
        except FileNotFoundError as e:
            raise ManifestError(f"no deployment manifest at {path}: deploy first (plimsoll deploy)") from e
        except json.JSONDecodeError as e:
            raise ManifestError(f"malformed deployment manifest {path}: {e}") from e
        check_manifest(d, str(path))
        d["collaterals"] = {k: CollateralDeployment(**v) for k, v in d.get("collaterals", {}).items()}
        d["addresses"] = {k: AddressEntry(**v) for k, v in d.get("addresses", {}).items()}
        return cls(**d)


def check_manifest(document: Any, where: str = "manifest") -> None:
    """Check a manifest's JSON against ``MANIFEST_SCHEMA`` (JSON Schema draft 2020-12).

    Raises:
        ManifestError: naming the first field that breaks the schema, and how.
    """
    import jsonschema  # only here: the keeper and the risk engine load manifests once

    schema = json.loads(MANIFEST_SCHEMA.read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ManifestError(f"malformed deployment manifest {where}: {at}: {error.message}")


class Protocol:
    """web3 handles on one deployment.

    Attributes:
        w3: the connection; manifest: where things live; engine, pusd, liquidation, lens (VaultLens, batches),
        positions (PositionLens, a wallet's view), nft (VaultNFT, who holds each vault), portfolio: contracts;
        tokens, oracles, feeds: symbol → contract.
    """

    def __init__(self, w3: Web3, manifest: Manifest):
        self.w3 = w3
        self.manifest = manifest
        c = manifest.contracts
        self.engine: Contract = self._at("VaultEngine", c["VaultEngine"])
        self.pusd: Contract = self._at("PUSD", c["PUSD"])
        self.liquidation: Contract = self._at("LiquidationEngine", c["LiquidationEngine"])
        self.lens: Contract = self._at("VaultLens", c["VaultLens"])
        self.positions: Contract = self._at("PositionLens", c["PositionLens"])
        self.nft: Contract = self._at("VaultNFT", c["VaultNFT"])
        self.portfolio: Contract = self._at("PortfolioMargin", c["PortfolioMargin"])
        self.tokens: dict[str, Contract] = {}
        self.oracles: dict[str, Contract] = {}
        self.feeds: dict[str, Contract] = {}
        for sym, col in manifest.collaterals.items():
            self.tokens[sym] = self._at("MockERC20", col.token)  # an ERC-20 ABI (plus the mock faucet)
            self.oracles[sym] = self._at("OracleAdapter", col.oracle)
            self.feeds[sym] = self._at("MockAggregator", col.feed)

    def _at(self, abi_name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_abi(abi_name))

    def symbol_of(self, token: str) -> str:
        """The collateral symbol of a token address.

        Raises:
            KeyError: the token is not in the manifest.
        """
        for sym, col in self.manifest.collaterals.items():
            if col.token.lower() == token.lower():
                return sym
        raise KeyError(token)
