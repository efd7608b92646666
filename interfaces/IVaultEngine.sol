// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPriceOracle} from "./IPriceOracle.sol";
import {IPUSD} from "./IPUSD.sol";
import {IPortfolioMargin} from "./IPortfolioMargin.sol";
import {IVaultNFT} from "./IVaultNFT.sol";

/// @title IVaultEngine
/// @notice The accounting core of Plimsoll: collateral types, vaults, deposit, withdraw, borrow (mint pUSD), repay
///         (burn pUSD), the stability-fee rate accumulator and the surplus buffer. Vaults are ERC-721 tokens of the
///         VaultNFT the engine creates (`vaultNFT`): its holder, or whoever it approves, manages the vault here.
///         Several calls go in one transaction through OpenZeppelin's `multicall(bytes[])` (each call runs as if
///         sent alone by the same caller; the first revert reverts all): a deposit with an EIP-2612 permit is
///         `multicall([permitCollateral(...), deposit(...)])`, a new vault with two collaterals and a loan is one
///         transaction: `multicall([permits..., open(...), requireOwner(id), deposit(id, ...), borrow(id, ...)])`
///         with `id = vaultCount() + 1` read before sending. The `requireOwner` guard matters: anyone may open a
///         vault first, take that id and approve the caller for it; without the guard the caller's deposit and
///         borrow would then act on that stranger's vault (docs/integrating.md).
/// @dev Units: WAD = 1e18, RAY = 1e27, RAD = 1e45 (WAD * RAY). Token amounts are in the token's own decimals.
///      A vault's debt is `normalizedDebt * rate / RAY`, rounded up. The surplus is not stored: it is defined by one
///      identity, in RAD, `pusd.totalSupply() * RAY + surplusRad == totalNormalizedDebt * rate + badDebtRad`, and
///      every path keeps it non-negative (docs/invariants.md).
///      Oracle rule: a collateral whose oracle reverts (or runs out of its gas allowance) is unpriced. It counts as
///      worth zero for borrowing, withdrawing and liquidation, and a liquidation never seizes it. A vault whose debt
///      is backed by priced collateral therefore stays liquidatable when another of its collaterals cannot be
///      priced; a vault with no priced collateral left cannot be liquidated until a price returns.
///      Tokens: the engine books what arrives (fee-on-transfer tokens are credited net of the fee). Rebasing
///      tokens are not supported: list a non-rebasing wrapper instead. A seized collateral whose transfer fails is
///      kept for the liquidator to `claim`, so one paused or blocking token cannot stop a liquidation.
interface IVaultEngine {
    /// @notice Risk parameters and bookkeeping of one collateral type.
    /// @param oracle price source (USD per whole token, WAD); zero when the type is not listed
    /// @param decimals the token's decimals, read once when the type is added
    /// @param paused the guardian has paused borrowing and withdrawing against debt for vaults holding this type
    /// @param ltv maximum loan-to-value (initial margin), WAD
    /// @param supplyCap most of the token the engine may hold, token decimals
    /// @param totalDeposited the engine's balance of the token summed over vaults, token decimals
    /// @param liquidationThreshold maintenance margin, WAD; > ltv and < 1
    /// @param liquidationBonus collateral value paid per unit of debt repaid by a liquidator, WAD; >= 1
    /// @dev Three storage slots, grouped by who reads them: borrow and withdraw read only the first (oracle, decimals,
    ///      pause, LTV), deposit and withdraw the second (cap and total), liquidation all three.
    struct CollateralType {
        IPriceOracle oracle;
        uint8 decimals;
        bool paused;
        uint64 ltv;
        uint128 supplyCap;
        uint128 totalDeposited;
        uint64 liquidationThreshold;
        uint64 liquidationBonus;
    }

    /// @notice A vault's valuation at the current rate and oracle prices (all WAD USD unless stated).
    /// @param debt debt, WAD pUSD, rounded up
    /// @param collateralValue Σ amount·price/10^decimals, rounded down
    /// @param borrowPower Σ value·ltv, rounded down (initial margin)
    /// @param maintenance Σ value·liquidationThreshold, rounded down (maintenance margin)
    /// @param bonusValue Σ value·liquidationBonus, rounded down (what liquidators may be paid out of, per unit)
    /// @param unpricedMask bit i set when the vault's i-th collateral (vaultCollateral order) has no usable price;
    ///        such collateral counts as zero in every sum above
    /// @param tokens the vault's collateral tokens (vaultCollateral order)
    /// @param values value of each collateral, rounded down; 0 when unpriced
    /// @param inMarginCall whether the vault is in a margin call (inMarginCall)
    /// @dev In portfolio margin, borrowPower and maintenance are the worst scenario value of the initial and the
    ///      maintenance grid: min_s Σ value·(1 + shock_s), each term rounded down (docs/math.md).
    struct Valuation {
        uint256 debt;
        uint256 collateralValue;
        uint256 borrowPower;
        uint256 maintenance;
        uint256 bonusValue;
        uint256 unpricedMask;
        address[] tokens;
        uint256[] values;
        bool inMarginCall;
    }

