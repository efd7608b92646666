// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IRiskSteward
/// @notice Risk parameters that move only within bounds (docs/governance.md). The steward (STEWARD_ROLE) may move
///         each risk parameter by at most a bounded step per change, and change it again only after a cooldown;
///         anything larger goes through the timelock. The contract holds RISK_ADMIN_ROLE in the VaultEngine and
///         exposes nothing else, so a steward key can never list a token, replace an oracle or reshape the
///         portfolio-margin grids (it may only shift one collateral's shocks, as it may move its haircuts).
/// @dev Step rules, per change: LTV, liquidation threshold and liquidation bonus move by at most `riskStep` (WAD,
///      absolute); supply cap, debt ceiling, dust and liquidation cap by at most `relativeStep` of their current value
///      (WAD fraction, below 1: a zero value, i.e. a closed supply cap or an uncapped liquidation volume, can be
///      moved only by the timelock); the stability fee by at most `feeStep` (RAY per second, absolute).
///      Cooldown: `cooldown` seconds between two changes of the same parameter group for the same token.
interface IRiskSteward {
    /// @notice Bounds on the steward. Set by the timelock (DEFAULT_ADMIN_ROLE).
    /// @param riskStep largest change of LTV, liquidation threshold or liquidation bonus, WAD (absolute)
    /// @param relativeStep largest change of a cap, ceiling or dust as a fraction of its current value, WAD (< 1)
    /// @param feeStep largest change of the per-second stability fee, RAY (absolute)
    /// @param cooldown shortest time between two changes of the same parameter group and token, seconds
    struct Bounds {
        uint256 riskStep;
        uint256 relativeStep;
        uint256 feeStep;
        uint256 cooldown;
    }

    /// @notice A change is larger than the steward's bound for `parameter`.
    error StepTooLarge(bytes32 parameter, uint256 current, uint256 proposed, uint256 maxStep);
    /// @notice `parameter` of `token` changed less than `cooldown` ago; the next change is allowed at `readyAt`.
    error CooldownActive(bytes32 parameter, address token, uint256 readyAt);
    /// @notice Bounds beyond MAX_RISK_STEP, MAX_RELATIVE_STEP, MAX_FEE_STEP, or a cooldown below MIN_COOLDOWN.
    error InvalidBounds(uint256 riskStep, uint256 relativeStep, uint256 feeStep, uint256 cooldown);
    /// @notice An address argument is the zero address.
    error ZeroAddress();
    /// @notice A shift of `token`'s scenario shocks larger than riskStep in size.
    error ShockShiftTooLarge(address token, int256 shift, uint256 maxStep);
    /// @notice Portfolio margin has no grids yet: there is nothing to shift.
    error NoScenarioGrids();

    /// @notice The timelock set the bounds.
    event BoundsSet(uint256 riskStep, uint256 relativeStep, uint256 feeStep, uint256 cooldown);
    /// @notice The steward moved `parameter` of `token` (zero for a global parameter) from `oldValue` to `newValue`
    ///         (units of the parameter); the engine emits its own event too.
    event StewardUpdate(bytes32 indexed parameter, address indexed token, uint256 oldValue, uint256 newValue);
    /// @notice The steward shifted every scenario shock of `token`, in both grids, by `shift` (signed WAD); the
    ///         PortfolioMargin emits the new grids too.
    event ScenarioShocksShifted(address indexed token, int256 shift);

    /// @notice Move a collateral type's LTV, liquidation threshold and liquidation bonus (WAD), each by at most
    ///         riskStep. STEWARD_ROLE only; cooldown group "riskParameters".
    /// @param token a listed collateral
    /// @param ltv WAD
    /// @param liquidationThreshold WAD
    /// @param liquidationBonus WAD
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, and the VaultEngine's own
    ///      checks (UnknownCollateral, InvalidRiskParameters, RiskParametersConflict, ScenarioGridLooserThanHaircut).
    function setRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external;

    /// @notice Shift a collateral type's shock by `shift` in every scenario of both portfolio-margin grids, so that
    ///         its portfolio scenarios can follow its haircuts: a lower LT or LTV needs shocks at least as severe
    ///         first (ScenarioGridLooserThanHaircut). STEWARD_ROLE only; cooldown group "scenarioShocks".
    /// @param token a listed collateral
    /// @param shift signed WAD, whole basis points, |shift| <= riskStep (negative: more severe)
    /// @dev Shifting one column of both grids by the same amount keeps every maintenance scenario covered by an
    ///      initial one. The PortfolioMargin re-checks the grids as for the timelock. Reverts
    ///      AccessControlUnauthorizedAccount, CooldownActive, ShockShiftTooLarge, NoScenarioGrids, UnknownCollateral,
    ///      and the PortfolioMargin's checks (InvalidShock, ScenarioGridLooserThanHaircut).
    function shiftScenarioShocks(address token, int256 shift) external;

    /// @notice Move a collateral type's supply cap (token decimals) by at most relativeStep of its current value.
    ///         STEWARD_ROLE only; cooldown group "supplyCap".
    /// @param token a listed collateral
    /// @param supplyCap token decimals
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, UnknownCollateral,
    ///      InvalidSupplyCap.
    function setSupplyCap(address token, uint256 supplyCap) external;

    /// @notice Move the debt ceiling (WAD pUSD) by at most relativeStep. STEWARD_ROLE only; group "debtCeiling".
    /// @param debtCeiling WAD pUSD
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, InvalidDebtCeiling.
    function setDebtCeiling(uint256 debtCeiling) external;

    /// @notice Move the dust floor (WAD pUSD) by at most relativeStep. STEWARD_ROLE only; group "dust".
    /// @param dust WAD pUSD
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, InvalidDust.
    function setDust(uint256 dust) external;

    /// @notice Move the per-second stability fee (RAY) by at most feeStep. STEWARD_ROLE only; group "stabilityFee".
    /// @param fee per-second factor, RAY
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, InvalidStabilityFee.
    function setStabilityFee(uint256 fee) external;

    /// @notice Move a collateral type's liquidation volume cap (WAD USD per window) by at most relativeStep.
    ///         STEWARD_ROLE only; cooldown group "liquidationCap".
    /// @param token a collateral type
    /// @param cap WAD USD per cap window
    /// @dev Reverts AccessControlUnauthorizedAccount, CooldownActive, StepTooLarge, InvalidLiquidationCap.
    function setLiquidationCap(address token, uint256 cap) external;

    /// @notice Set the steward's bounds. DEFAULT_ADMIN_ROLE (the timelock) only.
    /// @param bounds the new bounds
    /// @dev Reverts AccessControlUnauthorizedAccount, InvalidBounds.
    function setBounds(Bounds calldata bounds) external;

    /// @notice The steward's bounds.
    function bounds() external view returns (Bounds memory);

    /// @notice When `parameter` of `token` (zero for a global parameter) last changed through the steward, seconds
    ///         (0: never).
    /// @param parameter the cooldown group: "riskParameters", "scenarioShocks", "supplyCap", "debtCeiling", "dust",
    ///        "stabilityFee", "liquidationCap"
    /// @param token the collateral type, or the zero address
    function lastUpdate(bytes32 parameter, address token) external view returns (uint256);
}
