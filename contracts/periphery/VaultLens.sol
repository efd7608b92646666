// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";

/// @title VaultLens
/// @notice Read-only batch views for keepers, monitors and front ends: many vaults in one eth_call, all read at the
///         same block. Not called by the protocol; the caller bounds every loop with the ids it passes.
contract VaultLens {
    /// @notice Raw state of one vault: what an off-chain mirror needs to compute its health.
    /// @param vaultId the vault
    /// @param owner ERC-721 owner (zero if the id does not exist)
    /// @param normalizedDebt WAD
    /// @param tokens collateral tokens
    /// @param amounts balances, token decimals
    /// @param portfolioMargin whether the vault is in portfolio margin
    /// @param inMarginCall whether the vault is in a margin call (LiquidationEngine.marginCallOf has its terms)
    struct VaultState {
        uint256 vaultId;
        address owner;
        uint256 normalizedDebt;
        address[] tokens;
        uint256[] amounts;
        bool portfolioMargin;
        bool inMarginCall;
    }

    /// @notice The engine read by this lens.
    IVaultEngine public immutable engine;

    /// @param engine_ the VaultEngine to read
    constructor(IVaultEngine engine_) {
        engine = engine_;
    }

    /// @notice Raw state of each vault in `vaultIds`, in the same order.
    /// @param vaultIds vaults to read, in order (the caller bounds the loop)
    function vaults(uint256[] calldata vaultIds) external view returns (VaultState[] memory states) {
        states = new VaultState[](vaultIds.length);
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 id = vaultIds[i];
            VaultState memory s = states[i];
            s.vaultId = id;
            s.owner = _ownerOrZero(id);
            s.normalizedDebt = engine.normalizedDebt(id);
            (s.tokens, s.amounts) = engine.vaultCollateral(id);
            s.portfolioMargin = engine.portfolioMargin(id);
            s.inMarginCall = engine.inMarginCall(id);
        }
    }

    /// @notice Health factor (WAD; type(uint256).max without debt) of each vault in `vaultIds`, from the engine's
    ///         own view. Reverts with the oracle's errors.
    /// @param vaultIds vaults to read, in order (the caller bounds the loop)
    function healthFactors(uint256[] calldata vaultIds) external view returns (uint256[] memory factors) {
        factors = new uint256[](vaultIds.length);
        for (uint256 i; i < vaultIds.length; ++i) {
            factors[i] = engine.healthFactor(vaultIds[i]);
        }
    }

    function _ownerOrZero(uint256 vaultId) internal view returns (address) {
        (bool ok, bytes memory data) =
            address(engine).staticcall(abi.encodeWithSignature("ownerOf(uint256)", vaultId));
        return ok ? abi.decode(data, (address)) : address(0);
    }
}
