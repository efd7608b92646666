// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";
import {ILiquidationCallback} from "@plimsoll/interfaces/ILiquidationCallback.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";
import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {IVaultRenderer} from "@plimsoll/interfaces/IVaultRenderer.sol";
import {PUSD} from "./PUSD.sol";
import {PortfolioMargin} from "./PortfolioMargin.sol";
import {VaultNFT} from "./VaultNFT.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";
import {MaxWithdraw} from "./libraries/MaxWithdraw.sol";

/// @title VaultEngine
/// @notice The accounting core: vaults hold up to MAX_COLLATERALS_PER_VAULT collateral types (cross margin inside a
///         vault, isolation across vaults) and a debt in pUSD. Each vault is a token of the VaultNFT this engine
///         creates, whose holder or approved addresses manage it; several calls batch in one `multicall`.
/// @dev Debt is normalized debt × a RAY rate accumulator (MakerDAO dss `Vat.art`/`Jug.rate`); the rounding residue of
///      every borrow and repay goes to the surplus. The rate is a function of time (`currentRate`): every operation
///      uses its current value, and it is written to storage only by `drip`, which `setStabilityFee` runs first so
///      that past time accrues at the old fee (docs/math.md, "Debt and the stability fee"). The surplus is not
///      stored but derived, in RAD, as `totalNormalizedDebt·currentRate + badDebtRad − pusd.backedSupply()·RAY`;
///      every path keeps it non-negative.
///      Everything that moves tokens is nonReentrant and updates state before the transfer, except `_deposit`,
///      which must measure what arrived before booking it.
///      Oracles are called with a fixed gas allowance and their failures caught (see IVaultEngine, "Oracle rule").
///      A vault in portfolio margin replaces Σ value·LTV and Σ value·LT by the worst value over the initial and
///      maintenance scenario grids (docs/math.md, "Portfolio margin"); everything downstream (health factor,
///      margin checks, liquidation) reads the same two numbers from `valuation`.
///      Roles (docs/governance.md): DEFAULT_ADMIN_ROLE (the timelock) lists collateral, replaces oracles, wires
///      the liquidation engine and withdraws surplus above the buffer; RISK_ADMIN_ROLE (the timelock and the
///      RiskSteward) sets risk parameters; GUARDIAN_ROLE pauses borrowing and withdrawing against debt. Nothing
///      pauses deposit, repay, liquidation or a margin-call cure.
contract VaultEngine is IVaultEngine, AccessControl, ReentrancyGuardTransient, Multicall {
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
    /// @inheritdoc IVaultEngine
    bytes32 public constant RISK_ADMIN_ROLE = keccak256("RISK_ADMIN_ROLE");
    /// @inheritdoc IVaultEngine
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @inheritdoc IVaultEngine
    IPUSD public immutable pusd;
    /// @inheritdoc IVaultEngine
    IPortfolioMargin public immutable portfolio;
    /// @inheritdoc IVaultEngine
    IVaultNFT public immutable vaultNFT;

    mapping(address token => CollateralType) internal _collateral;
    address[] internal _collateralTokens;

    /// @dev One slot per vault: normalized debt (WAD; at most MAX_DEBT_CEILING, so 128 bits hold it), its margin
    ///      mode, whether it is in a margin call (set and cleared by the liquidation engine), and how many collateral
    ///      types it holds (the length of its token list, read with the rest for free).
    struct Vault {
        uint128 normalizedDebt;
        bool portfolioMargin;
        bool inMarginCall;
        uint8 collateralCount;
    }

    mapping(uint256 vaultId => Vault) internal _vaults;
    /// @dev The first `collateralCount` entries are the vault's collateral tokens, in deposit order (swap-and-pop).
    mapping(uint256 vaultId => address[MAX_COLLATERALS_PER_VAULT]) internal _vaultTokens;
    /// @inheritdoc IVaultEngine
    mapping(uint256 vaultId => mapping(address token => uint256)) public collateralBalance;

    /// @dev What `currentRate` reads, in one slot: the rate accumulator as of the last drip (RAY, at most MAX_RATE <
    ///      2^120), the last drip (seconds), the global pause (borrow and withdraw read it for free after the rate) and
    ///      the stability fee above RAY (RAY per second, at most MAX_STABILITY_FEE − RAY < 2^65). One cold read
    ///      instead of three.
    uint120 internal _rate;
    uint40 internal _lastDrip;
    bool internal _paused;
    uint72 internal _stabilityFeeAboveRay;
    /// @dev Transient: the block time (seconds) of this transaction's drip, at which the stored rate is the current
    ///      one. A batch drips first and then reads it for each vault instead of raising the fee to the power 0. A
    ///      time, not a flag: a test that warps inside one transaction must not read a stale rate.
    uint256 internal transient _rateCurrentAt;
    /// @inheritdoc IVaultEngine
    uint256 public totalNormalizedDebt;
    /// @inheritdoc IVaultEngine
    uint256 public badDebtRad;
    /// @dev Debt ceiling and dust floor (WAD pUSD, at most MAX_DEBT_CEILING < 2^128), read together by borrow.
    uint128 internal _debtCeiling;
    uint128 internal _dust;
    /// @inheritdoc IVaultEngine
    uint256 public surplusBuffer;
    /// @inheritdoc IVaultEngine
    address public liquidationEngine;
    /// @inheritdoc IVaultEngine
    uint256 public vaultCount;
    /// @inheritdoc IVaultEngine
    mapping(address token => mapping(address account => uint256)) public claimable;
    /// @inheritdoc IVaultEngine
    mapping(address token => uint256) public totalClaimable;

    /// @param admin gets DEFAULT_ADMIN_ROLE and RISK_ADMIN_ROLE (a deployer hands both to the timelock once the
    ///        protocol is configured); creates pUSD with this engine as its only minter, the PortfolioMargin, and
    ///        the VaultNFT.
    /// @param renderer what the VaultNFT's tokenURI renders with (fixed for good)
    /// @dev Reverts ZeroAddress.
    constructor(address admin, IVaultRenderer renderer) {
        if (admin == address(0) || address(renderer) == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RISK_ADMIN_ROLE, admin);
        pusd = new PUSD();
        portfolio = new PortfolioMargin();
        vaultNFT = new VaultNFT(renderer);
        _rate = uint120(RAY);
        _lastDrip = uint40(block.timestamp);
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
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
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
        portfolio.addCollateral(token, ltv, liquidationThreshold);
        emit CollateralAdded(
            token, address(oracle), decimals, ltv, liquidationThreshold, liquidationBonus, c.supplyCap
        );
    }

    /// @inheritdoc IVaultEngine
    function setRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external
        onlyRole(RISK_ADMIN_ROLE)
    {
        CollateralType storage c = _listed(token);
        _validateRisk(token, ltv, liquidationThreshold, liquidationBonus);
        portfolio.checkRiskParameters(token, ltv, liquidationThreshold);
        c.ltv = uint64(ltv);
        c.liquidationThreshold = uint64(liquidationThreshold);
        c.liquidationBonus = uint64(liquidationBonus);
        emit RiskParametersSet(token, ltv, liquidationThreshold, liquidationBonus);
    }

    /// @inheritdoc IVaultEngine
    function setSupplyCap(address token, uint256 supplyCap) external onlyRole(RISK_ADMIN_ROLE) {
        CollateralType storage c = _listed(token);
        if (supplyCap > MAX_SUPPLY_CAP) revert InvalidSupplyCap(supplyCap, MAX_SUPPLY_CAP);
        c.supplyCap = uint128(supplyCap);
        emit SupplyCapSet(token, supplyCap);
    }

    /// @inheritdoc IVaultEngine
    function setOracle(address token, IPriceOracle oracle) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(oracle) == address(0)) revert ZeroAddress();
        CollateralType storage c = _listed(token);
        (bool ok,) = _tryPrice(oracle);
        if (!ok) revert OracleNotPricing(address(oracle));
        c.oracle = oracle;
        emit OracleSet(token, address(oracle));
    }

    /// @inheritdoc IVaultEngine
    function setDebtCeiling(uint256 debtCeiling_) external onlyRole(RISK_ADMIN_ROLE) {
        if (debtCeiling_ > MAX_DEBT_CEILING) revert InvalidDebtCeiling(debtCeiling_, MAX_DEBT_CEILING);
        _debtCeiling = uint128(debtCeiling_);
        emit DebtCeilingSet(debtCeiling_);
    }

    /// @inheritdoc IVaultEngine
    function setDust(uint256 dust_) external onlyRole(RISK_ADMIN_ROLE) {
        if (dust_ > MAX_DEBT_CEILING) revert InvalidDust(dust_, MAX_DEBT_CEILING);
        _dust = uint128(dust_);
        emit DustSet(dust_);
    }

    /// @inheritdoc IVaultEngine
    function setStabilityFee(uint256 fee) external onlyRole(RISK_ADMIN_ROLE) {
        if (fee < RAY || fee > MAX_STABILITY_FEE) revert InvalidStabilityFee(fee);
        _drip();
        _stabilityFeeAboveRay = uint72(fee - RAY);
        emit StabilityFeeSet(fee);
    }

    /// @inheritdoc IVaultEngine
    function setLiquidationEngine(address liquidationEngine_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (liquidationEngine_ == address(0)) revert ZeroAddress();
        if (liquidationEngine != address(0)) revert LiquidationEngineAlreadySet(liquidationEngine);
        liquidationEngine = liquidationEngine_;
        emit LiquidationEngineSet(liquidationEngine_);
    }

    /// @inheritdoc IVaultEngine
    function setPaused(address token, bool paused_) external onlyRole(GUARDIAN_ROLE) {
        if (token == address(0)) _paused = paused_;
        else _listed(token).paused = paused_;
        emit PauseSet(token, paused_);
    }

    /// @inheritdoc IVaultEngine
    function setSurplusBuffer(uint256 buffer) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (buffer > MAX_DEBT_CEILING) revert InvalidSurplusBuffer(buffer, MAX_DEBT_CEILING);
        surplusBuffer = buffer;
        emit SurplusBufferSet(buffer);
    }

    /// @inheritdoc IVaultEngine
    function withdrawSurplus(address to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 available = withdrawableSurplus();
        if (amount > available) revert SurplusBelowBuffer(available, amount);
        pusd.mint(to, amount); // the minted pUSD is what lowers the surplus
        emit SurplusWithdrawn(to, amount);
    }

    /// @inheritdoc IVaultEngine
    function burnBadDebt(uint256 amount) external nonReentrant returns (uint256 burned) {
        if (amount == 0) revert ZeroAmount();
        uint256 badDebt_ = badDebtRad;
        if (badDebt_ == 0) revert NoBadDebt();
        burned = Math.min(amount, Math.ceilDiv(badDebt_, RAY));
        uint256 cancelled = Math.min(burned * RAY, badDebt_);
        badDebtRad = badDebt_ - cancelled;
        // The surplus gains burned·RAY − cancelled: the part of one RAD unit that rounding the burn up paid in excess.
        pusd.burn(msg.sender, burned);
        emit BadDebtBurned(msg.sender, burned, cancelled);
    }

    // ================================================================== vaults

    /// @inheritdoc IVaultEngine
    function open(address token, uint256 amount) external nonReentrant returns (uint256 vaultId) {
        vaultId = ++vaultCount;
        vaultNFT.mint(msg.sender, vaultId);
        emit VaultOpened(vaultId, msg.sender);
        if (amount != 0) _deposit(vaultId, token, amount);
    }

    /// @inheritdoc IVaultEngine
    function multicall(bytes[] calldata data)
        public
        override(IVaultEngine, Multicall)
        returns (bytes[] memory results)
    {
        return super.multicall(data);
    }

    /// @inheritdoc IVaultEngine
    function requireOwner(uint256 vaultId) external view {
        address owner = vaultId == 0 || vaultId > vaultCount ? address(0) : vaultNFT.ownerOf(vaultId);
        if (owner != msg.sender) revert NotVaultOwner(vaultId, msg.sender, owner);
    }

    /// @inheritdoc IVaultEngine
    function permitCollateral(address token, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
    {
        _listed(token);
        bool called;
        bytes memory reason;
        try IERC20Permit(token).permit(msg.sender, address(this), amount, deadline, v, r, s) {
            called = true;
        } catch (bytes memory failure) {
            reason = failure;
        }
        // What counts is the allowance: a front-run of the same permit already set it (OpenZeppelin's IERC20Permit
        // note), and a token without EIP-2612 may take the call in a fallback and set nothing.
        if (IERC20(token).allowance(msg.sender, address(this)) >= amount) return;
        if (called) revert PermitNotSupported(token);
        assembly ("memory-safe") {
            revert(add(reason, 32), mload(reason))
        }
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
        if (enabled && !portfolio.available()) revert PortfolioMarginUnavailable();
        Vault storage vault = _vaults[vaultId];
        vault.portfolioMargin = enabled;
        if (vault.normalizedDebt != 0) _requireMargin(vaultId, currentRate(), false);
        emit MarginModeSet(vaultId, msg.sender, enabled);
    }

    /// @inheritdoc IVaultEngine
    function withdraw(uint256 vaultId, address token, uint256 amount, address to)
        external
        nonReentrant
        returns (uint256)
    {
        _requireUnrestricted(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = collateralBalance[vaultId][token];
        bool indebted = _vaults[vaultId].normalizedDebt != 0;
        uint256 rate_ = indebted ? currentRate() : RAY;
        if (amount == type(uint256).max) {
            amount = indebted ? _maxWithdraw(vaultId, token, balance, rate_) : balance;
            if (amount == 0) revert NothingToWithdraw(vaultId, token);
        }
        if (amount > balance) revert InsufficientCollateral(vaultId, token, balance, amount);
        _removeCollateral(vaultId, token, balance, amount);
        if (indebted) _requireMargin(vaultId, rate_, true);
        IERC20(token).safeTransfer(to, amount);
        emit Withdraw(vaultId, token, msg.sender, to, amount);
        return amount;
    }

    /// @inheritdoc IVaultEngine
    function borrow(uint256 vaultId, uint256 amount, address to) external nonReentrant {
        _requireUnrestricted(vaultId);
        if (amount == 0) revert ZeroAmount();
        if (to == address(0)) revert ZeroAddress();
        uint256 rate_ = currentRate();
        uint256 added = amount.mulDivUp(RAY, rate_);
        Vault storage vault = _vaults[vaultId];
        uint256 vaultNormalizedDebt = vault.normalizedDebt + added;
        uint256 totalNormalizedDebt_ = totalNormalizedDebt + added;
        // Debts rounded up and compared in WAD: mulDiv cannot overflow whatever `amount` a caller passes.
        uint256 vaultDebt = vaultNormalizedDebt.mulDivUp(rate_, RAY);
        uint256 dust_ = _dust;
        if (vaultDebt < dust_) revert DebtBelowDust(vaultId, vaultDebt, dust_);
        uint256 totalDebtAfter = totalNormalizedDebt_.mulDivUp(rate_, RAY);
        uint256 ceiling = _debtCeiling;
        if (totalDebtAfter > ceiling) revert DebtCeilingExceeded(totalDebtAfter, ceiling);
        // debtCeiling <= MAX_DEBT_CEILING and rate >= RAY bound the normalized debt far below 2^128.
        vault.normalizedDebt = uint128(vaultNormalizedDebt);
        totalNormalizedDebt = totalNormalizedDebt_; // the surplus gains the residue added·rate − amount·RAY
        _requireMargin(vaultId, rate_, true);
        pusd.mint(to, amount);
        emit Borrow(vaultId, msg.sender, to, amount, added);
    }

    /// @inheritdoc IVaultEngine
    function repay(uint256 vaultId, uint256 amount) external nonReentrant returns (uint256 paid) {
        if (amount == 0) revert ZeroAmount();
        _requireExists(vaultId);
        Vault storage vault = _vaults[vaultId];
        uint256 vaultNormalizedDebt = vault.normalizedDebt;
        if (vaultNormalizedDebt == 0) revert NoDebt(vaultId);
        uint256 rate_ = currentRate();
        uint256 removed;
        (removed, paid) = _repayAmounts(vaultNormalizedDebt, rate_, amount);
        uint256 left = vaultNormalizedDebt - removed;
        if (left != 0) {
            uint256 leftDebt = left.mulDivUp(rate_, RAY);
            uint256 dust_ = _dust;
            if (leftDebt < dust_) revert DebtBelowDust(vaultId, leftDebt, dust_);
        }
        vault.normalizedDebt = uint128(left);
        totalNormalizedDebt -= removed; // the surplus gains the residue paid·RAY − removed·rate
        pusd.burn(msg.sender, paid);
        emit Repay(vaultId, msg.sender, paid, removed);
    }

    /// @inheritdoc IVaultEngine
    function drip() external returns (uint256) {
        return _drip();
    }

    /// @inheritdoc IVaultEngine
    function heal() external {
        uint256 amount = Math.min(surplusRad(), badDebtRad);
        if (amount == 0) return;
        badDebtRad -= amount; // and so the derived surplus falls by the same amount
        emit Heal(amount);
    }

    /// @inheritdoc IVaultEngine
    function seizeBatch(Seizure[] calldata seizures, address liquidator, bytes calldata data)
        external
        nonReentrant
        returns (uint256 repaid)
    {
        if (msg.sender != liquidationEngine) revert OnlyLiquidationEngine(msg.sender);
        uint256 rate_ = currentRate();
        uint256 burn; // pUSD, WAD: what the entries so far burn, once, after all of them
        // The collateral taken, summed per token: at most MAX_COLLATERALS_PER_VAULT new tokens per vault.
        address[] memory outTokens = new address[](seizures.length * MAX_COLLATERALS_PER_VAULT);
        uint256[] memory outAmounts = new uint256[](outTokens.length);
        uint256 distinct;
        for (uint256 i; i < seizures.length; ++i) {
            Seizure calldata s = seizures[i];
            (address[] memory tokens, uint256[] memory amounts, uint256 paid) =
                _seize(s, liquidator, rate_, burn);
            repaid += paid;
            burn += paid + s.protocolFee;
            for (uint256 j; j < tokens.length; ++j) {
                if (amounts[j] == 0) continue;
                emit CollateralSeized(s.vaultId, tokens[j], amounts[j]);
                uint256 k;
                while (k < distinct && outTokens[k] != tokens[j]) ++k;
                if (k == distinct) outTokens[distinct++] = tokens[j];
                outAmounts[k] += amounts[j];
            }
        }
        for (uint256 k; k < distinct; ++k) {
            _payOut(outTokens[k], liquidator, outAmounts[k]);
        }
        // Collateral first, pUSD last: a flash liquidator sells what it received and pays from the proceeds.
        if (data.length != 0) ILiquidationCallback(liquidator).onLiquidation(burn, data);
        pusd.burn(liquidator, burn);
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
        uint256 rate_ = currentRate();
        added = amount.mulDivUp(RAY, rate_);
        Vault storage vault = _vaults[vaultId];
        // Bounded by the vault's debt times MAX_STABILITY_FEE over at most MAX_GRACE: far below 2^128.
        vault.normalizedDebt += uint128(added);
        totalNormalizedDebt += added; // and the surplus gains added·rate
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
        tokens = _tokensOf(vaultId);
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
    function debt(uint256 vaultId) external view returns (uint256) {
        return uint256(_vaults[vaultId].normalizedDebt).mulDivUp(currentRate(), RAY);
    }

    /// @inheritdoc IVaultEngine
    function currentRate() public view returns (uint256) {
        if (_rateCurrentAt == block.timestamp) return _rate;
        return _accrue(_rate, _elapsed());
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
    function totalDebtRad() external view returns (uint256) {
        return totalNormalizedDebt * currentRate();
    }

    /// @inheritdoc IVaultEngine
    function stabilityFee() public view returns (uint256) {
        return RAY + _stabilityFeeAboveRay;
    }

    /// @inheritdoc IVaultEngine
    function debtCeiling() external view returns (uint256) {
        return _debtCeiling;
    }

    /// @inheritdoc IVaultEngine
    function dust() external view returns (uint256) {
        return _dust;
    }

    /// @inheritdoc IVaultEngine
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IVaultEngine
    function withdrawableSurplus() public view returns (uint256) {
        // Only what exceeds the recorded bad debt plus the buffer: the buffer absorbs the next write-offs.
        uint256 reserved = badDebtRad + surplusBuffer * RAY;
        uint256 surplus = surplusRad();
        return surplus > reserved ? (surplus - reserved) / RAY : 0;
    }

    /// @inheritdoc IVaultEngine
    function surplusRad() public view returns (uint256) {
        return _surplusRad(currentRate(), 0);
    }

    /// @inheritdoc IVaultEngine
    function collateralPrice(address token) external view returns (bool priced, uint256 price) {
        return _tryPrice(_collateral[token].oracle);
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

    /// @dev The surplus, RAD, at rate `rate_` (RAY, the current rate), counting `pendingBurnRad` of pUSD that the
    ///      running call burns after its effects (seize burns last, so in between the supply is that much too high).
    ///      Never negative: borrowing rounds normalized debt up, the rate only grows with time, and write-offs book
    ///      as bad debt what the surplus cannot cover.
    function _surplusRad(uint256 rate_, uint256 pendingBurnRad) internal view returns (uint256) {
        return totalNormalizedDebt * rate_ + badDebtRad + pendingBurnRad - pusd.backedSupply() * RAY;
    }

    /// @dev The vault's collateral tokens, in list order.
    function _tokensOf(uint256 vaultId) internal view returns (address[] memory tokens) {
        tokens = new address[](_vaults[vaultId].collateralCount);
        address[MAX_COLLATERALS_PER_VAULT] storage stored = _vaultTokens[vaultId];
        for (uint256 i; i < tokens.length; ++i) {
            tokens[i] = stored[i];
        }
    }

    /// @dev Vaults are never burned: ids 1..vaultCount exist.
    function _requireExists(uint256 vaultId) internal view {
        if (vaultId == 0 || vaultId > vaultCount) revert VaultNotFound(vaultId);
    }

    /// @dev The caller holds the vault's NFT or is approved for it (one call to the VaultNFT; existence is looked up
    ///      only to name the error).
    function _requireAuthorized(uint256 vaultId) internal view {
        if (!vaultNFT.isAuthorized(vaultId, msg.sender)) {
            _requireExists(vaultId);
            revert NotAuthorized(vaultId, msg.sender);
        }
    }

    /// @dev Authorized, and not in a margin call: what borrowing, withdrawing and a margin-mode switch need.
    function _requireUnrestricted(uint256 vaultId) internal view {
        _requireAuthorized(vaultId);
        if (_vaults[vaultId].inMarginCall) revert VaultInMarginCall(vaultId);
    }

    /// @dev Initial margin: debt (rounded up) must not exceed Σ value·LTV (rounded down). When it does and an
    ///      unpriced collateral is part of why, the failing oracle is called again so that its own error surfaces.
    ///      With `unpausedOnly` (borrowing, and withdrawing against debt) it first reverts Paused while the guardian
    ///      pauses everything or a type the vault holds; the margin loop reads each type's pause flag with its LTV.
    function _requireMargin(uint256 vaultId, uint256 rate_, bool unpausedOnly) internal view {
        if (unpausedOnly && _paused) revert Paused(address(0));
        (uint256 debt_, uint256 borrowPower, uint256 unpricedMask) = _initialMargin(vaultId, rate_, unpausedOnly);
        if (debt_ <= borrowPower) return;
        if (unpricedMask != 0) {
            address[MAX_COLLATERALS_PER_VAULT] storage tokens = _vaultTokens[vaultId];
            uint256 n = _vaults[vaultId].collateralCount;
            for (uint256 i; i < n; ++i) {
                if (unpricedMask & (1 << i) != 0) _collateral[tokens[i]].oracle.price(); // reverts with its error
            }
        }
        revert InsufficientMargin(vaultId, debt_, borrowPower);
    }

    /// @dev The vault's debt and initial margin only, exactly as `_valuation` computes them. In standard margin it
    ///      reads just the first slot of each collateral type (oracle, decimals, LTV) and allocates nothing: borrow
    ///      and withdraw skip the maintenance and bonus sums they do not need.
    function _initialMargin(uint256 vaultId, uint256 rate_, bool unpausedOnly)
        internal
        view
        returns (uint256 debt_, uint256 borrowPower, uint256 unpricedMask)
    {
        Vault storage vault = _vaults[vaultId];
        address[MAX_COLLATERALS_PER_VAULT] storage tokens = _vaultTokens[vaultId];
        uint256 n = vault.collateralCount;
        if (vault.portfolioMargin) {
            for (uint256 i; unpausedOnly && i < n; ++i) {
                if (_collateral[tokens[i]].paused) revert Paused(tokens[i]);
            }
            Valuation memory v = _valuation(vaultId, rate_);
            return (v.debt, v.borrowPower, v.unpricedMask);
        }
        debt_ = uint256(vault.normalizedDebt).mulDivUp(rate_, RAY);
        for (uint256 i; i < n; ++i) {
            (bool ok, uint256 power) = _borrowPowerOf(vaultId, tokens[i], unpausedOnly);
            if (ok) borrowPower += power;
            else unpricedMask |= 1 << i;
        }
    }

    /// @dev The most of `token` (balance `balance`, token decimals) that may leave the indebted vault at rate `rate_`:
    ///      MaxWithdraw.keptAmount kept back, 0 when the vault is already short of its initial margin. An unpriced
    ///      collateral counts zero, so all of it may leave when the rest covers the debt.
    function _maxWithdraw(uint256 vaultId, address token, uint256 balance, uint256 rate_)
        internal
        view
        returns (uint256)
    {
        if (balance == 0) return 0;
        Valuation memory v = _valuation(vaultId, rate_);
        if (v.borrowPower < v.debt) return 0;
        uint256 i;
        while (v.tokens[i] != token) ++i;
        if (v.unpricedMask & (1 << i) != 0) return balance;
        CollateralType storage c = _collateral[token];
        (, uint256 price) = _tryPrice(c.oracle);
        uint256 kept = MaxWithdraw.keptAmount(
            _vaults[vaultId].portfolioMargin ? portfolio : IPortfolioMargin(address(0)),
            v.tokens,
            v.values,
            v.borrowPower,
            i,
            v.debt,
            price,
            c.decimals,
            c.ltv
        );
        return kept >= balance ? 0 : balance - kept;
    }

    /// @dev floor(floor(amount·price / 10^decimals)·LTV / WAD) of one collateral, or ok = false when it is unpriced.
    ///      Reverts Paused(token) if `unpausedOnly` and the guardian paused the type.
    function _borrowPowerOf(uint256 vaultId, address token, bool unpausedOnly)
        internal
        view
        returns (bool ok, uint256 power)
    {
        CollateralType storage c = _collateral[token];
        if (unpausedOnly && c.paused) revert Paused(token);
        uint256 price;
        (ok, price) = _tryPrice(c.oracle);
        if (ok) power = collateralBalance[vaultId][token].mulDivDown(price, 10 ** c.decimals).mulDivDown(c.ltv, WAD);
    }

    /// @dev Per priced collateral, value = floor(amount·price / 10^decimals), then floor(value·param / WAD) for each
    ///      margin. An unpriced collateral adds nothing and sets its bit in unpricedMask. In portfolio margin,
    ///      borrowPower and maintenance are instead min over the grid's scenarios s of
    ///      V_s = Σ floor(value·(10^4 + shock_s in basis points) / 10^4).
    function _valuation(uint256 vaultId, uint256 rate_) internal view returns (Valuation memory v) {
        Vault storage vault = _vaults[vaultId];
        v.debt = uint256(vault.normalizedDebt).mulDivUp(rate_, RAY);
        bool inPortfolio = vault.portfolioMargin;
        v.inMarginCall = vault.inMarginCall;
        address[] memory tokens = _tokensOf(vaultId);
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
            if (!inPortfolio) {
                v.borrowPower += value.mulDivDown(c.ltv, WAD);
                v.maintenance += value.mulDivDown(c.liquidationThreshold, WAD);
            }
        }
        if (inPortfolio) (v.borrowPower, v.maintenance) = portfolio.margins(tokens, v.values);
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
    ///      An unlisted token has a zero supply cap, so the listing (the oracle's slot) is read only for a zero cap:
    ///      a deposit reads one slot of its collateral type, not two.
    function _deposit(uint256 vaultId, address token, uint256 amount) internal {
        CollateralType storage c = _collateral[token];
        if (c.supplyCap == 0) _listed(token); // reverts UnknownCollateral before any transfer
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        uint256 held = c.totalDeposited + received;
        if (held > c.supplyCap) revert SupplyCapExceeded(token, c.supplyCap, held);
        uint256 balance = collateralBalance[vaultId][token];
        if (balance == 0) {
            Vault storage vault = _vaults[vaultId];
            uint256 n = vault.collateralCount;
            if (n == MAX_COLLATERALS_PER_VAULT) revert TooManyCollaterals(vaultId, MAX_COLLATERALS_PER_VAULT);
            _vaultTokens[vaultId][n] = token;
            vault.collateralCount = uint8(n + 1);
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
        Vault storage vault = _vaults[vaultId];
        address[MAX_COLLATERALS_PER_VAULT] storage tokens = _vaultTokens[vaultId];
        uint256 last = vault.collateralCount - 1;
        for (uint256 i; i <= last; ++i) {
            if (tokens[i] == token) {
                tokens[i] = tokens[last];
                delete tokens[last];
                vault.collateralCount = uint8(last);
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
        tokens = _tokensOf(vaultId);
        amounts = new uint256[](tokens.length);
        for (uint256 i = tokens.length; i > 0;) {
            --i;
            if (unpricedMask & (1 << i) != 0) continue;
            uint256 balance = collateralBalance[vaultId][tokens[i]];
            amounts[i] = fraction == WAD ? balance : balance * fraction / WAD;
            if (amounts[i] != 0) _removeCollateral(vaultId, tokens[i], balance, amounts[i]);
        }
    }

    /// @dev The effects of one liquidation (one `seizeBatch` entry, for `liquidator`, at rate `rate_`): the debt, the
    ///      collateral taken out of the vault, a write-off when nothing is left to back the debt, and the Seize event.
    ///      Returns what to transfer and the pUSD applied to the debt (WAD). `pendingBurn` (WAD) is what earlier
    ///      entries of the same call burn after it: like this entry's repay and fee, already part of the surplus a
    ///      write-off may draw on.
    function _seize(Seizure calldata entry, address liquidator, uint256 rate_, uint256 pendingBurn)
        internal
        returns (address[] memory tokens, uint256[] memory amounts, uint256 repaid)
    {
        uint256 vaultId = entry.vaultId;
        if (entry.fraction > WAD) revert InvalidSeizeFraction(entry.fraction);
        // No existence check: the liquidation engine seizes only a vault it has just valued with debt.
        uint256 left;
        uint256 removed;
        (left, removed, repaid) = _applyRepay(vaultId, rate_, entry.repay);
        (tokens, amounts) = _takeCollateral(vaultId, entry.fraction, entry.unpricedMask);
        if (left != 0 && _vaults[vaultId].collateralCount == 0) {
            _writeOff(vaultId, left, rate_, (pendingBurn + repaid + entry.protocolFee) * RAY);
        }
        emit Seize(vaultId, liquidator, removed);
    }

    /// @dev Send `amount` (token decimals) of seized `token` to `to`. A paused or blocking token must not stop the
    ///      liquidation: then it is kept for `to` to claim.
    function _payOut(address token, address to, uint256 amount) internal {
        if (!IERC20(token).trySafeTransfer(to, amount)) {
            claimable[token][to] += amount;
            totalClaimable[token] += amount;
            emit CollateralClaimable(token, to, amount);
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
        totalNormalizedDebt -= removed; // the surplus gains the residue repaid·RAY − removed·rate
    }

    /// @dev Debt of a vault with no collateral: out of the surplus as far as it goes, the rest is bad debt. Removing
    ///      the normalized debt lowers the derived surplus by `owed`; booking `owed − covered` as bad debt gives back
    ///      what the surplus could not pay, so it ends at surplus − covered >= 0. `pendingBurnRad` is pUSD the
    ///      caller burns after this (checks-effects-interactions), already part of the surplus.
    function _writeOff(uint256 vaultId, uint256 vaultNormalizedDebt, uint256 rate_, uint256 pendingBurnRad) internal {
        uint256 owed = vaultNormalizedDebt * rate_;
        uint256 covered = Math.min(owed, _surplusRad(rate_, pendingBurnRad));
        _vaults[vaultId].normalizedDebt = 0;
        totalNormalizedDebt -= vaultNormalizedDebt;
        badDebtRad += owed - covered;
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
        rate_ = _rate;
        uint256 elapsed = _elapsed();
        if (elapsed != 0) {
            uint256 old = rate_;
            rate_ = _accrue(old, elapsed);
            uint256 accrued = totalNormalizedDebt * (rate_ - old);
            _rate = uint120(rate_);
            _lastDrip = uint40(block.timestamp);
            emit Drip(rate_, accrued); // the surplus gains `accrued` through the rate
        }
        _rateCurrentAt = block.timestamp;
    }

    /// @dev Seconds since the last drip, without a branch (its gas is the same at 0 s as later, see _accrue). Never
    ///      negative: a dev node answering a call for block N from block N+1's state (Anvil while it mines) could
    ///      otherwise see the last drip after the block's own time.
    function _elapsed() internal view returns (uint256 elapsed) {
        uint256 last = _lastDrip;
        assembly ("memory-safe") {
            elapsed := mul(sub(timestamp(), last), gt(timestamp(), last))
        }
    }

    /// @dev min(rate·fee^elapsed rounded down, MAX_RATE) (dss Jug.drip: rmul(rpow(duty, now − rho), rate)),
    ///      saturating so that no elapsed time can make it overflow. No shortcut for elapsed = 0: the power costs the
    ///      same gas for any elapsed time, so that a write estimated in the second of a drip (where elapsed is 0)
    ///      costs no more a second later (docs/gas.md).
    function _accrue(uint256 rate_, uint256 elapsed) internal view returns (uint256) {
        uint256 fee = stabilityFee();
        if (fee == RAY || rate_ >= MAX_RATE) return rate_;
        return Math.min(FixedPoint.rpowSaturating(fee, elapsed, MAX_RATE) * rate_ / RAY, MAX_RATE);
    }
}