    /// @notice One vault's share of a `seizeBatch`.
    /// @param vaultId the vault
    /// @param repay pUSD (WAD) applied to the debt (capped at the debt)
    /// @param protocolFee pUSD (WAD) credited to the surplus buffer
    /// @param fraction share of each priced collateral balance seized, WAD (1e18 = all, rounded down otherwise)
    /// @param unpricedMask collaterals not to touch (Valuation.unpricedMask)
    struct Seizure {
        uint256 vaultId;
        uint256 repay;
        uint256 protocolFee;
        uint256 fraction;
        uint256 unpricedMask;
    }

    // ------------------------------------------------------------------ errors
    /// @notice An amount argument is zero.
    error ZeroAmount();
    /// @notice An address argument is the zero address.
    error ZeroAddress();
    /// @notice No vault with this id exists.
    error VaultNotFound(uint256 vaultId);
    /// @notice The caller is neither the vault's owner nor an approved operator.
    error NotAuthorized(uint256 vaultId, address caller);
    /// @notice The token is not a listed collateral type.
    error UnknownCollateral(address token);
    /// @notice The token is already a listed collateral type.
    error CollateralAlreadyListed(address token);
    /// @notice The token's decimals are above 36 and not supported.
    error UnsupportedDecimals(address token, uint8 decimals);
    /// @notice The vault already holds the maximum number of collateral types.
    error TooManyCollaterals(uint256 vaultId, uint256 max);
    /// @notice Depositing would take the engine's holdings of `token` above its supply cap.
    error SupplyCapExceeded(address token, uint256 cap, uint256 wouldHold);
    /// @notice Withdrawing more than the vault holds.
    error InsufficientCollateral(uint256 vaultId, address token, uint256 balance, uint256 requested);
    /// @notice After the operation the vault's debt would exceed its borrow power (initial margin, LTV).
    error InsufficientMargin(uint256 vaultId, uint256 debt, uint256 borrowPower);
    /// @notice After the operation the vault's debt would be non-zero but below the dust floor.
    error DebtBelowDust(uint256 vaultId, uint256 debt, uint256 dust);
    /// @notice Borrowing would take total debt above the debt ceiling (WAD).
    error DebtCeilingExceeded(uint256 totalDebtAfter, uint256 debtCeiling);
    /// @notice Repaying a vault that has no debt.
    error NoDebt(uint256 vaultId);
    /// @notice `withdraw(vaultId, token, type(uint256).max, to)`: the vault holds none of `token`, or its initial
    ///         margin lets none of it leave.
    error NothingToWithdraw(uint256 vaultId, address token);
    /// @notice `requireOwner`: the caller does not hold the vault's VaultNFT token (`owner` does; zero: no such
    ///         vault). Being approved for it is not enough here.
    error NotVaultOwner(uint256 vaultId, address caller, address owner);
    /// @notice `permitCollateral`: the token took the permit call and set no allowance (it has no EIP-2612 permit;
    ///         a fallback function accepted the call).
    error PermitNotSupported(address token);
    /// @notice 0 < ltv < liquidationThreshold < 1, MIN_LIQUIDATION_BONUS <= liquidationBonus <=
    ///         MAX_LIQUIDATION_BONUS, and liquidationBonus·liquidationThreshold < 1 for this type and for every pair
    ///         of this type with another listed type must hold (WAD values). The pairwise rule bounds the
    ///         value-weighted bonus × threshold of any mixed vault below 1, so a partial liquidation always raises
    ///         health near HF = 1 (docs/math.md).
    error InvalidRiskParameters(uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus);
    /// @notice With this type, some other listed type `other` would break bonus·threshold < 1 across the pair.
    error RiskParametersConflict(address token, address other);
    /// @notice Already MAX_COLLATERAL_TYPES collateral types are listed.
    error TooManyCollateralTypes(uint256 max);
    /// @notice The debt ceiling must be at most MAX_DEBT_CEILING (WAD pUSD).
    error InvalidDebtCeiling(uint256 debtCeiling, uint256 max);
    /// @notice The dust floor must be at most MAX_DEBT_CEILING (WAD pUSD).
    error InvalidDust(uint256 dust, uint256 max);
    /// @notice A supply cap must be at most MAX_SUPPLY_CAP (token decimals).
    error InvalidSupplyCap(uint256 supplyCap, uint256 max);
    /// @notice The liquidation engine is wired once, at deployment, and can never be replaced: no one can switch
    ///         liquidations off by pointing the engine elsewhere.
    error LiquidationEngineAlreadySet(address liquidationEngine);
    /// @notice A new oracle must price the collateral when it is set.
    error OracleNotPricing(address oracle);
    /// @notice The call has too little gas left to give an oracle its full allowance (ORACLE_GAS): retry with a
    ///         higher gas limit. Guards against a caller starving an oracle to make a collateral look unpriced.
    error InsufficientGasForOracle(uint256 gasLeft, uint256 needed);
    /// @notice Nothing to claim.
    error NothingToClaim(address token, address account);
    /// @notice The stability fee must lie in [RAY, MAX_STABILITY_FEE] (per-second RAY factor).
    error InvalidStabilityFee(uint256 fee);
    /// @notice Only the liquidation engine may call this.
    error OnlyLiquidationEngine(address caller);
    /// @notice A seize fraction above 1 (WAD).
    error InvalidSeizeFraction(uint256 fraction);
    /// @notice Portfolio margin needs scenario grids, and governance has not set them.
    error PortfolioMarginUnavailable();
    /// @notice The vault is in a margin call: until it is cured (LiquidationEngine.cure) or liquidated, its owner
    ///         may deposit and repay, but not borrow, withdraw or switch margin mode.
    error VaultInMarginCall(uint256 vaultId);

