// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVaultEngine} from "./IVaultEngine.sol";

/// @title ILiquidationEngine
/// @notice Anyone may close an unsafe vault (health factor < 1): repay part or all of its debt in pUSD and take
///         collateral worth the repaid amount times the vault's liquidation bonus.
/// @dev Amounts: pUSD and USD values in WAD. The repay r* that restores the target health T is
///      r* = (T·D − M) / (T − LB·LT) with D the debt, M = Σ value·LT, LB = Σ value·bonus / Σ value and
///      LT = M / Σ value (../shared/DESIGN.md, "Math"; every collateral is seized in the same fraction).
///      The whole debt is repaid when HF < fullLiquidationHealth, when LB·LT >= T (a partial liquidation could not
///      raise health), or when the remainder would be below dust. The liquidator pays r plus the protocol's share
///      of the bonus, `protocolFee = r·(LB − 1)·protocolShare`, which goes to the surplus buffer.
interface ILiquidationEngine {
    /// @notice What a liquidation of a vault would do now (all WAD).
    /// @param healthFactor before; @param repay pUSD applied to the debt; @param protocolFee extra pUSD to the surplus
    /// @param fraction share of each collateral balance seized (1e18 = all); @param full whether the whole debt goes
    struct Plan {
        uint256 healthFactor;
        uint256 repay;
        uint256 protocolFee;
        uint256 fraction;
        bool full;
    }

    /// @notice The vault's health factor (WAD) is at or above 1, or it has no debt.
    error NotLiquidatable(uint256 vaultId, uint256 healthFactor);
    /// @notice The caller owns or operates the vault.
    error SelfLiquidation(uint256 vaultId, address caller);
    /// @notice targetHealth > 1 >= fullLiquidationHealth and protocolShare <= 1 must hold (WAD).
    error InvalidLiquidationParameters(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare);

    /// @notice A vault was liquidated by `liquidator`: `repaid` (WAD pUSD) of its debt, `protocolFee` to the
    ///         surplus, `fraction` (WAD) of each collateral balance to the liquidator; `healthFactor` before (WAD).
    event Liquidate(
        uint256 indexed vaultId,
        address indexed liquidator,
        uint256 repaid,
        uint256 protocolFee,
        uint256 fraction,
        uint256 healthFactor,
        bool full
    );
    /// @notice Target health, full-liquidation health and protocol share (all WAD) were set.
    event LiquidationParametersSet(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare);

    /// @notice The accounting core this module settles through.
    function engine() external view returns (IVaultEngine);
    /// @notice Health (WAD) a partial liquidation restores, > 1.
    function targetHealth() external view returns (uint256);
    /// @notice Below this health (WAD, <= 1) the whole debt is repaid.
    function fullLiquidationHealth() external view returns (uint256);
    /// @notice Protocol's share of the liquidation bonus, WAD (<= 1).
    function protocolShare() external view returns (uint256);

    /// @notice Set the liquidation parameters (WAD). Owner only. Reverts InvalidLiquidationParameters.
    function setLiquidationParameters(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare)
        external;

    /// @notice What `liquidate(vaultId)` would do now. Reverts NotLiquidatable and the oracle's errors.
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory);

    /// @notice Liquidate one vault: the caller pays `repay + protocolFee` pUSD and receives the seized collateral.
    /// @dev Reverts NotLiquidatable, SelfLiquidation, ERC20InsufficientBalance (pUSD), and the oracle's errors.
    /// @return plan what was done
    function liquidate(uint256 vaultId) external returns (Plan memory plan);

    /// @notice Liquidate every listed vault that is liquidatable now, skipping the others (healthy, no debt, or
    ///         the caller's own), so that a race with another keeper does not revert the batch.
    /// @dev Reverts ERC20InsufficientBalance when the caller's pUSD runs out, and the oracle's errors.
    /// @return liquidated number of vaults liquidated; @return repaid total pUSD applied to debt (WAD)
    function liquidateBatch(uint256[] calldata vaultIds) external returns (uint256 liquidated, uint256 repaid);
}
