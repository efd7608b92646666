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
///      Everything that moves tokens is nonReentrant and updates state before the transfer.
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
        _validateRisk(ltv, liquidationThreshold, liquidationBonus);
        uint8 decimals = IERC20Metadata(token).decimals();
        if (decimals > 36) revert UnsupportedDecimals(token, decimals);
        c.oracle = oracle;
        c.decimals = decimals;
        c.ltv = uint64(ltv);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonus = uint64(liquidationBonus);
        c.supplyCap = uint128(Math.min(supplyCap, type(uint128).max));
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
        _validateRisk(ltv, liquidationThreshold, liquidationBonus);
        c.ltv = uint64(ltv);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonus = uint64(liquidationBonus);
        emit RiskParametersSet(token, ltv, liquidationThreshold, liquidationBonus);
    }

    /// @inheritdoc IVaultEngine
    function setSupplyCap(address token, uint256 supplyCap) external onlyOwner {
        CollateralType storage c = _listed(token);
        c.supplyCap = uint128(Math.min(supplyCap, type(uint128).max));
        emit SupplyCapSet(token, c.supplyCap);
    }

    /// @inheritdoc IVaultEngine
    function setOracle(address token, IPriceOracle oracle) external onlyOwner {
        if (address(oracle) == address(0)) revert ZeroAddress();
        _listed(token).oracle = oracle;
        emit OracleSet(token, address(oracle));
    }

    /// @inheritdoc IVaultEngine
    function setDebtCeiling(uint256 debtCeiling_) external onlyOwner {
        debtCeiling = debtCeiling_;
        emit DebtCeilingSet(debtCeiling_);
    }

    /// @inheritdoc IVaultEngine
    function setDust(uint256 dust_) external onlyOwner {
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
        if (art * rate_ < dust * RAY) revert DebtBelowDust(vaultId, art.mulDiv(rate_, RAY, Math.Rounding.Ceil), dust);
        if (totalArt * rate_ > debtCeiling * RAY) {
            revert DebtCeilingExceeded(totalArt.mulDiv(rate_, RAY, Math.Rounding.Ceil), debtCeiling);
        }
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
        if (left != 0 && left * rate_ < dust * RAY) {
            revert DebtBelowDust(vaultId, left.mulDiv(rate_, RAY, Math.Rounding.Ceil), dust);
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
    function seize(uint256 vaultId, address payer, address to, uint256 repay_, uint256 protocolFee, uint256 fraction)
        external
        nonReentrant
        returns (uint256 repaid)
    {
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
        (address[] memory tokens, uint256[] memory amounts) = _takeCollateral(vaultId, fraction);
        if (art != 0 && _vaultTokens[vaultId].length == 0) _writeOff(vaultId, art, rate_);
        emit Seize(vaultId, payer, to, repaid, protocolFee, removed, fraction);

        pusd.burn(payer, repaid + protocolFee);
        for (uint256 i; i < tokens.length; ++i) {
            if (amounts[i] == 0) continue;
            IERC20(tokens[i]).safeTransfer(to, amounts[i]);
            emit CollateralSeized(vaultId, tokens[i], amounts[i]);
        }
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

    function _validateRisk(uint256 ltv, uint256 lt, uint256 bonus) internal pure {
        if (ltv == 0 || ltv >= lt || lt >= WAD || bonus < WAD || bonus > MAX_LIQUIDATION_BONUS || bonus * lt >= WAD * WAD)
        {
            revert InvalidRiskParameters(ltv, lt, bonus);
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

    /// @dev Initial margin: debt (rounded up) must not exceed Σ value·LTV (rounded down).
    function _requireMargin(uint256 vaultId, uint256 rate_) internal view {
        Valuation memory v = _valuation(vaultId, rate_);
        if (v.debt > v.borrowPower) revert InsufficientMargin(vaultId, v.debt, v.borrowPower);
    }

    /// @dev Per collateral, value = floor(amount·price / 10^decimals), then floor(value·param / WAD) for each margin.
    function _valuation(uint256 vaultId, uint256 rate_) internal view returns (Valuation memory v) {
        v.debt = normalizedDebt[vaultId].mulDiv(rate_, RAY, Math.Rounding.Ceil);
        address[] storage tokens = _vaultTokens[vaultId];
        for (uint256 i; i < tokens.length; ++i) {
            address token = tokens[i];
            CollateralType storage c = _collateral[token];
            uint256 value = collateralBalance[vaultId][token].mulDiv(c.oracle.price(), 10 ** c.decimals);
            v.collateralValue += value;
            v.borrowPower += value * c.ltv / WAD;
            v.maintenance += value * c.liquidationThreshold / WAD;
            v.bonusValue += value * c.liquidationBonus / WAD;
        }
    }

    function _deposit(uint256 vaultId, address token, uint256 amount) internal {
        CollateralType storage c = _collateral[token];
        if (address(c.oracle) == address(0)) revert UnknownCollateral(token);
        uint256 held = c.totalDeposited + amount;
        if (held > c.supplyCap) revert SupplyCapExceeded(token, c.supplyCap, held);
        uint256 balance = collateralBalance[vaultId][token];
        if (balance == 0) {
            address[] storage tokens = _vaultTokens[vaultId];
            if (tokens.length == MAX_COLLATERALS_PER_VAULT) revert TooManyCollaterals(vaultId, MAX_COLLATERALS_PER_VAULT);
            tokens.push(token);
        }
        collateralBalance[vaultId][token] = balance + amount;
        c.totalDeposited = uint128(held);
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        emit Deposit(vaultId, token, msg.sender, amount);
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

    /// @dev Book `fraction` (WAD) of every collateral balance out of the vault (all of it at WAD, else rounded
    ///      down) and return what to transfer. Backwards, so that the swap-and-pop in _removeCollateral only moves
    ///      entries already handled.
    function _takeCollateral(uint256 vaultId, uint256 fraction)
        internal
        returns (address[] memory tokens, uint256[] memory amounts)
    {
        tokens = _vaultTokens[vaultId];
        amounts = new uint256[](tokens.length);
        for (uint256 i = tokens.length; i > 0;) {
            --i;
            uint256 balance = collateralBalance[vaultId][tokens[i]];
            amounts[i] = fraction == WAD ? balance : balance * fraction / WAD;
            if (amounts[i] != 0) _removeCollateral(vaultId, tokens[i], balance, amounts[i]);
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

    /// @dev rate·fee^elapsed, rounded down (dss Jug.drip: rmul(rpow(duty, now − rho), rate)).
    function _accrue(uint256 rate_, uint256 elapsed) internal view returns (uint256) {
        uint256 fee = stabilityFee;
        if (fee == RAY || elapsed == 0) return rate_;
        return FixedPoint.rpow(fee, elapsed) * rate_ / RAY;
    }
}