    /// @notice The guardian has paused borrowing and withdrawing against debt for this collateral type (the zero
    ///         address: for every vault).
    error Paused(address token);
    /// @notice There is no recorded bad debt to burn pUSD against.
    error NoBadDebt();
    /// @notice A surplus withdrawal asks for more than the surplus above bad debt and the buffer (both WAD pUSD).
    error SurplusBelowBuffer(uint256 available, uint256 requested);
    /// @notice A surplus buffer above MAX_DEBT_CEILING.
    error InvalidSurplusBuffer(uint256 buffer, uint256 max);

    // ------------------------------------------------------------------ events
    /// @notice A collateral type was listed.
    event CollateralAdded(
        address indexed token,
        address oracle,
        uint8 decimals,
        uint256 ltv,
        uint256 liquidationThreshold,
        uint256 liquidationBonus,
        uint256 supplyCap
    );
    /// @notice A collateral type's LTV, liquidation threshold and liquidation bonus (WAD) were set.
    event RiskParametersSet(address indexed token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus);
    /// @notice A collateral type's supply cap (token decimals) was set.
    event SupplyCapSet(address indexed token, uint256 supplyCap);
    /// @notice A collateral type's oracle was replaced.
    event OracleSet(address indexed token, address oracle);
    /// @notice The global debt ceiling (WAD pUSD) was set.
    event DebtCeilingSet(uint256 debtCeiling);
    /// @notice The dust floor (WAD pUSD) was set.
    event DustSet(uint256 dust);
    /// @notice The per-second stability fee (RAY) was set.
    event StabilityFeeSet(uint256 stabilityFee);
    /// @notice The liquidation engine allowed to call `seizeBatch` was set.
    event LiquidationEngineSet(address liquidationEngine);
    /// @notice The rate accumulator was written: it moved to `rate` (RAY), and `accruedRad` (RAD) of stability fee
    ///         accrued since the last drip (already counted by currentRate, surplusRad and every debt).
    event Drip(uint256 rate, uint256 accruedRad);
    /// @notice A vault was opened (its ERC-721 minted to `owner`).
    event VaultOpened(uint256 indexed vaultId, address indexed owner);
    /// @notice Collateral (token decimals) moved from `from` into a vault.
    event Deposit(uint256 indexed vaultId, address indexed token, address indexed from, uint256 amount);
    /// @notice `caller` (the owner or an approved address) moved collateral (token decimals) out of a vault to `to`.
    event Withdraw(uint256 indexed vaultId, address indexed token, address indexed caller, address to, uint256 amount);
    /// @notice `caller` (the owner or an approved address) minted `amount` pUSD (WAD) to `to` against the vault; its
    ///         normalized debt rose by `normalizedDebt`.
    event Borrow(
        uint256 indexed vaultId, address indexed caller, address indexed to, uint256 amount, uint256 normalizedDebt
    );
    /// @notice `amount` pUSD (WAD) was burned from `payer`; the vault's normalized debt fell by `normalizedDebt`.
    event Repay(uint256 indexed vaultId, address indexed payer, uint256 amount, uint256 normalizedDebt);
    /// @notice Liquidation settled for `liquidator`: the vault's normalized debt fell by `normalizedDebt` (WAD). The
    ///         pUSD burned shows as pUSD's Transfer to address 0, each collateral taken as a CollateralSeized, and the
    ///         terms (repay, protocol fee, fraction) as the LiquidationEngine's Liquidate event of the same call.
    event Seize(uint256 indexed vaultId, address indexed liquidator, uint256 normalizedDebt);
    /// @notice One collateral's share of a Seize: `amount` (token decimals) of `token` left the vault.
    event CollateralSeized(uint256 indexed vaultId, address indexed token, uint256 amount);
    /// @notice A seized collateral could not be transferred to `to` (paused or blocking token): `amount` (token
    ///         decimals, the sum over the vaults of the same call, each in its CollateralSeized) waits in the engine
    ///         for `to` to claim.
    event CollateralClaimable(address indexed token, address indexed to, uint256 amount);
    /// @notice `account` claimed `amount` (token decimals) of `token` kept for it, sent to `to`.
    event Claim(address indexed token, address indexed account, address indexed to, uint256 amount);
    /// @notice A vault with no collateral left had `debtRad` (RAD) written off; `coveredRad` (RAD) came out of the
    ///         surplus, the rest was recorded as bad debt.
    event BadDebtWrittenOff(uint256 indexed vaultId, uint256 debtRad, uint256 coveredRad);
    /// @notice `amountRad` (RAD) of surplus cancelled the same amount of bad debt.
    event Heal(uint256 amountRad);
    /// @notice `caller` switched the vault to portfolio margin (`portfolio` true) or back to standard margin.
    event MarginModeSet(uint256 indexed vaultId, address indexed caller, bool portfolio);
    /// @notice The guardian paused or resumed borrowing and withdrawing against debt (token 0: globally).
    event PauseSet(address indexed token, bool paused);
    /// @notice `payer` burned `amount` pUSD (WAD) against recorded bad debt, cancelling `cancelledRad` (RAD).
    event BadDebtBurned(address indexed payer, uint256 amount, uint256 cancelledRad);
    /// @notice The surplus buffer (WAD pUSD) that surplus withdrawals must leave in place.
    event SurplusBufferSet(uint256 buffer);
    /// @notice Governance minted `amount` pUSD (WAD) of surplus above the buffer to `to`.
    event SurplusWithdrawn(address indexed to, uint256 amount);
    /// @notice A margin-call premium of `amount` (WAD pUSD) was added to the vault's debt (normalized debt +`normalizedDebt`)
    ///         and to the surplus.
    event PremiumCharged(uint256 indexed vaultId, uint256 amount, uint256 normalizedDebt);

