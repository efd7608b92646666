// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";
import {PUSD} from "./PUSD.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title VaultEngine
/// @notice The accounting core: vaults are ERC-721 tokens holding up to MAX_COLLATERALS_PER_VAULT collateral types
///         (cross margin inside a vault, isolation across vaults) and a debt in pUSD.
/// @dev Debt is normalized debt × a RAY rate accumulator (MakerDAO dss `Vat.art`/`Jug.rate`); the rounding residue of
///      every borrow and repay goes to the surplus so that, in RAD,
///      `pusd.totalSupply()·RAY + surplus == totalNormalizedDebt·rate + badDebt` holds exactly after every call.
///      Everything that moves tokens is nonReentrant and updates state before the transfer, except `_deposit`,
///      which must measure what arrived before booking it.
///      Oracles are called with a fixed gas allowance and their failures caught (see IVaultEngine, "Oracle rule").
///      A vault in portfolio margin replaces Σ value·LTV and Σ value·LT by the worst value over the initial and
///      maintenance scenario grids (docs/math.md, "Portfolio margin"); everything downstream (health factor,
///      margin checks, liquidation) reads the same two numbers from `valuation`.
contract VaultEngine is IVaultEngine, ERC721, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using FixedPoint for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    uint256 internal constant RAY = FixedPoint.RAY;

    /// @notice Most collateral types one vault may hold (bounds every loop over a vault's collateral).
    uint256 public constant MAX_COLLATERALS_PER_VAULT = 5;
    /// @notice Largest per-second stability fee, RAY: e^(ln 2 / 365 days), i.e. 100% a year.
    uint256 public constant MAX_STABILITY_FEE = 1_000_000_021_979_553_151_239_153_027;
    /// @notice Largest liquidation bonus, WAD (2 = collateral worth twice the debt repaid).
    uint256 public constant MAX_LIQUIDATION_BONUS = 2 * WAD;
    /// @notice Smallest liquidation bonus, WAD: below it no one is paid enough to liquidate.
    uint256 public constant MIN_LIQUIDATION_BONUS = 1.01e18;
    /// @notice Most collateral types that may be listed (bounds the pairwise parameter check).
    uint256 public constant MAX_COLLATERAL_TYPES = 32;
    /// @notice Largest debt ceiling and dust floor, WAD pUSD (one trillion): keeps every RAD product far from 2^256.
    uint256 public constant MAX_DEBT_CEILING = 1e30;
    /// @notice Largest supply cap, token decimals.
    uint256 public constant MAX_SUPPLY_CAP = type(uint128).max;
    /// @notice The rate accumulator saturates here, RAY (a billion-fold growth): past it the stability fee stops
    ///         accruing instead of overflowing, so drip, repay and liquidation can never be bricked by time.
    uint256 public constant MAX_RATE = 1e36;
    /// @notice A price above this (WAD USD per whole token) counts as unpriced: keeps values far from 2^256.
    uint256 public constant MAX_PRICE = 1e36;
    /// @notice Gas given to each oracle call; a call that needs more counts as a failing oracle.
    uint256 public constant ORACLE_GAS = 200_000;
    /// @notice Most scenarios in one portfolio-margin grid.
    uint256 public constant MAX_SCENARIOS = 16;
    /// @notice Resolution of a scenario shock, WAD (one basis point): shocks are stored as 16-bit basis points.
    int256 public constant SHOCK_UNIT = 1e14;
    int256 internal constant BPS = 10_000;

    /// @inheritdoc IVaultEngine
    IPUSD public immutable pusd;

    mapping(address token => CollateralType) internal _collateral;
    address[] internal _collateralTokens;

    /// @dev One slot per vault: normalized debt (WAD; at most MAX_DEBT_CEILING, so 128 bits hold it), its margin
    ///      mode, and whether it is in a margin call (set and cleared by the liquidation engine).
    struct Vault {
        uint128 normalizedDebt;
        bool portfolioMargin;
        bool inMarginCall;
    }

    mapping(uint256 vaultId => Vault) internal _vaults;
    mapping(uint256 vaultId => address[]) internal _vaultTokens;
    /// @inheritdoc IVaultEngine
    mapping(uint256 vaultId => mapping(address token => uint256)) public collateralBalance;

    /// @dev Scenario shocks per collateral type, basis points, 16 signed 16-bit values packed in one word (scenario s
    ///      in bits 16s..16s+15): one storage read per collateral per grid.
    mapping(address token => uint256) internal _initialShocks;
    mapping(address token => uint256) internal _maintenanceShocks;
    /// @dev Scenarios in each grid (0: portfolio margin not available yet).
    uint8 internal _initialScenarios;
    uint8 internal _maintenanceScenarios;

    uint192 internal _rate;
    uint64 internal _lastDrip;
    /// @inheritdoc IVaultEngine
    uint256 public totalNormalizedDebt;
    /// @inheritdoc IVaultEngine
    uint256 public surplus;
    /// @inheritdoc IVaultEngine
    uint256 public badDebt;
    /// @inheritdoc IVaultEngine
    uint256 public debtCeiling;
    /// @inheritdoc IVaultEngine
    uint256 public dust;
    /// @inheritdoc IVaultEngine
    uint256 public stabilityFee;
    /// @inheritdoc IVaultEngine
    address public liquidationEngine;
    /// @inheritdoc IVaultEngine
    uint256 public vaultCount;
    /// @inheritdoc IVaultEngine
    mapping(address token => mapping(address account => uint256)) public claimable;
    /// @inheritdoc IVaultEngine
    mapping(address token => uint256) public totalClaimable;

    /// @param owner_ administrator (parameter setters); creates pUSD with this engine as its only minter.
    constructor(address owner_) ERC721("Plimsoll Vault", "PLMV") Ownable(owner_) {
        pusd = new PUSD();
        _rate = uint192(RAY);
        _lastDrip = uint64(block.timestamp);
        stabilityFee = RAY;
    }

    // ================================================================== admin

    /// @inheritdoc IVaultEngine
    function addCollateral(
        address token,
        IPriceOracle oracle,
        uint256 ltv,
        uint256 liquidationThreshold,
        uint256 liquidationBonus,
        uint256 supplyCap
    ) external onlyOwner {
        if (token == address(0) || address(oracle) == address(0)) revert ZeroAddress();
        CollateralType storage c = _collateral[token];
        if (address(c.oracle) != address(0)) revert CollateralAlreadyListed(token);
        if (_collateralTokens.length == MAX_COLLATERAL_TYPES) revert TooManyCollateralTypes(MAX_COLLATERAL_TYPES);
        _validateRisk(token, ltv, liquidationThreshold, liquidationBonus);
        if (supplyCap > MAX_SUPPLY_CAP) revert InvalidSupplyCap(supplyCap, MAX_SUPPLY_CAP);
        uint8 decimals = IERC20Metadata(token).decimals();
        if (decimals > 36) revert UnsupportedDecimals(token, decimals);
        c.oracle = oracle;
        c.decimals = decimals;
        c.ltv = uint64(ltv);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonus = uint64(liquidationBonus);
        c.supplyCap = uint128(supplyCap);
        _collateralTokens.push(token);
        if (_maintenanceScenarios != 0) {
            // A type listed after the grids gets its own haircut in every scenario: portfolio margin treats it
            // exactly as standard margin until governance sets new grids.
            _initialShocks[token] = _uniformShocks(_haircutBps(ltv), _initialScenarios);
            _maintenanceShocks[token] = _uniformShocks(_haircutBps(liquidationThreshold), _maintenanceScenarios);
        }
        emit CollateralAdded(
            token, address(oracle), decimals, ltv, liquidationThreshold, liquidationBonus, c.supplyCap
        );
    }

    /// @inheritdoc IVaultEngine
    function setRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external
        onlyOwner
    {
        CollateralType storage c = _listed(token);
        _validateRisk(token, ltv, liquidationThreshold, liquidationBonus);
        if (_maintenanceScenarios != 0) {
            _requireGridNotLooser(token, _initialShocks[token], _initialScenarios, ltv);
            _requireGridNotLooser(token, _maintenanceShocks[token], _maintenanceScenarios, liquidationThreshold);
        }
        c.ltv = uint64(ltv);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonus = uint64(liquidationBonus);
        emit RiskParametersSet(token, ltv, liquidationThreshold, liquidationBonus);
    }

    /// @inheritdoc IVaultEngine
    function setSupplyCap(address token, uint256 supplyCap) external onlyOwner {
        CollateralType storage c = _listed(token);
        if (supplyCap > MAX_SUPPLY_CAP) revert InvalidSupplyCap(supplyCap, MAX_SUPPLY_CAP);
        c.supplyCap = uint128(supplyCap);
        emit SupplyCapSet(token, supplyCap);
    }

    /// @inheritdoc IVaultEngine
    function setOracle(address token, IPriceOracle oracle) external onlyOwner {
        if (address(oracle) == address(0)) revert ZeroAddress();
        CollateralType storage c = _listed(token);
        (bool ok,) = _tryPrice(oracle);
        if (!ok) revert OracleNotPricing(address(oracle));
        c.oracle = oracle;
        emit OracleSet(token, address(oracle));
    }

    /// @inheritdoc IVaultEngine
    function setDebtCeiling(uint256 debtCeiling_) external onlyOwner {
        if (debtCeiling_ > MAX_DEBT_CEILING) revert InvalidDebtCeiling(debtCeiling_, MAX_DEBT_CEILING);
        debtCeiling = debtCeiling_;
        emit DebtCeilingSet(debtCeiling_);
    }

    /// @inheritdoc IVaultEngine
    function setDust(uint256 dust_) external onlyOwner {
        if (dust_ > MAX_DEBT_CEILING) revert InvalidDust(dust_, MAX_DEBT_CEILING);
        dust = dust_;
        emit DustSet(dust_);
    }

    /// @inheritdoc IVaultEngine
    function setStabilityFee(uint256 fee) external onlyOwner {
        if (fee < RAY || fee > MAX_STABILITY_FEE) revert InvalidStabilityFee(fee);
        _drip();
        stabilityFee = fee;
        emit StabilityFeeSet(fee);
    }

    /// @inheritdoc IVaultEngine
    function setScenarioGrids(int256[][] calldata initial, int256[][] calldata maintenance) external onlyOwner {
        uint256 ni = initial.length;
        uint256 nm = maintenance.length;
        if (ni == 0 || nm == 0 || ni > MAX_SCENARIOS || nm > MAX_SCENARIOS) revert InvalidScenarioCount(ni, nm);
        address[] storage tokens = _collateralTokens;
        _requireWidth(initial, tokens.length);
        _requireWidth(maintenance, tokens.length);
        // Every maintenance scenario must be at least as mild as some initial scenario, asset by asset, so that a
        // vault borrowing to its initial margin is never already below its maintenance margin.
        for (uint256 t; t < nm; ++t) {
            bool covered = false;
            for (uint256 s; s < ni && !covered; ++s) {
                covered = _dominates(initial[s], maintenance[t]);
            }
            if (!covered) revert MaintenanceScenarioNotCovered(t);
        }
        for (uint256 j; j < tokens.length; ++j) {
            CollateralType storage c = _collateral[tokens[j]];
            uint256 packedInitial = _packColumn(initial, j);
            uint256 packedMaintenance = _packColumn(maintenance, j);
            _requireGridNotLooser(tokens[j], packedInitial, ni, c.ltv);
            _requireGridNotLooser(tokens[j], packedMaintenance, nm, c.liquidationThreshold);
            _initialShocks[tokens[j]] = packedInitial;
            _maintenanceShocks[tokens[j]] = packedMaintenance;
        }
        _initialScenarios = uint8(ni);
        _maintenanceScenarios = uint8(nm);
        emit ScenarioGridsSet(initial, maintenance);
    }

    /// @inheritdoc IVaultEngine
    function setLiquidationEngine(address liquidationEngine_) external onlyOwner {
        if (liquidationEngine_ == address(0)) revert ZeroAddress();
        if (liquidationEngine != address(0)) revert LiquidationEngineAlreadySet(liquidationEngine);
        liquidationEngine = liquidationEngine_;
        emit LiquidationEngineSet(liquidationEngine_);
    }

    // ================================================================== vaults

    /// @inheritdoc IVaultEngine
    function open(address token, uint256 amount) external nonReentrant returns (uint256 vaultId) {
        vaultId = ++vaultCount;
        _mint(msg.sender, vaultId);
        emit VaultOpened(vaultId, msg.sender);
        if (amount != 0) _deposit(vaultId, token, amount);
    }

    /// @inheritdoc IVaultEngine
    function deposit(uint256 vaultId, address token, uint256 amount) external nonReentrant {
        _requireAuthorized(vaultId);
        if (amount == 0) revert ZeroAmount();
        _deposit(vaultId, token, amount);
    }

    /// @inheritdoc IVaultEngine
    function setPortfolioMargin(uint256 vaultId, bool enabled) external nonReentrant {
        _requireUnrestricted(vaultId);
        if (enabled && _maintenanceScenarios == 0) revert PortfolioMarginUnavailable();
        Vault storage vault = _vaults[vaultId];
        vault.portfolioMargin = enabled;
        if (vault.normalizedDebt != 0) _requireMargin(vaultId, _drip());
        emit MarginModeSet(vaultId, enabled);
    }

    /// @inheritdoc IVaultEngine
    function withdraw(uint256 vaultId, address token, uint256 amount, address to) external nonReentrant {
        _requireUnrestricted(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = collateralBalance[vaultId][token];
        if (amount > balance) revert InsufficientCollateral(vaultId, token, balance, amount);
        _removeCollateral(vaultId, token, balance, amount);
        if (_vaults[vaultId].normalizedDebt != 0) _requireMargin(vaultId, _drip());
        IERC20(token).safeTransfer(to, amount);
        emit Withdraw(vaultId, token, to, amount);
    }

    /// @inheritdoc IVaultEngine
    function borrow(uint256 vaultId, uint256 amount, address to) external nonReentrant {
        _requireUnrestricted(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 rate_ = _drip();
        uint256 added = amount.mulDivUp(RAY, rate_);
        Vault storage vault = _vaults[vaultId];
        uint256 vaultNormalizedDebt = vault.normalizedDebt + added;
        uint256 totalNormalizedDebt_ = totalNormalizedDebt + added;
        // Debts rounded up and compared in WAD: mulDiv cannot overflow whatever `amount` a caller passes.
        uint256 vaultDebt = vaultNormalizedDebt.mulDivUp(rate_, RAY);
        if (vaultDebt < dust) revert DebtBelowDust(vaultId, vaultDebt, dust);
        uint256 totalDebtAfter = totalNormalizedDebt_.mulDivUp(rate_, RAY);
        if (totalDebtAfter > debtCeiling) revert DebtCeilingExceeded(totalDebtAfter, debtCeiling);
        // debtCeiling <= MAX_DEBT_CEILING and rate >= RAY bound the normalized debt far below 2^128.
        vault.normalizedDebt = uint128(vaultNormalizedDebt);
        totalNormalizedDebt = totalNormalizedDebt_;
        surplus += added * rate_ - amount * RAY;
        _requireMargin(vaultId, rate_);
        pusd.mint(to, amount);
        emit Borrow(vaultId, to, amount, added);
    }

    /// @inheritdoc IVaultEngine
    function repay(uint256 vaultId, uint256 amount) external nonReentrant returns (uint256 paid) {
        if (amount == 0) revert ZeroAmount();
        _requireExists(vaultId);
        Vault storage vault = _vaults[vaultId];
        uint256 vaultNormalizedDebt = vault.normalizedDebt;
        if (vaultNormalizedDebt == 0) revert NoDebt(vaultId);
        uint256 rate_ = _drip();
        uint256 removed;
        (removed, paid) = _repayAmounts(vaultNormalizedDebt, rate_, amount);
        uint256 left = vaultNormalizedDebt - removed;
        if (left != 0) {
            uint256 leftDebt = left.mulDivUp(rate_, RAY);
            if (leftDebt < dust) revert DebtBelowDust(vaultId, leftDebt, dust);
        }
        vault.normalizedDebt = uint128(left);
        totalNormalizedDebt -= removed;
        surplus += paid * RAY - removed * rate_;
        pusd.burn(msg.sender, paid);
        emit Repay(vaultId, msg.sender, paid, removed);
    }

    /// @inheritdoc IVaultEngine
    function drip() external returns (uint256) {
        return _drip();
    }

    /// @inheritdoc IVaultEngine
    function heal() external {
        uint256 amount = Math.min(surplus, badDebt);
        if (amount == 0) return;
        surplus -= amount;
        badDebt -= amount;
        emit Heal(amount);
    }

    /// @inheritdoc IVaultEngine
    function seize(
        uint256 vaultId,
        address payer,
        address to,
        uint256 repay_,
        uint256 protocolFee,
        uint256 fraction,
        uint256 unpricedMask
    ) external nonReentrant returns (uint256 repaid) {
        if (msg.sender != liquidationEngine) revert OnlyLiquidationEngine(msg.sender);
        _requireExists(vaultId);
        if (fraction > WAD) revert InvalidSeizeFraction(fraction);
        uint256 rate_ = _drip();
        uint256 left;
        uint256 removed;
        (left, removed, repaid) = _applyRepay(vaultId, rate_, repay_);
        surplus += protocolFee * RAY;
        (address[] memory tokens, uint256[] memory amounts) = _takeCollateral(vaultId, fraction, unpricedMask);
        if (left != 0 && _vaultTokens[vaultId].length == 0) _writeOff(vaultId, left, rate_);
        emit Seize(vaultId, payer, to, repaid, protocolFee, removed, fraction);

        pusd.burn(payer, repaid + protocolFee);
        _payOut(vaultId, to, tokens, amounts);
    }

    /// @inheritdoc IVaultEngine
    function setMarginCall(uint256 vaultId, bool active) external {
        if (msg.sender != liquidationEngine) revert OnlyLiquidationEngine(msg.sender);
        _requireExists(vaultId);
        _vaults[vaultId].inMarginCall = active;
    }

    /// @inheritdoc IVaultEngine
    function chargePremium(uint256 vaultId, uint256 amount) external returns (uint256 added) {
        if (msg.sender != liquidationEngine) revert OnlyLiquidationEngine(msg.sender);
        uint256 rate_ = _drip();
        added = amount.mulDivUp(RAY, rate_);
        Vault storage vault = _vaults[vaultId];
        // Bounded by the vault's debt times MAX_STABILITY_FEE over at most MAX_GRACE: far below 2^128.
        vault.normalizedDebt += uint128(added);
        totalNormalizedDebt += added;
        surplus += added * rate_;
        emit PremiumCharged(vaultId, amount, added);
    }

    /// @inheritdoc IVaultEngine
    function claim(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        amount = claimable[token][msg.sender];
        if (amount == 0) revert NothingToClaim(token, msg.sender);
        claimable[token][msg.sender] = 0;
        totalClaimable[token] -= amount;
        IERC20(token).safeTransfer(to, amount);
        emit Claim(token, msg.sender, to, amount);
    }

    // ================================================================== views

    /// @inheritdoc IVaultEngine
    function collateralType(address token) external view returns (CollateralType memory) {
        return _collateral[token];
    }

    /// @inheritdoc IVaultEngine
    function collateralTokens() external view returns (address[] memory) {
        return _collateralTokens;
    }

    /// @inheritdoc IVaultEngine
    function vaultCollateral(uint256 vaultId) external view returns (address[] memory tokens, uint256[] memory amounts) {
        tokens = _vaultTokens[vaultId];
        amounts = new uint256[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            amounts[i] = collateralBalance[vaultId][tokens[i]];
        }
    }

    /// @inheritdoc IVaultEngine
    function normalizedDebt(uint256 vaultId) external view returns (uint256) {
        return _vaults[vaultId].normalizedDebt;
    }

    /// @inheritdoc IVaultEngine
    function portfolioMargin(uint256 vaultId) external view returns (bool) {
        return _vaults[vaultId].portfolioMargin;
    }

    /// @inheritdoc IVaultEngine
    function inMarginCall(uint256 vaultId) external view returns (bool) {
        return _vaults[vaultId].inMarginCall;
    }

    /// @inheritdoc IVaultEngine
    function scenarioGrids() external view returns (int256[][] memory initial, int256[][] memory maintenance) {
        address[] storage tokens = _collateralTokens;
        initial = new int256[][](_initialScenarios);
        maintenance = new int256[][](_maintenanceScenarios);
        for (uint256 s; s < initial.length; ++s) {
            initial[s] = new int256[](tokens.length);
            for (uint256 j; j < tokens.length; ++j) {
                initial[s][j] = _shockBps(_initialShocks[tokens[j]], s) * SHOCK_UNIT;
            }
        }
        for (uint256 s; s < maintenance.length; ++s) {
            maintenance[s] = new int256[](tokens.length);
            for (uint256 j; j < tokens.length; ++j) {
                maintenance[s][j] = _shockBps(_maintenanceShocks[tokens[j]], s) * SHOCK_UNIT;
            }
        }
    }

    /// @inheritdoc IVaultEngine
    function debt(uint256 vaultId) external view returns (uint256) {
        return uint256(_vaults[vaultId].normalizedDebt).mulDivUp(currentRate(), RAY);
    }

    /// @inheritdoc IVaultEngine
    function currentRate() public view returns (uint256) {
        return _accrue(_rate, block.timestamp - _lastDrip);
    }

    /// @inheritdoc IVaultEngine
    function rate() external view returns (uint256) {
        return _rate;
    }

    /// @inheritdoc IVaultEngine
    function lastDrip() external view returns (uint256) {
        return _lastDrip;
    }

    /// @inheritdoc IVaultEngine
    function totalDebt() external view returns (uint256) {
        return totalNormalizedDebt * _rate;
    }

    /// @inheritdoc IVaultEngine
    function isAuthorized(uint256 vaultId, address account) public view returns (bool) {
        address owner = _ownerOf(vaultId);
        return owner != address(0) && _isAuthorized(owner, account, vaultId);
    }

    /// @inheritdoc IVaultEngine
    function valuation(uint256 vaultId) public view returns (Valuation memory) {
        return _valuation(vaultId, currentRate());
    }

    /// @inheritdoc IVaultEngine
    function healthFactor(uint256 vaultId) external view returns (uint256) {
        Valuation memory v = valuation(vaultId);
        return v.debt == 0 ? type(uint256).max : v.maintenance.mulDivDown(WAD, v.debt);
    }

    // ================================================================== internals

    function _listed(address token) internal view returns (CollateralType storage c) {
        c = _collateral[token];
        if (address(c.oracle) == address(0)) revert UnknownCollateral(token);
    }

    /// @dev Per type: 0 < ltv < lt < 1, bonus in [MIN, MAX], bonus·lt < 1. Across types: bonus_i·lt_j < 1 for every
    ///      pair, which bounds any vault's value-weighted LB·LT (a convex mix of the pairs) below 1 (docs/math.md).
    function _validateRisk(address token, uint256 ltv, uint256 lt, uint256 bonus) internal view {
        if (
            ltv == 0 || ltv >= lt || lt >= WAD || bonus < MIN_LIQUIDATION_BONUS || bonus > MAX_LIQUIDATION_BONUS
                || bonus * lt >= WAD * WAD
        ) revert InvalidRiskParameters(ltv, lt, bonus);
        address[] storage listed = _collateralTokens;
        for (uint256 i; i < listed.length; ++i) {
            address other = listed[i];
            if (other == token) continue;
            CollateralType storage o = _collateral[other];
            if (bonus * o.liquidationThreshold >= WAD * WAD || uint256(o.liquidationBonus) * lt >= WAD * WAD) {
                revert RiskParametersConflict(token, other);
            }
        }
    }

    function _requireExists(uint256 vaultId) internal view {
        if (_ownerOf(vaultId) == address(0)) revert VaultNotFound(vaultId);
    }

    function _requireAuthorized(uint256 vaultId) internal view {
        address owner = _ownerOf(vaultId);
        if (owner == address(0)) revert VaultNotFound(vaultId);
        if (!_isAuthorized(owner, msg.sender, vaultId)) revert NotAuthorized(vaultId, msg.sender);
    }

    /// @dev Authorized, and not in a margin call: what borrowing, withdrawing and a margin-mode switch need.
    function _requireUnrestricted(uint256 vaultId) internal view {
        _requireAuthorized(vaultId);
        if (_vaults[vaultId].inMarginCall) revert VaultInMarginCall(vaultId);
    }

    /// @dev Initial margin: debt (rounded up) must not exceed Σ value·LTV (rounded down). When it does and an
    ///      unpriced collateral is part of why, the failing oracle is called again so that its own error surfaces.
    function _requireMargin(uint256 vaultId, uint256 rate_) internal view {
        Valuation memory v = _valuation(vaultId, rate_);
        if (v.debt <= v.borrowPower) return;
        if (v.unpricedMask != 0) {
            address[] storage tokens = _vaultTokens[vaultId];
            for (uint256 i; i < tokens.length; ++i) {
                if (v.unpricedMask & (1 << i) != 0) _collateral[tokens[i]].oracle.price(); // reverts with its error
            }
        }
        revert InsufficientMargin(vaultId, v.debt, v.borrowPower);
    }

    /// @dev Per priced collateral, value = floor(amount·price / 10^decimals), then floor(value·param / WAD) for each
    ///      margin. An unpriced collateral adds nothing and sets its bit in unpricedMask. In portfolio margin,
    ///      borrowPower and maintenance are instead min over the grid's scenarios s of
    ///      V_s = Σ floor(value·(10^4 + shock_s in basis points) / 10^4).
    function _valuation(uint256 vaultId, uint256 rate_) internal view returns (Valuation memory v) {
        Vault storage vault = _vaults[vaultId];
        v.debt = uint256(vault.normalizedDebt).mulDivUp(rate_, RAY);
        bool portfolio = vault.portfolioMargin;
        address[] memory tokens = _vaultTokens[vaultId];
        v.tokens = tokens;
        v.values = new uint256[](tokens.length);
        for (uint256 i; i < tokens.length; ++i) {
            CollateralType storage c = _collateral[tokens[i]];
            (bool ok, uint256 price) = _tryPrice(c.oracle);
            if (!ok) {
                v.unpricedMask |= 1 << i;
                continue;
            }
            uint256 value = collateralBalance[vaultId][tokens[i]].mulDivDown(price, 10 ** c.decimals);
            v.values[i] = value;
            v.collateralValue += value;
            v.bonusValue += value.mulDivDown(c.liquidationBonus, WAD);
            if (!portfolio) {
                v.borrowPower += value.mulDivDown(c.ltv, WAD);
                v.maintenance += value.mulDivDown(c.liquidationThreshold, WAD);
            }
        }
        if (portfolio) (v.borrowPower, v.maintenance) = _portfolioMargins(tokens, v.values);
    }

    /// @dev (min_s V_s on the initial grid, min_s V_s on the maintenance grid) for collateral values `values`.
    function _portfolioMargins(address[] memory tokens, uint256[] memory values)
        internal
        view
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        uint256[] memory initialScenarios = new uint256[](_initialScenarios);
        uint256[] memory maintenanceScenarios = new uint256[](_maintenanceScenarios);
        for (uint256 i; i < values.length; ++i) {
            if (values[i] == 0) continue;
            _addShocked(initialScenarios, values[i], _initialShocks[tokens[i]]);
            _addShocked(maintenanceScenarios, values[i], _maintenanceShocks[tokens[i]]);
        }
        return (_min(initialScenarios), _min(maintenanceScenarios));
    }

    /// @dev scenarios[s] += floor(value·(10^4 + shock_s) / 10^4), shocks in basis points in [-10^4, 10^4].
    function _addShocked(uint256[] memory scenarios, uint256 value, uint256 packed) internal pure {
        for (uint256 s; s < scenarios.length; ++s) {
            scenarios[s] += value.mulDivDown(uint256(BPS + _shockBps(packed, s)), uint256(BPS));
        }
    }

    function _min(uint256[] memory xs) internal pure returns (uint256 m) {
        m = xs[0];
        for (uint256 s = 1; s < xs.length; ++s) {
            if (xs[s] < m) m = xs[s];
        }
    }

    /// @dev Scenario s's shock from a packed column, basis points.
    function _shockBps(uint256 packed, uint256 s) internal pure returns (int256) {
        return int256(int16(uint16(packed >> (16 * s))));
    }

    function _requireWidth(int256[][] calldata grid, uint256 width) internal pure {
        for (uint256 s; s < grid.length; ++s) {
            if (grid[s].length != width) revert ScenarioWidthMismatch(s, grid[s].length, width);
        }
    }

    /// @dev Column j of a grid (shocks WAD, rows = scenarios) packed as basis points.
    function _packColumn(int256[][] calldata grid, uint256 j) internal pure returns (uint256 packed) {
        for (uint256 s; s < grid.length; ++s) {
            int256 shock = grid[s][j];
            if (shock < -int256(WAD) || shock > int256(WAD) || shock % SHOCK_UNIT != 0) revert InvalidShock(s, j, shock);
            packed |= uint256(uint16(int16(shock / SHOCK_UNIT))) << (16 * s);
        }
    }

    /// @dev Every shock of `a` is at most the same asset's shock in `b` (a is at least as severe, asset by asset).
    function _dominates(int256[] calldata a, int256[] calldata b) internal pure returns (bool) {
        for (uint256 j; j < a.length; ++j) {
            if (a[j] > b[j]) return false;
        }
        return true;
    }

    /// @dev A vault holding only `token` must not get a looser requirement than standard margin: the grid's worst
    ///      shock for it must be at least as severe as its haircut, i.e. 1 + min_s shock_s <= margin (LTV or LT).
    function _requireGridNotLooser(address token, uint256 packed, uint256 scenarios, uint256 margin) internal pure {
        int256 worst = BPS;
        for (uint256 s; s < scenarios; ++s) {
            int256 shock = _shockBps(packed, s);
            if (shock < worst) worst = shock;
        }
        // 10^4 + worst <= margin·10^4/WAD, compared exactly in WAD.
        if ((BPS + worst) * SHOCK_UNIT > SafeCast.toInt256(margin)) {
            revert ScenarioGridLooserThanHaircut(token, worst * SHOCK_UNIT, SafeCast.toInt256(margin) - int256(WAD));
        }
    }

    /// @dev margin − 1 in basis points, rounded down (towards the more severe shock).
    function _haircutBps(uint256 margin) internal pure returns (int256) {
        return -((BPS * SHOCK_UNIT - SafeCast.toInt256(margin) + SHOCK_UNIT - 1) / SHOCK_UNIT);
    }

    function _uniformShocks(int256 bps, uint256 scenarios) internal pure returns (uint256 packed) {
        for (uint256 s; s < scenarios; ++s) {
            packed |= uint256(uint16(int16(bps))) << (16 * s);
        }
    }

    /// @dev The oracle's price, or ok = false when it reverts, runs out of its ORACLE_GAS allowance, returns
    ///      malformed data, zero, or more than MAX_PRICE. The caller must leave enough gas for the full allowance,
    ///      else a caller could starve the oracle on purpose to make a collateral look unpriced.
    function _tryPrice(IPriceOracle oracle) internal view returns (bool ok, uint256 price) {
        uint256 needed = ORACLE_GAS + ORACLE_GAS / 63 + 5_000;
        if (gasleft() < needed) revert InsufficientGasForOracle(gasleft(), needed);
        bytes4 selector = IPriceOracle.price.selector;
        uint256 gasAllowance = ORACLE_GAS;
        uint256 size;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            // Copy at most one word back: a huge revert reason cannot cost us memory expansion.
            ok := staticcall(gasAllowance, oracle, ptr, 4, ptr, 32)
            size := returndatasize()
            price := mload(ptr)
        }
        ok = ok && size == 32 && price != 0 && price <= MAX_PRICE;
        if (!ok) price = 0;
    }

    /// @dev Credits what actually arrived (fee-on-transfer tokens): state is written after the transfer, which
    ///      nonReentrant on every entry point makes safe.
    function _deposit(uint256 vaultId, address token, uint256 amount) internal {
        CollateralType storage c = _collateral[token];
        if (address(c.oracle) == address(0)) revert UnknownCollateral(token);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        uint256 held = c.totalDeposited + received;
        if (held > c.supplyCap) revert SupplyCapExceeded(token, c.supplyCap, held);
        uint256 balance = collateralBalance[vaultId][token];
        if (balance == 0) {
            address[] storage tokens = _vaultTokens[vaultId];
            if (tokens.length == MAX_COLLATERALS_PER_VAULT) revert TooManyCollaterals(vaultId, MAX_COLLATERALS_PER_VAULT);
            tokens.push(token);
        }
        collateralBalance[vaultId][token] = balance + received;
        c.totalDeposited = uint128(held);
        emit Deposit(vaultId, token, msg.sender, received);
    }

    /// @dev Lower a balance (amount <= balance) and drop the token from the vault's list when it reaches zero.
    function _removeCollateral(uint256 vaultId, address token, uint256 balance, uint256 amount) internal {
        uint256 left = balance - amount;
        collateralBalance[vaultId][token] = left;
        _collateral[token].totalDeposited -= uint128(amount);
        if (left != 0) return;
        address[] storage tokens = _vaultTokens[vaultId];
        uint256 last = tokens.length - 1;
        for (uint256 i; i <= last; ++i) {
            if (tokens[i] == token) {
                tokens[i] = tokens[last];
                tokens.pop();
                return;
            }
        }
    }

    /// @dev Book `fraction` (WAD) of every priced collateral balance out of the vault (all of it at WAD, else
    ///      rounded down) and return what to transfer. Backwards, so that the swap-and-pop in _removeCollateral only
    ///      moves entries already handled and bit i of `unpricedMask` still names tokens[i].
    function _takeCollateral(uint256 vaultId, uint256 fraction, uint256 unpricedMask)
        internal
        returns (address[] memory tokens, uint256[] memory amounts)
    {
        tokens = _vaultTokens[vaultId];
        amounts = new uint256[](tokens.length);
        for (uint256 i = tokens.length; i > 0;) {
            --i;
            if (unpricedMask & (1 << i) != 0) continue;
            uint256 balance = collateralBalance[vaultId][tokens[i]];
            amounts[i] = fraction == WAD ? balance : balance * fraction / WAD;
            if (amounts[i] != 0) _removeCollateral(vaultId, tokens[i], balance, amounts[i]);
        }
    }

    /// @dev Send seized collateral to `to`. A paused or blocking token must not stop the liquidation: its share is
    ///      kept for `to` to claim.
    function _payOut(uint256 vaultId, address to, address[] memory tokens, uint256[] memory amounts) internal {
        for (uint256 i; i < tokens.length; ++i) {
            (address token, uint256 amount) = (tokens[i], amounts[i]);
            if (amount == 0) continue;
            emit CollateralSeized(vaultId, token, amount);
            if (!IERC20(token).trySafeTransfer(to, amount)) {
                claimable[token][to] += amount;
                totalClaimable[token] += amount;
                emit CollateralClaimable(vaultId, token, to, amount);
            }
        }
    }

    /// @dev The debt side of a liquidation: end any margin call, apply up to `amount` (WAD) to the debt. Returns the
    ///      normalized debt left and removed, and the pUSD applied (the surplus takes the rounding residue).
    function _applyRepay(uint256 vaultId, uint256 rate_, uint256 amount)
        internal
        returns (uint256 left, uint256 removed, uint256 repaid)
    {
        Vault storage vault = _vaults[vaultId];
        vault.inMarginCall = false; // a liquidation ends any margin call
        left = vault.normalizedDebt;
        if (amount != 0 && left != 0) (removed, repaid) = _repayAmounts(left, rate_, amount);
        left -= removed;
        vault.normalizedDebt = uint128(left);
        totalNormalizedDebt -= removed;
        surplus += repaid * RAY - removed * rate_;
    }

    /// @dev Debt of a vault with no collateral: out of the surplus as far as it goes, the rest is bad debt.
    function _writeOff(uint256 vaultId, uint256 vaultNormalizedDebt, uint256 rate_) internal {
        uint256 owed = vaultNormalizedDebt * rate_;
        _vaults[vaultId].normalizedDebt = 0;
        totalNormalizedDebt -= vaultNormalizedDebt;
        uint256 covered = Math.min(owed, surplus);
        surplus -= covered;
        badDebt += owed - covered;
        emit BadDebtWrittenOff(vaultId, owed, covered);
    }

    /// @dev Repaying `amount` of a vault with normalized debt `vaultNormalizedDebt`: all of it when amount covers the
    ///      debt rounded up (burning exactly that), otherwise floor(amount·RAY/rate) of normalized debt for `amount`.
    function _repayAmounts(uint256 vaultNormalizedDebt, uint256 rate_, uint256 amount)
        internal
        pure
        returns (uint256 removed, uint256 paid)
    {
        uint256 owed = vaultNormalizedDebt.mulDivUp(rate_, RAY);
        if (amount >= owed) return (vaultNormalizedDebt, owed);
        return (amount * RAY / rate_, amount);
    }

    function _drip() internal returns (uint256 rate_) {
        uint256 old = _rate;
        if (block.timestamp == _lastDrip) return old;
        rate_ = _accrue(old, block.timestamp - _lastDrip);
        uint256 accrued = totalNormalizedDebt * (rate_ - old);
        _rate = uint192(rate_);
        _lastDrip = uint64(block.timestamp);
        if (accrued != 0) surplus += accrued;
        emit Drip(rate_, accrued);
    }

    /// @dev min(rate·fee^elapsed rounded down, MAX_RATE) (dss Jug.drip: rmul(rpow(duty, now − rho), rate)),
    ///      saturating so that no elapsed time can make it overflow.
    function _accrue(uint256 rate_, uint256 elapsed) internal view returns (uint256) {
        uint256 fee = stabilityFee;
        if (fee == RAY || elapsed == 0 || rate_ >= MAX_RATE) return rate_;
        return Math.min(FixedPoint.rpowSaturating(fee, elapsed, MAX_RATE) * rate_ / RAY, MAX_RATE);
    }
}
