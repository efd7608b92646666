// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

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
contract VaultEngine is IVaultEngine, ERC721, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Math for uint256;

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

    /// @inheritdoc IVaultEngine
    IPUSD public immutable pusd;

    mapping(address token => CollateralType) internal _collateral;
    address[] internal _collateralTokens;

    mapping(uint256 vaultId => address[]) internal _vaultTokens;
    /// @inheritdoc IVaultEngine
    mapping(uint256 vaultId => mapping(address token => uint256)) public collateralBalance;
    /// @inheritdoc IVaultEngine
    mapping(uint256 vaultId => uint256) public normalizedDebt;

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
    function withdraw(uint256 vaultId, address token, uint256 amount, address to) external nonReentrant {
        _requireAuthorized(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = collateralBalance[vaultId][token];
        if (amount > balance) revert InsufficientCollateral(vaultId, token, balance, amount);
        _removeCollateral(vaultId, token, balance, amount);
        if (normalizedDebt[vaultId] != 0) _requireMargin(vaultId, _drip());
        IERC20(token).safeTransfer(to, amount);
        emit Withdraw(vaultId, token, to, amount);
    }

    /// @inheritdoc IVaultEngine
    function borrow(uint256 vaultId, uint256 amount, address to) external nonReentrant {
        _requireAuthorized(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 rate_ = _drip();
        uint256 added = amount.mulDiv(RAY, rate_, Math.Rounding.Ceil);
        uint256 art = normalizedDebt[vaultId] + added;
        uint256 totalArt = totalNormalizedDebt + added;
        // Debts rounded up and compared in WAD: mulDiv cannot overflow whatever `amount` a caller passes.
        uint256 vaultDebt = art.mulDiv(rate_, RAY, Math.Rounding.Ceil);
        if (vaultDebt < dust) revert DebtBelowDust(vaultId, vaultDebt, dust);
        uint256 totalDebtAfter = totalArt.mulDiv(rate_, RAY, Math.Rounding.Ceil);
        if (totalDebtAfter > debtCeiling) revert DebtCeilingExceeded(totalDebtAfter, debtCeiling);
        normalizedDebt[vaultId] = art;
        totalNormalizedDebt = totalArt;
        surplus += added * rate_ - amount * RAY;
        _requireMargin(vaultId, rate_);
        pusd.mint(to, amount);
        emit Borrow(vaultId, to, amount, added);
    }

    /// @inheritdoc IVaultEngine
    function repay(uint256 vaultId, uint256 amount) external nonReentrant returns (uint256 paid) {
        if (amount == 0) revert ZeroAmount();
        _requireExists(vaultId);
        uint256 art = normalizedDebt[vaultId];
        if (art == 0) revert NoDebt(vaultId);
        uint256 rate_ = _drip();
        uint256 removed;
        (removed, paid) = _repayAmounts(art, rate_, amount);
        uint256 left = art - removed;
        if (left != 0) {
            uint256 leftDebt = left.mulDiv(rate_, RAY, Math.Rounding.Ceil);
            if (leftDebt < dust) revert DebtBelowDust(vaultId, leftDebt, dust);
        }
        normalizedDebt[vaultId] = left;
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
        uint256 art = normalizedDebt[vaultId];
        uint256 removed;
        if (repay_ != 0 && art != 0) (removed, repaid) = _repayAmounts(art, rate_, repay_);
        art -= removed;
        normalizedDebt[vaultId] = art;
        totalNormalizedDebt -= removed;
        surplus += repaid * RAY - removed * rate_ + protocolFee * RAY;
        (address[] memory tokens, uint256[] memory amounts) = _takeCollateral(vaultId, fraction, unpricedMask);
        if (art != 0 && _vaultTokens[vaultId].length == 0) _writeOff(vaultId, art, rate_);
        emit Seize(vaultId, payer, to, repaid, protocolFee, removed, fraction);

        pusd.burn(payer, repaid + protocolFee);
        _payOut(vaultId, to, tokens, amounts);
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
    function debt(uint256 vaultId) external view returns (uint256) {
        return normalizedDebt[vaultId].mulDiv(currentRate(), RAY, Math.Rounding.Ceil);
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
        return v.debt == 0 ? type(uint256).max : v.maintenance.mulDiv(WAD, v.debt);
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
    ///      margin. An unpriced collateral adds nothing and sets its bit in unpricedMask.
    function _valuation(uint256 vaultId, uint256 rate_) internal view returns (Valuation memory v) {
        v.debt = normalizedDebt[vaultId].mulDiv(rate_, RAY, Math.Rounding.Ceil);
        address[] storage tokens = _vaultTokens[vaultId];
        for (uint256 i; i < tokens.length; ++i) {
            address token = tokens[i];
            CollateralType storage c = _collateral[token];
            (bool ok, uint256 price) = _tryPrice(c.oracle);
            if (!ok) {
                v.unpricedMask |= 1 << i;
                continue;
            }
            uint256 value = collateralBalance[vaultId][token].mulDiv(price, 10 ** c.decimals);
            v.collateralValue += value;
            v.borrowPower += value.mulDiv(c.ltv, WAD);
            v.maintenance += value.mulDiv(c.liquidationThreshold, WAD);
            v.bonusValue += value.mulDiv(c.liquidationBonus, WAD);
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

    /// @dev Debt of a vault with no collateral: out of the surplus as far as it goes, the rest is bad debt.
    function _writeOff(uint256 vaultId, uint256 art, uint256 rate_) internal {
        uint256 owed = art * rate_;
        normalizedDebt[vaultId] = 0;
        totalNormalizedDebt -= art;
        uint256 covered = Math.min(owed, surplus);
        surplus -= covered;
        badDebt += owed - covered;
        emit BadDebtWrittenOff(vaultId, owed, covered);
    }

    /// @dev Repaying `amount` of a vault with normalized debt `art`: all of it when amount covers the debt rounded
    ///      up (burning exactly that), otherwise floor(amount·RAY/rate) of normalized debt for `amount`.
    function _repayAmounts(uint256 art, uint256 rate_, uint256 amount)
        internal
        pure
        returns (uint256 removed, uint256 paid)
    {
        uint256 owed = art.mulDiv(rate_, RAY, Math.Rounding.Ceil);
        if (amount >= owed) return (art, owed);
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
