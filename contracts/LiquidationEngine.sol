// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title LiquidationEngine
/// @notice Decides how much of an unsafe vault's debt a liquidator repays and how much collateral they take;
///         the VaultEngine settles it (`seize`). Holds no funds.
/// @dev See ILiquidationEngine for the formula. Every collateral of the vault is seized in the same fraction
///      f = r·LB/V, so the vault's liquidation threshold mix is unchanged and health moves by r alone.
contract LiquidationEngine is ILiquidationEngine, Ownable2Step, ReentrancyGuardTransient {
    using Math for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    /// @notice Largest target health accepted, WAD.
    uint256 public constant MAX_TARGET_HEALTH = 2 * WAD;

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
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (!_liquidatable(v)) revert NotLiquidatable(vaultId, _health(v));
        return _plan(v);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidate(uint256 vaultId) external nonReentrant returns (Plan memory plan) {
        if (engine.isAuthorized(vaultId, msg.sender)) revert SelfLiquidation(vaultId, msg.sender);
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (!_liquidatable(v)) revert NotLiquidatable(vaultId, _health(v));
        plan = _plan(v);
        _settle(vaultId, plan);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidateBatch(uint256[] calldata vaultIds) external nonReentrant returns (uint256 liquidated, uint256 repaid) {
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 vaultId = vaultIds[i];
            if (engine.isAuthorized(vaultId, msg.sender)) continue;
            IVaultEngine.Valuation memory v = engine.valuation(vaultId);
            if (!_liquidatable(v)) continue;
            Plan memory plan = _plan(v);
            _settle(vaultId, plan);
            ++liquidated;
            repaid += plan.repay;
        }
    }

    function _setParameters(uint256 target, uint256 full, uint256 share) internal {
        if (target <= WAD || target > MAX_TARGET_HEALTH || full > WAD || share > WAD) {
            revert InvalidLiquidationParameters(target, full, share);
        }
        targetHealth = target;
        fullLiquidationHealth = full;
        protocolShare = share;
        emit LiquidationParametersSet(target, full, share);
    }

    function _settle(uint256 vaultId, Plan memory plan) internal {
        engine.seize(vaultId, msg.sender, msg.sender, plan.repay, plan.protocolFee, plan.fraction);
        emit Liquidate(vaultId, msg.sender, plan.repay, plan.protocolFee, plan.fraction, plan.healthFactor, plan.full);
    }

    /// @dev HF < 1 ⇔ maintenance < debt (HF = floor(maintenance·WAD/debt)).
    function _liquidatable(IVaultEngine.Valuation memory v) internal pure returns (bool) {
        return v.debt != 0 && v.maintenance < v.debt;
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
            // The collateral cannot pay the bonus on r: take all of it for the repay it covers at the bonus;
            // the engine writes off what debt is left.
            seizeValue = value;
            r = Math.min(r, value.mulDiv(value, v.bonusValue));
            p.fraction = WAD;
        } else {
            p.fraction = seizeValue.mulDiv(WAD, value);
        }
        p.repay = r;
        p.full = r == d || p.fraction == WAD;
        p.protocolFee = (seizeValue - r).mulDiv(protocolShare, WAD, Math.Rounding.Ceil);
    }
}
