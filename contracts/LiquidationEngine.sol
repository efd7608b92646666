// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title LiquidationEngine
/// @notice Decides how much of an unsafe vault's debt a liquidator repays and how much collateral they take;
///         the VaultEngine settles it (`seize`). Holds no funds.
/// @dev See ILiquidationEngine and docs/math.md for the formulas. Every priced collateral of the vault is seized in
///      the same fraction f = r·LB/V, so the vault's margin mix is unchanged and health moves by r alone (in
///      standard and in portfolio margin alike). `_calculate` is the one calculation behind both
///      `previewLiquidation` and the liquidations.
///      No one can block a liquidation: there is no caller rule (the owner may liquidate too: a second address
///      would do the same), a failing oracle or token only takes its own collateral out of the calculation, a
///      batch skips what it cannot do instead of reverting, and the volume cap never holds back a full liquidation.
///      Roles live in the VaultEngine, the one role registry (docs/governance.md): its RISK_ADMIN_ROLE (the timelock
///      and the RiskSteward) sets every parameter here. Nothing here can be paused.
contract LiquidationEngine is ILiquidationEngine, ReentrancyGuardTransient {
    using FixedPoint for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    /// @notice Largest target health accepted, WAD.
    uint256 public constant MAX_TARGET_HEALTH = 2 * WAD;
    /// @notice Largest protocol share of the bonus, WAD: the liquidator always keeps at least half of it, so no
    ///         parameter can remove the incentive to liquidate.
    uint256 public constant MAX_PROTOCOL_SHARE = WAD / 2;
    /// @notice Smallest bonus floor, WAD (the VaultEngine's MIN_LIQUIDATION_BONUS): a liquidation always pays at
    ///         least 1 % over the debt repaid, or the collateral types' own bonus when that is lower.
    uint256 public constant MIN_BONUS_FLOOR = 1.01e18;
    /// @notice Largest bonus floor, WAD (the VaultEngine's MAX_LIQUIDATION_BONUS): at this value the bonus no longer
    ///         grows with depth, every liquidation pays the collateral types' full bonus.
    uint256 public constant MAX_BONUS_FLOOR = 2 * WAD;
    /// @notice Shortest and longest volume-cap window, seconds.
    uint256 public constant MIN_CAP_WINDOW = 10 minutes;
    /// @notice Longest volume-cap window, seconds: a used-up cap always refills within a day.
    uint256 public constant MAX_CAP_WINDOW = 1 days;
    /// @notice Smallest non-zero volume cap, WAD USD per window: a cap can slow partial liquidations, not stop them.
    uint256 public constant MIN_LIQUIDATION_CAP = 100_000e18;
    /// @notice Longest margin-call grace period, seconds.
    uint256 public constant MAX_GRACE_PERIOD = 3 days;
    /// @notice Lowest hard floor, WAD: below it a vault in a margin call is liquidated at once, so a grace window
    ///         never lets a vault sink far below HF 1.
    uint256 public constant MIN_HARD_FLOOR = 0.9e18;
    /// @notice Largest margin-call premium, per-second RAY factor (100 % a year, as the VaultEngine's stability fee).
    uint256 public constant MAX_PREMIUM = 1_000_000_021_979_553_151_239_153_027;
    /// @inheritdoc ILiquidationEngine
    bytes32 public constant RISK_ADMIN_ROLE = keccak256("RISK_ADMIN_ROLE");

    /// @dev pUSD, for the batch's balance check.
    IERC20 internal immutable PUSD;

    /// @inheritdoc ILiquidationEngine
    IVaultEngine public immutable engine;
    /// @dev The parameters every liquidation reads, in two slots instead of six (WAD values are at most 2e18 < 2^64,
    ///      the window at most a day): about 8,400 gas less per liquidation.
    struct Parameters {
        uint64 targetHealth;
        uint64 fullLiquidationHealth;
        uint64 protocolShare;
        uint64 bonusFloor;
    }

    struct CurveAndWindow {
        uint64 maxBonusHealth;
        uint64 capWindow;
    }

    Parameters internal _params;
    CurveAndWindow internal _curve;

    /// @dev Per collateral type, the one slot every liquidation reads: the volume cap (WAD USD per window, 0 = none),
    ///      the value counted against it (WAD USD, never above the cap), when it was last counted (seconds), and the
    ///      margin-call grace period (seconds, 0 = no margin calls; at most MAX_GRACE_PERIOD < 2^24). The used part
    ///      leaks away linearly, the whole cap per window (a token bucket: the rolling-window rule of MakerDAO's
    ///      Hole, without auctions to end).
    struct CollateralRules {
        uint96 cap;
        uint96 used;
        uint40 updatedAt;
        uint24 gracePeriod;
    }

    /// @dev The rest of a collateral type's margin-call terms, read only when it offers margin calls.
    struct FloorAndPremium {
        uint64 hardFloor;
        uint128 premium;
    }

    /// @dev `plan`'s dust argument when the dust has not been read yet (the dust is at most 1e30).
    uint256 internal constant DUST_UNREAD = type(uint256).max;

    mapping(address token => CollateralRules) internal _rules;
    mapping(address token => FloorAndPremium) internal _floorAndPremium;
    mapping(uint256 vaultId => MarginCallState) internal _marginCalls;

    /// @param engine_ the accounting core; it must name this contract its liquidation engine
    /// @param params initial parameters (see setLiquidationParameters and setBonusCurve)
    /// @dev Reverts ZeroAddress, and as the setters for invalid parameters.
    constructor(IVaultEngine engine_, InitialParameters memory params) {
        if (address(engine_) == address(0)) revert ZeroAddress();
        engine = engine_;
        PUSD = IERC20(address(engine_.pusd()));
        _setParameters(params.targetHealth, params.fullLiquidationHealth, params.protocolShare);
        _setBonusCurve(params.bonusFloor, params.maxBonusHealth);
        _setCapWindow(params.capWindow);
    }

    /// @dev RISK_ADMIN_ROLE in the VaultEngine's role registry.
    modifier onlyRiskAdmin() {
        if (!IAccessControl(address(engine)).hasRole(RISK_ADMIN_ROLE, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, RISK_ADMIN_ROLE);
        }
        _;
    }

    // ================================================================== admin

    /// @inheritdoc ILiquidationEngine
    function setLiquidationParameters(uint256 targetHealth_, uint256 fullLiquidationHealth_, uint256 protocolShare_)
        external
        onlyRiskAdmin
    {
        _setParameters(targetHealth_, fullLiquidationHealth_, protocolShare_);
    }

    /// @inheritdoc ILiquidationEngine
    function setBonusCurve(uint256 bonusFloor_, uint256 maxBonusHealth_) external onlyRiskAdmin {
        _setBonusCurve(bonusFloor_, maxBonusHealth_);
    }

    /// @inheritdoc ILiquidationEngine
    function setCapWindow(uint256 window) external onlyRiskAdmin {
        _setCapWindow(window);
    }

    /// @inheritdoc ILiquidationEngine
    function setLiquidationCap(address token, uint256 cap) external onlyRiskAdmin {
        if (cap != 0 && (cap < MIN_LIQUIDATION_CAP || cap > type(uint96).max)) revert InvalidLiquidationCap(token, cap);
        CollateralRules storage rules = _rules[token];
        rules.used = uint96(Math.min(_used(rules), cap));
        rules.updatedAt = uint40(block.timestamp);
        rules.cap = uint96(cap);
        emit LiquidationCapSet(token, cap);
    }

    /// @inheritdoc ILiquidationEngine
    function setMarginCallTerms(address token, uint256 gracePeriod, uint256 hardFloor, uint256 premium)
        external
        onlyRiskAdmin
    {
        bool off = gracePeriod == 0 && hardFloor == 0 && premium == 0;
        bool valid = gracePeriod != 0 && gracePeriod <= MAX_GRACE_PERIOD && hardFloor >= MIN_HARD_FLOOR
            && hardFloor < WAD && premium >= FixedPoint.RAY && premium <= MAX_PREMIUM;
        if (!off && !valid) revert InvalidMarginCallTerms(token, gracePeriod, hardFloor, premium);
        _rules[token].gracePeriod = uint24(gracePeriod);
        _floorAndPremium[token] = FloorAndPremium(uint64(hardFloor), uint128(premium));
        emit MarginCallTermsSet(token, gracePeriod, hardFloor, premium);
    }

    // ================================================================== margin calls

    /// @inheritdoc ILiquidationEngine
    function marginCall(uint256 vaultId) external nonReentrant returns (uint256 deadline) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (v.inMarginCall) revert AlreadyInMarginCall(vaultId, _marginCalls[vaultId].deadline);
        uint256 hf = _health(v);
        if (!_liquidatable(v)) revert NotLiquidatable(vaultId, hf);
        MarginCallTerms memory terms = _vaultTerms(v.tokens);
        if (terms.gracePeriod == 0) revert MarginCallNotOffered(vaultId);
        if (hf < terms.hardFloor) revert BelowHardFloor(vaultId, hf, terms.hardFloor);
        return _openMarginCall(vaultId, hf, terms);
    }

    /// @inheritdoc ILiquidationEngine
    function marginCallBatch(uint256[] calldata vaultIds) external nonReentrant returns (uint256 called) {
        // Written once, the rate costs each valuation a read instead of a power.
        if (vaultIds.length > 1) engine.drip();
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 vaultId = vaultIds[i];
            IVaultEngine.Valuation memory v = engine.valuation(vaultId);
            // The same rule as marginCall, skipping instead of reverting: a rival's call, a cure or a price move
            // since the caller decided must not undo the rest. A vault listed twice is in its call the second time.
            if (v.inMarginCall || !_liquidatable(v)) continue;
            uint256 hf = _health(v);
            MarginCallTerms memory terms = _vaultTerms(v.tokens);
            if (terms.gracePeriod == 0 || hf < terms.hardFloor) continue;
            _openMarginCall(vaultId, hf, terms);
            ++called;
        }
    }

    /// @dev Open vault `vaultId`'s margin call at health factor `hf` (WAD) on `terms`; returns the deadline, seconds.
    function _openMarginCall(uint256 vaultId, uint256 hf, MarginCallTerms memory terms)
        internal
        returns (uint256 deadline)
    {
        deadline = block.timestamp + terms.gracePeriod;
        _marginCalls[vaultId] = MarginCallState(
            uint40(deadline), uint40(block.timestamp), terms.hardFloor, uint112(terms.premium)
        );
        emit MarginCall(vaultId, deadline, terms.hardFloor, terms.premium, hf);
        engine.setMarginCall(vaultId, true);
    }

    /// @inheritdoc ILiquidationEngine
    function cure(uint256 vaultId) external nonReentrant {
        MarginCallState memory call = _marginCalls[vaultId];
        if (call.deadline == 0) revert NotInMarginCall(vaultId);
        uint256 premium = _chargePremium(vaultId, call, engine.debt(vaultId));
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (v.debt > v.borrowPower) revert MarginCallNotCured(vaultId, v.debt, v.borrowPower);
        delete _marginCalls[vaultId];
        emit MarginCallCured(vaultId, premium);
        engine.setMarginCall(vaultId, false);
    }

    // ================================================================== liquidation

    /// @inheritdoc ILiquidationEngine
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory plan) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        MarginCallState memory call;
        if (v.inMarginCall) {
            call = _marginCalls[vaultId];
            v.debt += _pendingPremium(v.debt, call); // what `liquidate` books first
        }
        plan = _calculate(vaultId, v, call, DUST_UNREAD);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidate(uint256 vaultId) external nonReentrant returns (Plan memory plan) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        MarginCallState memory call = _bookPremium(vaultId, v);
        plan = _calculate(vaultId, v, call, DUST_UNREAD);
        _record(vaultId, plan, v, call.deadline != 0);
        IVaultEngine.Seizure[] memory seizures = new IVaultEngine.Seizure[](1);
        seizures[0] = IVaultEngine.Seizure(vaultId, plan.repay, plan.protocolFee, plan.fraction, v.unpricedMask);
        engine.seizeBatch(seizures, msg.sender, "");
    }

    /// @inheritdoc ILiquidationEngine
    function liquidateBatch(uint256[] calldata vaultIds) external nonReentrant returns (uint256 liquidated, uint256 repaid) {
        return _liquidateBatch(vaultIds, PUSD.balanceOf(msg.sender), "");
    }

    /// @inheritdoc ILiquidationEngine
    function flashLiquidate(uint256[] calldata vaultIds, bytes calldata data)
        external
        nonReentrant
        returns (uint256 liquidated, uint256 repaid)
    {
        if (data.length == 0) revert EmptyCallbackData();
        // The caller pays from what it sells in its callback: its balance now does not limit the batch.
        return _liquidateBatch(vaultIds, type(uint256).max, data);
    }

    // ================================================================== views

    /// @inheritdoc ILiquidationEngine
    function targetHealth() external view returns (uint256) {
        return _params.targetHealth;
    }

    /// @inheritdoc ILiquidationEngine
    function fullLiquidationHealth() external view returns (uint256) {
        return _params.fullLiquidationHealth;
    }

    /// @inheritdoc ILiquidationEngine
    function protocolShare() external view returns (uint256) {
        return _params.protocolShare;
    }

    /// @inheritdoc ILiquidationEngine
    function bonusFloor() external view returns (uint256) {
        return _params.bonusFloor;
    }

    /// @inheritdoc ILiquidationEngine
    function maxBonusHealth() external view returns (uint256) {
        return _curve.maxBonusHealth;
    }

    /// @inheritdoc ILiquidationEngine
    function capWindow() external view returns (uint256) {
        return _curve.capWindow;
    }

    /// @inheritdoc ILiquidationEngine
    function liquidationRoom(address token) external view returns (uint256) {
        CollateralRules storage rules = _rules[token];
        return rules.cap == 0 ? type(uint256).max : rules.cap - _used(rules);
    }

    /// @inheritdoc ILiquidationEngine
    function liquidationCap(address token) external view returns (uint256) {
        return _rules[token].cap;
    }

    /// @inheritdoc ILiquidationEngine
    function effectiveBonus(uint256 bonus, uint256 healthFactor) public view returns (uint256) {
        return _effectiveBonus(bonus, healthFactor);
    }

    /// @inheritdoc ILiquidationEngine
    function marginCallTerms(address token) external view returns (MarginCallTerms memory) {
        FloorAndPremium memory f = _floorAndPremium[token];
        return MarginCallTerms(_rules[token].gracePeriod, f.hardFloor, f.premium);
    }

    /// @inheritdoc ILiquidationEngine
    function marginCallOf(uint256 vaultId) external view returns (MarginCallState memory) {
        return _marginCalls[vaultId];
    }

    /// @inheritdoc ILiquidationEngine
    function pendingPremium(uint256 vaultId) external view returns (uint256) {
        MarginCallState memory call = _marginCalls[vaultId];
        return call.deadline == 0 ? 0 : _pendingPremium(engine.debt(vaultId), call);
    }

    // ================================================================== internals

    /// @dev The batch behind liquidateBatch and flashLiquidate: every listed vault liquidatable now whose cost fits in
    ///      `balance` (WAD pUSD) is liquidated, the others skipped; `data` goes to the settlement's callback.
    function _liquidateBatch(uint256[] calldata vaultIds, uint256 balance, bytes memory data)
        internal
        returns (uint256 liquidated, uint256 repaid)
    {
        uint256 dust = engine.dust();
        // Written once, the rate costs each of the vaults' valuations and seizures a read instead of a power.
        if (vaultIds.length > 1) engine.drip();
        IVaultEngine.Seizure[] memory seizures = new IVaultEngine.Seizure[](vaultIds.length);
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 vaultId = vaultIds[i];
            // Settlement waits for the end of the loop: a vault listed twice would be valued again as if untouched.
            if (i != 0 && vaultId <= vaultIds[i - 1]) revert BatchNotAscending(i);
            IVaultEngine.Valuation memory v = engine.valuation(vaultId);
            MarginCallState memory call = _bookPremium(vaultId, v);
            uint256 hf = _health(v);
            if (!_liquidatable(v) || _inGrace(call, hf) || _callRequired(call, v.tokens, hf)) continue;
            (Plan memory plan,) = _plan(v, dust);
            if (plan.repay == 0 && !plan.full) continue; // the volume cap is used up for one of its collaterals
            uint256 cost = plan.repay + plan.protocolFee;
            if (cost > balance) continue; // the caller's pUSD ran out: leave this one to someone else
            balance -= cost;
            _record(vaultId, plan, v, call.deadline != 0);
            seizures[liquidated++] =
                IVaultEngine.Seizure(vaultId, plan.repay, plan.protocolFee, plan.fraction, v.unpricedMask);
        }
        if (liquidated == 0) return (0, 0);
        assembly ("memory-safe") {
            mstore(seizures, liquidated) // shorten to the vaults liquidated
        }
        repaid = engine.seizeBatch(seizures, msg.sender, data);
    }

    /// @dev The plan for one vault's valuation `v` and margin-call state `call`, or the revert that says why it cannot
    ///      be liquidated now. `dust` as in `_plan`.
    function _calculate(uint256 vaultId, IVaultEngine.Valuation memory v, MarginCallState memory call, uint256 dust)
        internal
        view
        returns (Plan memory plan)
    {
        if (!_liquidatable(v)) {
            if (v.debt != 0 && v.maintenance < v.debt) revert NoPricedCollateral(vaultId);
            revert NotLiquidatable(vaultId, _health(v));
        }
        uint256 hf = _health(v);
        if (_inGrace(call, hf)) revert MarginCallGracePeriod(vaultId, call.deadline);
        if (_callRequired(call, v.tokens, hf)) revert MarginCallRequired(vaultId);
        address cappedBy;
        (plan, cappedBy) = _plan(v, dust);
        if (plan.repay == 0 && !plan.full) revert LiquidationCapReached(cappedBy);
    }

    function _setParameters(uint256 target, uint256 full, uint256 share) internal {
        if (target <= WAD || target > MAX_TARGET_HEALTH || full > WAD || share > MAX_PROTOCOL_SHARE) {
            revert InvalidLiquidationParameters(target, full, share);
        }
        (_params.targetHealth, _params.fullLiquidationHealth, _params.protocolShare) =
            (uint64(target), uint64(full), uint64(share));
        emit LiquidationParametersSet(target, full, share);
    }

    function _setBonusCurve(uint256 floor_, uint256 maxBonusHealth_) internal {
        if (floor_ < MIN_BONUS_FLOOR || floor_ > MAX_BONUS_FLOOR || maxBonusHealth_ >= WAD) {
            revert InvalidBonusCurve(floor_, maxBonusHealth_);
        }
        _params.bonusFloor = uint64(floor_);
        _curve.maxBonusHealth = uint64(maxBonusHealth_);
        emit BonusCurveSet(floor_, maxBonusHealth_);
    }

    function _setCapWindow(uint256 window) internal {
        if (window < MIN_CAP_WINDOW || window > MAX_CAP_WINDOW) revert InvalidCapWindow(window);
        _curve.capWindow = uint64(window);
        emit CapWindowSet(window);
    }

    /// @dev Count the seized value against each collateral's cap, end any margin call (the engine clears its flag when
    ///      it seizes) and emit Liquidate: the effects of a liquidation on this contract. A full liquidation is never
    ///      limited, but its volume still fills the cap. The plan's repay is at most the debt at the rate the engine
    ///      seizes at (the same block's), so the engine applies all of it.
    function _record(uint256 vaultId, Plan memory plan, IVaultEngine.Valuation memory v, bool called) internal {
        if (called) {
            delete _marginCalls[vaultId];
            emit MarginCallEnded(vaultId);
        }
        for (uint256 i; i < v.tokens.length; ++i) {
            CollateralRules storage rules = _rules[v.tokens[i]];
            uint256 cap = rules.cap;
            if (cap == 0) continue;
            uint256 seized = v.values[i].mulDivDown(plan.fraction, WAD);
            rules.used = uint96(Math.min(_used(rules) + seized, cap));
            rules.updatedAt = uint40(block.timestamp);
        }
        emit Liquidate(
            vaultId, msg.sender, plan.repay, plan.protocolFee, plan.fraction, plan.seizedValue, plan.healthFactor, plan.full
        );
    }

    /// @dev A vault whose collaterals all offer margin calls, at or above their hard floor and not yet called, must be
    ///      called (and its grace window run out) before it may be liquidated.
    function _callRequired(MarginCallState memory call, address[] memory tokens, uint256 hf)
        internal
        view
        returns (bool)
    {
        if (call.deadline != 0) return false;
        MarginCallTerms memory terms = _vaultTerms(tokens);
        return terms.gracePeriod != 0 && hf >= terms.hardFloor;
    }

    /// @dev Inside its grace window and at or above its hard floor, a called vault waits.
    function _inGrace(MarginCallState memory call, uint256 hf) internal view returns (bool) {
        return block.timestamp < call.deadline && hf >= call.hardFloor;
    }

    /// @dev The premium accrued since it was last booked, inside the grace window only: debt·(premium^elapsed − 1)
    ///      with elapsed = min(now, deadline) − chargedUntil, rounded up (the stability fee's compounding,
    ///      FixedPoint.rpowSaturating). Capping at the deadline bounds it: at most 3 days at 100 % a year, 0.57 %.
    function _pendingPremium(uint256 debt, MarginCallState memory call) internal view returns (uint256) {
        uint256 end = Math.min(block.timestamp, call.deadline);
        if (end <= call.chargedUntil) return 0;
        uint256 factor = FixedPoint.rpowSaturating(call.premium, end - call.chargedUntil, FixedPoint.MAX_RATE);
        return debt.mulDivUp(factor - FixedPoint.RAY, FixedPoint.RAY);
    }

    /// @dev A vault's margin-call state, empty unless the valuation `v` says it is in a call. Then the premium is owed
    ///      whatever happens next: it is booked first and `v.debt` refreshed, so the plan sees the debt as it is.
    function _bookPremium(uint256 vaultId, IVaultEngine.Valuation memory v)
        internal
        returns (MarginCallState memory call)
    {
        if (!v.inMarginCall) return call;
        call = _marginCalls[vaultId];
        if (_chargePremium(vaultId, call, v.debt) != 0) v.debt = engine.debt(vaultId);
    }

    /// @dev Book the pending premium on `debt` (the vault's, WAD) into the vault's debt (and the surplus) and move
    ///      `chargedUntil` to now.
    function _chargePremium(uint256 vaultId, MarginCallState memory call, uint256 debt)
        internal
        returns (uint256 premium)
    {
        premium = _pendingPremium(debt, call);
        _marginCalls[vaultId].chargedUntil = uint40(block.timestamp);
        if (premium != 0) engine.chargePremium(vaultId, premium);
    }

    /// @dev A vault's margin-call terms: offered only if every collateral offers it; then the shortest grace, the
    ///      highest hard floor and the highest premium of its collaterals. A collateral without margin calls costs
    ///      one read, of the slot the volume cap shares.
    function _vaultTerms(address[] memory tokens) internal view returns (MarginCallTerms memory t) {
        for (uint256 i; i < tokens.length; ++i) {
            uint32 grace = _rules[tokens[i]].gracePeriod;
            if (grace == 0) return MarginCallTerms(0, 0, 0);
            FloorAndPremium memory f = _floorAndPremium[tokens[i]];
            if (i == 0 || grace < t.gracePeriod) t.gracePeriod = grace;
            if (f.hardFloor > t.hardFloor) t.hardFloor = f.hardFloor;
            if (f.premium > t.premium) t.premium = f.premium;
        }
    }

    /// @dev The volume counted against a cap now: what was counted, less cap·elapsed/window leaked since.
    function _used(CollateralRules storage rules) internal view returns (uint256) {
        uint256 leaked = uint256(rules.cap) * (block.timestamp - rules.updatedAt) / _curve.capWindow;
        return rules.used > leaked ? rules.used - leaked : 0;
    }

    /// @dev HF < 1 ⇔ maintenance < debt (HF = floor(maintenance·WAD/debt)), and something can be seized: priced
    ///      collateral, or no collateral at all (then the debt is written off). A vault whose every collateral is
    ///      unpriced waits for a price.
    function _liquidatable(IVaultEngine.Valuation memory v) internal pure returns (bool) {
        return v.debt != 0 && v.maintenance < v.debt && (v.collateralValue != 0 || v.unpricedMask == 0);
    }

    function _health(IVaultEngine.Valuation memory v) internal pure returns (uint256) {
        return v.debt == 0 ? type(uint256).max : v.maintenance.mulDivDown(WAD, v.debt);
    }

    /// @dev The bonus paid at health `hf` on collateral whose full bonus is `bonus` (both WAD): from
    ///      min(bonus, bonusFloor) just under HF 1, linearly up to `bonus` at maxBonusHealth and below, rounded down.
    function _effectiveBonus(uint256 bonus, uint256 hf) internal view returns (uint256) {
        uint256 floor_ = _params.bonusFloor;
        if (bonus <= floor_) return bonus;
        uint256 top = _curve.maxBonusHealth;
        if (hf <= top) return bonus;
        if (hf >= WAD) return floor_;
        return floor_ + (bonus - floor_).mulDivDown(WAD - hf, WAD - top);
    }

    /// @dev The plan for a liquidatable valuation, scaled down to the volume caps when it is partial; `cappedBy` is
    ///      the collateral whose cap left no room (plan.repay 0). Rounding: repay up, seized fraction down, protocol
    ///      fee up. `dust` is the engine's (WAD pUSD), or DUST_UNREAD to read it only if a partial plan needs it (a
    ///      batch reads it once for all its vaults).
    function _plan(IVaultEngine.Valuation memory v, uint256 dust) internal view returns (Plan memory p, address cappedBy) {
        p.healthFactor = _health(v);
        uint256 value = v.collateralValue;
        if (value == 0) {
            // Nothing of value to seize: take what is left and write the debt off.
            p.fraction = WAD;
            p.full = true;
            return (p, address(0));
        }
        uint256 d = v.debt;
        // The vault's bonus for its depth: value·LB(HF), with LB the value-weighted mean of its types' bonuses.
        uint256 bonusValue = value.mulDivDown(_effectiveBonus(v.bonusValue.mulDivDown(WAD, value), p.healthFactor), WAD);
        uint256 r = d;
        // k = LB·LT of the vault = (bonusValue/value)·(maintenance/value), WAD.
        uint256 k = bonusValue.mulDivDown(v.maintenance, value).mulDivDown(WAD, value);
        Parameters memory params = _params;
        uint256 target = params.targetHealth;
        if (p.healthFactor >= params.fullLiquidationHealth && k < target) {
            // r* = (T·D − M) / (T − LB·LT); T·D > D > M here.
            r = (target.mulDivUp(d, WAD) - v.maintenance).mulDivUp(WAD, target - k);
            if (dust == DUST_UNREAD) dust = engine.dust();
            if (r >= d || d - r < dust) {
                r = d;
            } else {
                (r, cappedBy) = _capped(v, r, bonusValue);
                // Room for less than a dust-sized repay: wait for the cap to refill rather than liquidate crumbs.
                if (cappedBy != address(0) && r < dust) r = 0;
            }
        }
        uint256 seizeValue = r.mulDivDown(bonusValue, value);
        if (seizeValue >= value) {
            // The collateral cannot pay the full bonus on r: take all of it. While it covers the debt, the whole
            // debt is repaid and the bonus shrinks to value/debt, so a solvent vault never books bad debt
            // (docs/invariants.md, 7). Underwater, the liquidator repays what the collateral covers at the bonus and
            // the engine writes off the rest.
            seizeValue = value;
            r = value >= d ? d : Math.min(r, value.mulDivDown(value, bonusValue));
            p.fraction = WAD;
        } else {
            p.fraction = seizeValue.mulDivDown(WAD, value);
        }
        p.repay = r;
        p.seizedValue = seizeValue;
        p.full = r == d || p.fraction == WAD;
        p.protocolFee = (seizeValue - r).mulDivUp(params.protocolShare, WAD);
    }

    /// @dev A partial repay `r` reduced so that the value seized of each capped collateral fits its room:
    ///      r' = min over capped collaterals of floor(r·room/seized), with seized = value_i·r·LB/V rounded up, so the
    ///      cap is never exceeded.
    function _capped(IVaultEngine.Valuation memory v, uint256 r, uint256 bonusValue)
        internal
        view
        returns (uint256 fitted, address cappedBy)
    {
        uint256 value = v.collateralValue;
        fitted = r;
        for (uint256 i; i < v.tokens.length; ++i) {
            CollateralRules storage rules = _rules[v.tokens[i]];
            if (rules.cap == 0) continue;
            uint256 seized = v.values[i].mulDivUp(r.mulDivUp(bonusValue, value), value);
            uint256 room = rules.cap - _used(rules);
            if (seized <= room) continue;
            uint256 fits = r.mulDivDown(room, seized);
            if (fits < fitted) (fitted, cappedBy) = (fits, v.tokens[i]);
        }
    }
}
