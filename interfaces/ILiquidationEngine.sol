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
///      raise health), or when the remainder would be below dust. When the collateral V cannot pay the full bonus
///      on r, all of it is seized: the whole debt is repaid while V >= D (the bonus shrinks to V/D, no bad debt),
///      otherwise r = V/LB and the rest is written off. The liquidator pays r plus the protocol's share of the
///      bonus, `protocolFee = (seized value − r)·protocolShare`, which goes to the surplus buffer.
///      Only priced collateral enters V, M and LB, and only it is seized (IVaultEngine, "Oracle rule").
///      Anyone may liquidate, the vault's owner included.
interface ILiquidationEngine {
    /// @notice What a liquidation of a vault would do now (all WAD).
    /// @param healthFactor before
    /// @param repay pUSD applied to the debt
    /// @param protocolFee extra pUSD to the surplus
    /// @param fraction share of each priced collateral balance seized (1e18 = all)
    /// @param full whether the whole debt goes (repaid or written off)
    struct Plan {
        uint256 healthFactor;
        uint256 repay;
        uint256 protocolFee;
        uint256 fraction;
        bool full;
    }

    /// @notice The vault's health factor (WAD) is at or above 1, or it has no debt.
    error NotLiquidatable(uint256 vaultId, uint256 healthFactor);
    /// @notice The vault is unsafe but none of its collateral can be priced now: it waits for a price.
    error NoPricedCollateral(uint256 vaultId);
    /// @notice 1 < targetHealth <= MAX_TARGET_HEALTH, fullLiquidationHealth <= 1 and
    ///         protocolShare <= MAX_PROTOCOL_SHARE must hold (WAD).
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

    /// @notice Set the liquidation parameters. Owner only.
    /// @param targetHealth WAD, in (1, MAX_TARGET_HEALTH]
    /// @param fullLiquidationHealth WAD, at most 1
    /// @param protocolShare WAD, at most MAX_PROTOCOL_SHARE
    /// @dev Reverts InvalidLiquidationParameters.
    function setLiquidationParameters(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare)
        external;

    /// @notice What `liquidate(vaultId)` would do now.
    /// @param vaultId the vault
    /// @dev Reverts NotLiquidatable, NoPricedCollateral, InsufficientGasForOracle.
    /// @return plan the liquidation
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory plan);

    /// @notice Liquidate one vault: the caller pays `repay + protocolFee` pUSD and receives the seized collateral
    ///         (a token that refuses the transfer stays claimable in the VaultEngine). Anyone may call.
    /// @param vaultId the vault
    /// @dev Reverts NotLiquidatable, NoPricedCollateral, InsufficientGasForOracle, ERC20InsufficientBalance (pUSD).
    /// @return plan what was done
    function liquidate(uint256 vaultId) external returns (Plan memory plan);

    /// @notice Liquidate every listed vault that is liquidatable now, skipping the others (healthy, no debt,
    ///         nothing priced to seize, or more than the caller's remaining pUSD), so that a race with another
    ///         keeper or one bad vault never reverts the batch.
    /// @param vaultIds vaults to try, in order (the caller bounds the loop)
    /// @dev Reverts InsufficientGasForOracle only when the transaction's gas limit is too low.
    /// @return liquidated number of vaults liquidated
    /// @return repaid total pUSD applied to debt (WAD)
    function liquidateBatch(uint256[] calldata vaultIds) external returns (uint256 liquidated, uint256 repaid);
}
