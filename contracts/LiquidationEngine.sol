// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title LiquidationEngine
/// @notice Decides how much of an unsafe vault's debt a liquidator repays and how much collateral they take;
///         the VaultEngine settles it (`seize`). Holds no funds.
/// @dev See ILiquidationEngine for the formula. Every priced collateral of the vault is seized in the same fraction
///      f = r·LB/V, so the vault's liquidation threshold mix is unchanged and health moves by r alone. `_plan` is
///      the one calculation behind both `previewLiquidation` and the liquidations.
///      No one can block a liquidation: there is no caller rule (the owner may liquidate too: a second address
///      would do the same), a failing oracle or token only takes its own collateral out of the calculation, and a
///      batch skips what it cannot do instead of reverting.
contract LiquidationEngine is ILiquidationEngine, Ownable2Step, ReentrancyGuardTransient {
    using Math for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    /// @notice Largest target health accepted, WAD.
    uint256 public constant MAX_TARGET_HEALTH = 2 * WAD;
    /// @notice Largest protocol share of the bonus, WAD: the liquidator always keeps at least half of it, so no
    ///         parameter can remove the incentive to liquidate.
    uint256 public constant MAX_PROTOCOL_SHARE = WAD / 2;

    /// @dev pUSD, for the batch's balance check.
    IERC20 internal immutable PUSD;

    /// @inheritdoc ILiquidationEngine
    IVaultEngine public immutable engine;
    /// @inheritdoc ILiquidationEngine
    uint256 public targetHealth;
    /// @inheritdoc ILiquidationEngine
    uint256 public fullLiquidationHealth;
    /// @inheritdoc ILiquidationEngine
    uint256 public protocolShare;

    /// @param engine_ the accounting core; it must name this contract its liquidation engine
    /// @param owner_ administrator; the three parameters are WAD (see setLiquidationParameters)
    constructor(
        IVaultEngine engine_,
        address owner_,
        uint256 targetHealth_,
        uint256 fullLiquidationHealth_,
        uint256 protocolShare_
    ) Ownable(owner_) {
        engine = engine_;
        PUSD = IERC20(address(engine_.pusd()));
        _setParameters(targetHealth_, fullLiquidationHealth_, protocolShare_);
    }

    /// @inheritdoc ILiquidationEngine
    function setLiquidationParameters(uint256 targetHealth_, uint256 fullLiquidationHealth_, uint256 protocolShare_)
        external
        onlyOwner
    {
        _setParameters(targetHealth_, fullLiquidationHealth_, protocolShare_);
    }

    /// @inheritdoc ILiquidationEngine
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory plan) {
        (plan,) = _calculate(vaultId);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidate(uint256 vaultId) external nonReentrant returns (Plan memory plan) {
        uint256 unpricedMask;
        (plan, unpricedMask) = _calculate(vaultId);
        _settle(vaultId, plan, unpricedMask);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidateBatch(uint256[] calldata vaultIds) external nonReentrant returns (uint256 liquidated, uint256 repaid) {
        uint256 balance = PUSD.balanceOf(msg.sender);
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 vaultId = vaultIds[i];
            IVaultEngine.Valuation memory v = engine.valuation(vaultId);
            if (!_liquidatable(v)) continue;
            Plan memory plan = _plan(v);
            uint256 cost = plan.repay + plan.protocolFee;
            if (cost > balance) continue; // the caller's pUSD ran out: leave this one to someone else
            balance -= cost;
            _settle(vaultId, plan, v.unpricedMask);
            ++liquidated;
            repaid += plan.repay;
        }
    }

    /// @dev The valuation and plan of one vault, or the revert that says why it cannot be liquidated.
    function _calculate(uint256 vaultId) internal view returns (Plan memory, uint256 unpricedMask) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (!_liquidatable(v)) {
            if (v.debt != 0 && v.maintenance < v.debt) revert NoPricedCollateral(vaultId);
            revert NotLiquidatable(vaultId, _health(v));
        }
        return (_plan(v), v.unpricedMask);
    }

    function _setParameters(uint256 target, uint256 full, uint256 share) internal {
        if (target <= WAD || target > MAX_TARGET_HEALTH || full > WAD || share > MAX_PROTOCOL_SHARE) {
            revert InvalidLiquidationParameters(target, full, share);
        }
        targetHealth = target;
        fullLiquidationHealth = full;
        protocolShare = share;
        emit LiquidationParametersSet(target, full, share);
    }

    function _settle(uint256 vaultId, Plan memory plan, uint256 unpricedMask) internal {
        // Report what the engine actually applied (it caps the repay at the debt).
        plan.repay = engine.seize(vaultId, msg.sender, msg.sender, plan.repay, plan.protocolFee, plan.fraction, unpricedMask);
        emit Liquidate(vaultId, msg.sender, plan.repay, plan.protocolFee, plan.fraction, plan.healthFactor, plan.full);
    }

    /// @dev HF < 1 ⇔ maintenance < debt (HF = floor(maintenance·WAD/debt)), and something can be seized: priced
    ///      collateral, or no collateral at all (then the debt is written off). A vault whose every collateral is
    ///      unpriced waits for a price.
    function _liquidatable(IVaultEngine.Valuation memory v) internal pure returns (bool) {
        return v.debt != 0 && v.maintenance < v.debt && (v.collateralValue != 0 || v.unpricedMask == 0);
    }

    function _health(IVaultEngine.Valuation memory v) internal pure returns (uint256) {
        return v.debt == 0 ? type(uint256).max : v.maintenance.mulDiv(WAD, v.debt);
    }

    /// @dev The plan for a liquidatable valuation. Rounding: repay up, seized fraction down, protocol fee up.
    function _plan(IVaultEngine.Valuation memory v) internal view returns (Plan memory p) {
        p.healthFactor = _health(v);
        uint256 value = v.collateralValue;
        if (value == 0) {
            // Nothing of value to seize: take what is left and write the debt off.
            p.fraction = WAD;
            p.full = true;
            return p;
        }
        uint256 d = v.debt;
        uint256 r = d;
        // k = LB·LT of the vault = (bonusValue/value)·(maintenance/value), WAD.
        uint256 k = v.bonusValue.mulDiv(v.maintenance, value).mulDiv(WAD, value);
        uint256 target = targetHealth;
        if (p.healthFactor >= fullLiquidationHealth && k < target) {
            // r* = (T·D − M) / (T − LB·LT); T·D > D > M here.
            r = (target.mulDiv(d, WAD, Math.Rounding.Ceil) - v.maintenance).mulDiv(WAD, target - k, Math.Rounding.Ceil);
            if (r >= d || d - r < engine.dust()) r = d;
        }
        uint256 seizeValue = r.mulDiv(v.bonusValue, value);
        if (seizeValue >= value) {
            // The collateral cannot pay the full bonus on r: take all of it. While it covers the debt, the whole
            // debt is repaid and the bonus shrinks to value/debt, so a solvent vault never books bad debt
            // (DESIGN invariant 7). Underwater, the liquidator repays what the collateral covers at the bonus and
            // the engine writes off the rest.
            seizeValue = value;
            r = value >= d ? d : Math.min(r, value.mulDiv(value, v.bonusValue));
            p.fraction = WAD;
        } else {
            p.fraction = seizeValue.mulDiv(WAD, value);
        }
        p.repay = r;
        p.full = r == d || p.fraction == WAD;
        p.protocolFee = (seizeValue - r).mulDiv(protocolShare, WAD, Math.Rounding.Ceil);
    }
}