    // ------------------------------------------------------------------ admin
    /// @notice List a collateral type. DEFAULT_ADMIN_ROLE only. Reads the token's decimals.
    /// @param token ERC-20 collateral (not rebasing)
    /// @param oracle its IPriceOracle
    /// @param ltv WAD
    /// @param liquidationThreshold WAD
    /// @param liquidationBonus WAD
    /// @param supplyCap token decimals, at most MAX_SUPPLY_CAP
    /// @dev Reverts ZeroAddress, CollateralAlreadyListed, TooManyCollateralTypes, UnsupportedDecimals,
    ///      InvalidRiskParameters, RiskParametersConflict, InvalidSupplyCap.
    function addCollateral(
        address token,
        IPriceOracle oracle,
        uint256 ltv,
        uint256 liquidationThreshold,
        uint256 liquidationBonus,
        uint256 supplyCap
    ) external;

    /// @notice Set a listed type's LTV, liquidation threshold, liquidation bonus (all WAD). RISK_ADMIN_ROLE only.
    /// @param token a listed collateral
    /// @param ltv WAD
    /// @param liquidationThreshold WAD
    /// @param liquidationBonus WAD
    /// @dev Reverts UnknownCollateral, InvalidRiskParameters, RiskParametersConflict.
    function setRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold, uint256 liquidationBonus)
        external;

    /// @notice Set a listed type's supply cap. RISK_ADMIN_ROLE only.
    /// @param token a listed collateral
    /// @param supplyCap token decimals, at most MAX_SUPPLY_CAP
    /// @dev Reverts UnknownCollateral, InvalidSupplyCap.
    function setSupplyCap(address token, uint256 supplyCap) external;

    /// @notice Replace a listed type's oracle. DEFAULT_ADMIN_ROLE only.
    /// @param token a listed collateral
    /// @param oracle the new IPriceOracle; it must price the collateral now
    /// @dev Reverts UnknownCollateral, ZeroAddress, OracleNotPricing.
    function setOracle(address token, IPriceOracle oracle) external;

    /// @notice Set the global debt ceiling. RISK_ADMIN_ROLE only.
    /// @param debtCeiling WAD pUSD, at most MAX_DEBT_CEILING
    /// @dev Reverts InvalidDebtCeiling.
    function setDebtCeiling(uint256 debtCeiling) external;

    /// @notice Set the dust floor (smallest non-zero vault debt). RISK_ADMIN_ROLE only.
    /// @param dust WAD pUSD, at most MAX_DEBT_CEILING
    /// @dev Reverts InvalidDust.
    function setDust(uint256 dust) external;

    /// @notice Accrue fees at the old fee, then set the per-second stability fee. RISK_ADMIN_ROLE only.
    /// @param fee per-second factor, RAY, in [RAY, MAX_STABILITY_FEE]
    /// @dev Reverts InvalidStabilityFee.
    function setStabilityFee(uint256 fee) external;

    /// @notice Wire the liquidation engine allowed to call `seizeBatch`. DEFAULT_ADMIN_ROLE only, once.
    /// @param liquidationEngine the LiquidationEngine
    /// @dev Reverts ZeroAddress, LiquidationEngineAlreadySet.
    function setLiquidationEngine(address liquidationEngine) external;

    // ------------------------------------------------------------------ vaults
    /// @notice Open a vault owned by the caller (its VaultNFT token is minted to the caller) and, when `amount` > 0,
    ///         deposit `amount` of `token` into it.
    /// @param token collateral to deposit (ignored when amount is 0)
    /// @param amount token decimals
    /// @return vaultId the new vault's id, also its VaultNFT token id (ids start at 1)
    /// @dev Reverts as `deposit` does. Needs an ERC-20 allowance of `amount` for the engine (or a permitCollateral
    ///      before it in the same multicall).
    function open(address token, uint256 amount) external returns (uint256 vaultId);

    /// @notice Run several calls of this engine in one transaction, in order, each as if the caller sent it alone
    ///         (OpenZeppelin's Multicall: a delegatecall to itself, so msg.sender is the caller throughout).
    /// @param data each call's ABI-encoded calldata (a function of this engine)
    /// @dev The first call that reverts reverts the whole batch with that call's own error. Not payable.
    /// @return results each call's ABI-encoded return data, in order
    function multicall(bytes[] calldata data) external returns (bytes[] memory results);

    /// @notice Revert unless the caller holds vault `vaultId`'s VaultNFT token itself (not merely approved for it): the
    ///         guard for a `multicall` that acts on a vault it opens, whose id it predicted as `vaultCount() + 1`.
    /// @param vaultId the vault
    /// @dev Reverts NotVaultOwner (owner zero when the vault does not exist).
    function requireOwner(uint256 vaultId) external view;

    /// @notice Set the caller's allowance of collateral `token` for this engine with its EIP-2612 permit, so that
    ///         `multicall([permitCollateral(...), deposit(...)])` (or `open`) deposits without an approval
    ///         transaction. Anyone may call; the permit is the caller's own, signed for this engine as spender.
    /// @param token a listed collateral implementing EIP-2612
    /// @param amount the allowance to set, token decimals
    /// @param deadline the permit's deadline, seconds
    /// @param v signature v
    /// @param r signature r
    /// @param s signature s
    /// @dev A permit that fails while the allowance already covers `amount` is ignored (someone submitted the same
    ///      signed permit first: the deposit still goes through). Reverts UnknownCollateral, the token's own error
    ///      when the permit fails (OpenZeppelin's ERC2612ExpiredSignature, ERC2612InvalidSigner, ECDSA errors), and
    ///      PermitNotSupported when it returns without setting the allowance.
    function permitCollateral(address token, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;

    /// @notice Move `amount` (token decimals) of `token` from the caller into the vault. Owner or operator only.
    ///         Never needs a price. The vault is credited with what the engine received.
    /// @param vaultId the vault
    /// @param token a listed collateral
    /// @param amount token decimals, sent by the caller (needs an allowance)
    /// @dev Reverts ZeroAmount (also when nothing arrives), VaultNotFound, NotAuthorized, UnknownCollateral,
    ///      SupplyCapExceeded, TooManyCollaterals (at most MAX_COLLATERALS_PER_VAULT types per vault).
    function deposit(uint256 vaultId, address token, uint256 amount) external;

    /// @notice Switch the vault to portfolio margin (requirements from the scenario grids over its whole basket) or
    ///         back to standard margin (per-collateral LTV and LT). Owner or operator only.
    /// @param vaultId the vault
    /// @param enabled true for portfolio margin
    /// @dev A vault with debt must pass the initial margin of its new mode. Reverts VaultNotFound, NotAuthorized,
    ///      VaultInMarginCall, PortfolioMarginUnavailable (no grids yet), InsufficientGasForOracle, and InsufficientMargin or the
    ///      failing oracle's own error (as `withdraw`).
    function setPortfolioMargin(uint256 vaultId, bool enabled) external;

    /// @notice Move `amount` (token decimals) of `token` out of the vault to `to`. Owner or operator only.
    ///         `type(uint256).max` withdraws everything the margin allows: the whole balance without debt, else the
    ///         most that keeps borrowPower >= debt (one wei more would revert InsufficientMargin).
    /// @param vaultId the vault
    /// @param token a collateral the vault holds
    /// @param amount token decimals, or type(uint256).max for the most the margin allows
    /// @param to recipient
    /// @dev With debt, the vault must stay at or above the initial margin (borrowPower >= debt, unpriced collateral
    ///      counting zero). The maximum inverts the margin's roundings (MaxWithdraw.keptAmount, docs/math.md), the
    ///      same calculation as VaultLens.maxWithdraw. Reverts ZeroAmount, ZeroAddress, VaultNotFound,
    ///      NotAuthorized, VaultInMarginCall, InsufficientCollateral, NothingToWithdraw (max, and nothing may leave),
    ///      InsufficientGasForOracle, and InsufficientMargin, or instead the failing oracle's own error when an
    ///      unpriced collateral is why the margin falls short; then, with debt, Paused (see setPaused).
    /// @return withdrawn the amount sent to `to`, token decimals
    function withdraw(uint256 vaultId, address token, uint256 amount, address to) external returns (uint256 withdrawn);

    /// @notice Mint `amount` pUSD (WAD) to `to` against the vault. Owner or operator only.
    /// @param vaultId the vault
    /// @param amount WAD pUSD
    /// @param to recipient of the pUSD
    /// @dev Normalized debt rises by ceil(amount·RAY/rate). Reverts ZeroAmount, ZeroAddress, VaultNotFound,
    ///      NotAuthorized, VaultInMarginCall, DebtBelowDust, DebtCeilingExceeded, InsufficientGasForOracle, and InsufficientMargin or
    ///      the failing oracle's own error (as `withdraw`), then Paused (see setPaused).
    function borrow(uint256 vaultId, uint256 amount, address to) external;

    /// @notice Burn up to `amount` pUSD (WAD) from the caller to reduce the vault's debt. Anyone may repay; never
    ///         needs a price.
    /// @param vaultId the vault
    /// @param amount WAD pUSD; type(uint256).max (or anything above the debt) repays all
    /// @dev An amount at or above the debt repays all of it and burns exactly the debt (rounded up); otherwise
    ///      `amount` is burned and normalized debt falls by floor(amount·RAY/rate).
    ///      Reverts ZeroAmount, VaultNotFound, NoDebt, DebtBelowDust, ERC20InsufficientBalance.
    /// @return paid pUSD burned, WAD
    function repay(uint256 vaultId, uint256 amount) external returns (uint256 paid);

    /// @notice Write the rate accumulator: rate ← rate·fee^(now − lastDrip). Every operation already uses this rate
    ///         (currentRate); storing it matters only before the fee changes, which setStabilityFee does itself.
    /// @return rate the updated accumulator, RAY
    function drip() external returns (uint256 rate);

    /// @notice Cancel bad debt against the surplus buffer, as far as the surplus goes. Anyone may call.
    function heal() external;

    /// @notice Recapitalisation: burn up to `amount` pUSD (WAD) from the caller against recorded bad debt. Anyone may
    ///         call; never needs a price.
    /// @param amount WAD pUSD; anything above the bad debt (rounded up to whole WAD units) burns only that
    /// @return burned pUSD burned, WAD
    /// @dev Bad debt falls by min(burned·RAY, badDebtRad); the rest of the last unit goes to the surplus.
    ///      Reverts ZeroAmount, NoBadDebt, ERC20InsufficientBalance.
    function burnBadDebt(uint256 amount) external returns (uint256 burned);

    /// @notice Pause (or resume) borrowing and withdrawing against debt: for every vault holding `token`, or for
    ///         every vault when `token` is the zero address. GUARDIAN_ROLE only. Deposit, repay, withdrawing from a
    ///         vault without debt, liquidation and margin-call cures are never paused.
    /// @param token a listed collateral, or the zero address for the global pause
    /// @param paused true to pause, false to resume
    /// @dev The check runs on what the vault holds after the operation: withdrawing all of a paused type is allowed
    ///      (the margin then no longer depends on its price), withdrawing part of it is not. A pause does not lapse;
    ///      the Timelock can always end one (it may grant itself GUARDIAN_ROLE). Reverts
    ///      AccessControlUnauthorizedAccount, UnknownCollateral.
    function setPaused(address token, bool paused) external;

    /// @notice Set the surplus buffer that surplus withdrawals must leave in place. DEFAULT_ADMIN_ROLE only.
    /// @param buffer WAD pUSD, at most MAX_DEBT_CEILING
    /// @dev Reverts AccessControlUnauthorizedAccount, InvalidSurplusBuffer.
    function setSurplusBuffer(uint256 buffer) external;

    /// @notice Mint `amount` pUSD of surplus to `to`: only what the surplus holds above the recorded bad debt plus
    ///         the buffer (withdrawableSurplus). DEFAULT_ADMIN_ROLE only.
    /// @param to recipient
    /// @param amount WAD pUSD
    /// @dev Keeps the accounting identity: surplus falls by amount·RAY as the supply rises by amount. The minted pUSD
    ///      does not count against the debt ceiling, and the surplus includes fees accrued on vaults that may yet be
    ///      written off: size the buffer for that (docs/governance.md).
    ///      Reverts AccessControlUnauthorizedAccount, ZeroAmount, ZeroAddress, SurplusBelowBuffer.
    function withdrawSurplus(address to, uint256 amount) external;

    /// @notice Liquidation settlement, for one vault or several. Liquidation engine only. Each vault is settled in
    ///         order: `repay` applied to its debt, `fraction` of each priced collateral taken out, and its debt written
    ///         off against the surplus when no collateral is left. Then the liquidator receives each collateral in
    ///         one transfer, its callback runs if `data` is not empty, and it pays Σ (repaid + protocolFee) pUSD in
    ///         one burn.
    /// @param seizures one entry per vault, with distinct vault ids (the LiquidationEngine requires them ascending)
    /// @param liquidator receives the seized collateral, then pays in pUSD (burned, no allowance)
    /// @param data empty: no callback; otherwise passed to `ILiquidationCallback(liquidator).onLiquidation`, which
    ///        runs after the collateral is sent and before the pUSD is burned (flash liquidation)
    /// @dev A write-off counts the pUSD that the earlier entries will burn as part of the surplus. A collateral whose
    ///      transfer to the liquidator fails becomes claimable by it (CollateralClaimable).
    ///      Reverts OnlyLiquidationEngine, InvalidSeizeFraction, ERC20InsufficientBalance, and the callback's own
    ///      error.
    /// @return repaid pUSD (WAD) actually applied to the debts, summed
    function seizeBatch(Seizure[] calldata seizures, address liquidator, bytes calldata data)
        external
        returns (uint256 repaid);

    /// @notice Mark or unmark a vault as in a margin call (borrow, withdraw and margin-mode switches refused).
    ///         Liquidation engine only.
    /// @param vaultId the vault
    /// @param active true while the call lasts
    /// @dev Reverts OnlyLiquidationEngine, VaultNotFound.
    function setMarginCall(uint256 vaultId, bool active) external;

    /// @notice Add a margin-call premium to a vault's debt; it goes to the surplus. Liquidation engine only.
    /// @param vaultId the vault
    /// @param amount WAD pUSD
    /// @dev Normalized debt rises by ceil(amount·RAY/rate); the debt ceiling does not apply. Reverts
    ///      OnlyLiquidationEngine.
    /// @return added normalized debt added, WAD
    function chargePremium(uint256 vaultId, uint256 amount) external returns (uint256 added);

    /// @notice Send the caller's claimable `token` (seized collateral whose transfer failed) to `to`.
    /// @param token the collateral token
    /// @param to recipient
    /// @dev Reverts ZeroAddress, NothingToClaim, and the token's own error if it still refuses the transfer (the
    ///      claim then stays).
    /// @return amount token decimals sent
    function claim(address token, address to) external returns (uint256 amount);

    // ------------------------------------------------------------------ views
    /// @notice The stablecoin minted by this engine.
    function pusd() external view returns (IPUSD);
    /// @notice The vaults' ERC-721 (enumerable), created by this engine: ownership and approvals of every vault.
    function vaultNFT() external view returns (IVaultNFT);
    /// @notice The PortfolioMargin contract this engine created: the scenario grids and the portfolio margins of a
    ///         basket (governed by this engine's RISK_ADMIN_ROLE).
    function portfolio() external view returns (IPortfolioMargin);
    /// @notice Liquidation engine allowed to call `seizeBatch`.
    function liquidationEngine() external view returns (address);
    /// @notice A collateral type's parameters (oracle is zero when not listed).
    /// @param token the collateral token
    function collateralType(address token) external view returns (CollateralType memory);
    /// @notice All listed collateral tokens, in listing order.
    function collateralTokens() external view returns (address[] memory);
    /// @notice The vault's collateral tokens and balances (token decimals), at most MAX_COLLATERALS_PER_VAULT.
    /// @param vaultId the vault
    function vaultCollateral(uint256 vaultId) external view returns (address[] memory tokens, uint256[] memory amounts);
    /// @notice The vault's balance of one collateral, token decimals.
    /// @param vaultId the vault
    /// @param token the collateral token
    function collateralBalance(uint256 vaultId, address token) external view returns (uint256);
    /// @notice The vault's normalized debt (WAD); debt = normalizedDebt·rate/RAY.
    /// @param vaultId the vault
    function normalizedDebt(uint256 vaultId) external view returns (uint256);
    /// @notice Whether the vault is in portfolio margin.
    /// @param vaultId the vault
    function portfolioMargin(uint256 vaultId) external view returns (bool);
    /// @notice Whether the vault is in a margin call (LiquidationEngine.marginCallOf has its terms).
    /// @param vaultId the vault
    function inMarginCall(uint256 vaultId) external view returns (bool);
    /// @notice The vault's debt at the rate accrued up to now, WAD pUSD rounded up.
    /// @param vaultId the vault
    function debt(uint256 vaultId) external view returns (uint256);
    /// @notice The rate accumulator accrued up to now (what `drip` would store), RAY: the rate every operation uses.
    function currentRate() external view returns (uint256);
    /// @notice The rate accumulator as of the last drip, RAY (currentRate() includes the time since).
    function rate() external view returns (uint256);
    /// @notice Timestamp (seconds) of the last drip.
    function lastDrip() external view returns (uint256);
    /// @notice Σ normalized debt over all vaults, WAD.
    function totalNormalizedDebt() external view returns (uint256);
    /// @notice Total debt at the current rate, RAD (= totalNormalizedDebt·currentRate).
    function totalDebtRad() external view returns (uint256);
    /// @notice Protocol equity: accrued fees, rounding residue and liquidation fees, RAD, at the current rate.
    /// @dev Derived, not stored: totalNormalizedDebt·currentRate + badDebtRad − pusd.totalSupply()·RAY. Keeping it in storage
    ///      cost every borrow, repay and liquidation a cold read and a write (docs/gas.md).
    function surplusRad() external view returns (uint256);
    /// @notice Debt written off that the surplus could not cover, RAD.
    function badDebtRad() external view returns (uint256);
    /// @notice Global debt ceiling, WAD pUSD.
    function debtCeiling() external view returns (uint256);
    /// @notice Smallest non-zero vault debt, WAD pUSD.
    function dust() external view returns (uint256);
    /// @notice Per-second stability fee, RAY.
    function stabilityFee() external view returns (uint256);
    /// @notice Surplus that withdrawals must leave in place, WAD pUSD.
    function surplusBuffer() external view returns (uint256);
    /// @notice What withdrawSurplus may mint now: surplus above bad debt plus the buffer, WAD pUSD, rounded down.
    function withdrawableSurplus() external view returns (uint256);
    /// @notice Whether the guardian has paused borrowing and withdrawing against debt for every vault.
    function paused() external view returns (bool);
    /// @notice Role that sets risk parameters: the timelock and the RiskSteward (docs/governance.md).
    function RISK_ADMIN_ROLE() external view returns (bytes32);
    /// @notice Role that may pause borrowing and withdrawing against debt (docs/governance.md).
    function GUARDIAN_ROLE() external view returns (bytes32);
    /// @notice Number of vaults ever opened (the last id).
    function vaultCount() external view returns (uint256);
    /// @notice Seized collateral (token decimals) kept for `account` because its transfer failed.
    /// @param token the collateral token
    /// @param account the liquidator it is kept for
    function claimable(address token, address account) external view returns (uint256);
    /// @notice Σ claimable over accounts for `token`, token decimals. The engine holds
    ///         totalDeposited + totalClaimable of each collateral.
    /// @param token the collateral token
    function totalClaimable(address token) external view returns (uint256);
    /// @notice The price the engine uses for a collateral now, under its oracle rule: priced = false (and price 0)
    ///         when the oracle reverts, runs out of its ORACLE_GAS allowance, returns malformed data, zero, or more
    ///         than MAX_PRICE.
    /// @param token a collateral token (unlisted: unpriced)
    /// @dev Reverts InsufficientGasForOracle when the call has too little gas to give the oracle its allowance.
    /// @return priced whether the collateral has a usable price
    /// @return price USD per whole token, WAD
    function collateralPrice(address token) external view returns (bool priced, uint256 price);
    /// @notice The vault's valuation at current oracle prices and the rate accrued to now. Never reverts on a
    ///         failing oracle: that collateral is flagged in unpricedMask and counts zero.
    /// @param vaultId the vault
    function valuation(uint256 vaultId) external view returns (Valuation memory);
    /// @notice Health factor maintenance / debt (Σ value·LT, or the worst maintenance scenario in portfolio margin), WAD, rounded down (unpriced collateral counting zero);
    ///         type(uint256).max without debt.
    /// @param vaultId the vault
    function healthFactor(uint256 vaultId) external view returns (uint256);
}
