// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SignedMath} from "@openzeppelin/contracts/utils/math/SignedMath.sol";

import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IRiskSteward} from "@plimsoll/interfaces/IRiskSteward.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title RiskSteward
/// @notice Bounded, rate-limited risk-parameter changes without a timelock delay (Aave's risk stewards): see
///         IRiskSteward for the rules and docs/governance.md for the roles.
contract RiskSteward is IRiskSteward, AccessControl {
    using FixedPoint for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    /// @notice Role allowed to make bounded changes.
    bytes32 public constant STEWARD_ROLE = keccak256("STEWARD_ROLE");
    /// @notice Largest riskStep the timelock may grant, WAD (10 percentage points).
    uint256 public constant MAX_RISK_STEP = 0.1e18;
    /// @notice Largest relativeStep the timelock may grant, WAD (half the current value).
    uint256 public constant MAX_RELATIVE_STEP = 0.5e18;
    /// @notice Largest feeStep the timelock may grant, RAY per second (about 10 % a year).
    uint256 public constant MAX_FEE_STEP = 3_022_265_981e9;
    /// @notice Shortest cooldown the timelock may set, seconds.
    uint256 public constant MIN_COOLDOWN = 1 hours;

    bytes32 internal constant RISK_PARAMETERS = "riskParameters";
    bytes32 internal constant SCENARIO_SHOCKS = "scenarioShocks";
    bytes32 internal constant SUPPLY_CAP = "supplyCap";
    bytes32 internal constant DEBT_CEILING = "debtCeiling";
    bytes32 internal constant DUST = "dust";
    bytes32 internal constant STABILITY_FEE = "stabilityFee";
    bytes32 internal constant LIQUIDATION_CAP = "liquidationCap";

    /// @notice The accounting core whose RISK_ADMIN_ROLE this contract holds.
    IVaultEngine public immutable vaultEngine;
    /// @notice The liquidation engine (its parameters obey the VaultEngine's roles).
    ILiquidationEngine public immutable liquidationEngine;

    Bounds internal _bounds;
    /// @inheritdoc IRiskSteward
    mapping(bytes32 parameter => mapping(address token => uint256)) public lastUpdate;

    /// @param vaultEngine_ the VaultEngine (it must grant this contract RISK_ADMIN_ROLE)
    /// @param liquidationEngine_ the LiquidationEngine
    /// @param admin DEFAULT_ADMIN_ROLE here: the timelock (sets the bounds, grants and revokes STEWARD_ROLE)
    /// @param steward the first holder of STEWARD_ROLE (the zero address: none yet)
    /// @param bounds_ initial bounds
    /// @dev Reverts ZeroAddress, InvalidBounds.
    constructor(
        IVaultEngine vaultEngine_,
        ILiquidationEngine liquidationEngine_,
        address admin,
        address steward,
        Bounds memory bounds_
    ) {
        if (address(vaultEngine_) == address(0) || address(liquidationEngine_) == address(0) || admin == address(0)) {
            revert ZeroAddress();
        }
        vaultEngine = vaultEngine_;
        liquidationEngine = liquidationEngine_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (steward != address(0)) _grantRole(STEWARD_ROLE, steward);
        _setBounds(bounds_);
    }

    /// @inheritdoc IRiskSteward
    function setRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external
        onlyRole(STEWARD_ROLE)
    {
        _cooldown(RISK_PARAMETERS, token);
        IVaultEngine.CollateralType memory c = vaultEngine.collateralType(token);
        uint256 step = _bounds.riskStep;
        _requireStep("ltv", token, c.ltv, ltv, step);
        _requireStep("liquidationThreshold", token, c.liquidationThreshold, liquidationThreshold, step);
        _requireStep("liquidationBonus", token, c.liquidationBonus, liquidationBonus, step);
        vaultEngine.setRiskParameters(token, ltv, liquidationThreshold, liquidationBonus);
    }

    /// @inheritdoc IRiskSteward
    function shiftScenarioShocks(address token, int256 shift) external onlyRole(STEWARD_ROLE) {
        _cooldown(SCENARIO_SHOCKS, token);
        uint256 maxStep = _bounds.riskStep;
        if (SignedMath.abs(shift) > maxStep) revert ShockShiftTooLarge(token, shift, maxStep);
        IPortfolioMargin portfolio = vaultEngine.portfolio();
        (int256[][] memory initial, int256[][] memory maintenance) = portfolio.scenarioGrids();
        if (maintenance.length == 0) revert NoScenarioGrids();
        uint256 j = _column(token);
        for (uint256 s; s < initial.length; ++s) {
            initial[s][j] += shift;
        }
        for (uint256 s; s < maintenance.length; ++s) {
            maintenance[s][j] += shift;
        }
        emit ScenarioShocksShifted(token, shift);
        portfolio.setScenarioGrids(initial, maintenance);
    }

    /// @inheritdoc IRiskSteward
    function setSupplyCap(address token, uint256 supplyCap) external onlyRole(STEWARD_ROLE) {
        _cooldown(SUPPLY_CAP, token);
        _requireRelativeStep(SUPPLY_CAP, token, vaultEngine.collateralType(token).supplyCap, supplyCap);
        vaultEngine.setSupplyCap(token, supplyCap);
    }

    /// @inheritdoc IRiskSteward
    function setDebtCeiling(uint256 debtCeiling) external onlyRole(STEWARD_ROLE) {
        _cooldown(DEBT_CEILING, address(0));
        _requireRelativeStep(DEBT_CEILING, address(0), vaultEngine.debtCeiling(), debtCeiling);
        vaultEngine.setDebtCeiling(debtCeiling);
    }

    /// @inheritdoc IRiskSteward
    function setDust(uint256 dust) external onlyRole(STEWARD_ROLE) {
        _cooldown(DUST, address(0));
        _requireRelativeStep(DUST, address(0), vaultEngine.dust(), dust);
        vaultEngine.setDust(dust);
    }

    /// @inheritdoc IRiskSteward
    function setStabilityFee(uint256 fee) external onlyRole(STEWARD_ROLE) {
        _cooldown(STABILITY_FEE, address(0));
        _requireStep(STABILITY_FEE, address(0), vaultEngine.stabilityFee(), fee, _bounds.feeStep);
        vaultEngine.setStabilityFee(fee);
    }

    /// @inheritdoc IRiskSteward
    function setLiquidationCap(address token, uint256 cap) external onlyRole(STEWARD_ROLE) {
        _cooldown(LIQUIDATION_CAP, token);
        _requireRelativeStep(LIQUIDATION_CAP, token, liquidationEngine.liquidationCap(token), cap);
        liquidationEngine.setLiquidationCap(token, cap);
    }

    /// @inheritdoc IRiskSteward
    function setBounds(Bounds calldata bounds_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setBounds(bounds_);
    }

    /// @inheritdoc IRiskSteward
    function bounds() external view returns (Bounds memory) {
        return _bounds;
    }

    // ================================================================== internals

    function _setBounds(Bounds memory b) internal {
        if (
            b.riskStep > MAX_RISK_STEP || b.relativeStep > MAX_RELATIVE_STEP || b.feeStep > MAX_FEE_STEP
                || b.cooldown < MIN_COOLDOWN
        ) revert InvalidBounds(b.riskStep, b.relativeStep, b.feeStep, b.cooldown);
        _bounds = b;
        emit BoundsSet(b.riskStep, b.relativeStep, b.feeStep, b.cooldown);
    }

    /// @dev `token`'s column in the grids: its index in the engine's listing order.
    function _column(address token) internal view returns (uint256) {
        address[] memory tokens = vaultEngine.collateralTokens();
        for (uint256 j; j < tokens.length; ++j) {
            if (tokens[j] == token) return j;
        }
        revert IVaultEngine.UnknownCollateral(token);
    }

    /// @dev One change per group and token per cooldown; the first change is never held back.
    function _cooldown(bytes32 group, address token) internal {
        uint256 last = lastUpdate[group][token];
        if (last != 0 && block.timestamp < last + _bounds.cooldown) {
            revert CooldownActive(group, token, last + _bounds.cooldown);
        }
        lastUpdate[group][token] = block.timestamp;
    }

    /// @dev |proposed − current| <= maxStep.
    function _requireStep(bytes32 parameter, address token, uint256 current, uint256 proposed, uint256 maxStep)
        internal
    {
        uint256 delta = proposed > current ? proposed - current : current - proposed;
        if (delta > maxStep) revert StepTooLarge(parameter, current, proposed, maxStep);
        if (delta != 0) emit StewardUpdate(parameter, token, current, proposed);
    }

    /// @dev |proposed − current| <= current·relativeStep, rounded down: a zero value never moves this way.
    function _requireRelativeStep(bytes32 parameter, address token, uint256 current, uint256 proposed) internal {
        _requireStep(parameter, token, current, proposed, current.mulDivDown(_bounds.relativeStep, WAD));
    }
}
