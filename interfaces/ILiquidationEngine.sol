// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IVaultEngine} from "./IVaultEngine.sol";

/// @title ILiquidationEngine
/// @notice Anyone may close an unsafe vault (health factor < 1): repay part or all of its debt in pUSD and take
///         collateral worth the repaid amount times the vault's liquidation bonus, which grows with the shortfall.
/// @dev Amounts: pUSD and USD values in WAD. The repay r* that restores the target health T is
///      r* = (T·D − M) / (T − LB·LT) with D the debt, M the maintenance margin (Σ value·LT, or the worst
///      maintenance scenario in portfolio margin), LB the vault's bonus at its depth and LT = M / Σ value
///      (docs/math.md derives it for both margin modes; every collateral is seized in the same fraction).
///      The bonus is the value-weighted mean of the collateral types' bonuses, paid in full at or below
///      maxBonusHealth and falling linearly to bonusFloor (or the types' own bonus, if lower) just under HF 1.
///      The whole debt is repaid when HF < fullLiquidationHealth, when LB·LT >= T (a partial liquidation could not
///      raise health), or when the remainder would be below dust. A partial liquidation is scaled down so that the
///      value seized of each collateral fits that collateral's volume cap (a rolling window); a full one never is. When the collateral V cannot pay the full bonus
///      on r, all of it is seized: the whole debt is repaid while V >= D (the bonus shrinks to V/D, no bad debt),
///      otherwise r = V/LB and the rest is written off. The liquidator pays r plus the protocol's share of the
///      bonus, `protocolFee = (seized value − r)·protocolShare`, which goes to the surplus buffer.
///      Only priced collateral enters V, M and LB, and only it is seized (IVaultEngine, "Oracle rule").
///      Anyone may liquidate, the vault's owner included.
interface ILiquidationEngine {
    /// @notice What a liquidation of a vault would do now (all WAD).
    /// @param healthFactor before
    /// @param repay pUSD applied to the debt
    /// @param protocolFee extra pUSD to the surplus
    /// @param fraction share of each priced collateral balance seized (1e18 = all)
    /// @param seizedValue USD value of the collateral seized, at the oracle prices of the valuation
    /// @param full whether the whole debt goes (repaid or written off)
    struct Plan {
        uint256 healthFactor;
        uint256 repay;
        uint256 protocolFee;
        uint256 fraction;
        uint256 seizedValue;
        bool full;
    }

    /// @notice A collateral type's margin-call terms (all zero: not offered).
    /// @param gracePeriod seconds a called vault has to restore its initial margin before it may be liquidated
    /// @param hardFloor health (WAD) below which a called vault is liquidated at once
    /// @param premium extra per-second fee (RAY factor) on the debt while the call lasts, to the surplus
    struct MarginCallTerms {
        uint32 gracePeriod;
        uint64 hardFloor;
        uint128 premium;
    }

    /// @notice A vault's margin call (all zero: none).
    /// @param deadline end of the grace window, seconds
    /// @param chargedUntil the premium is booked up to this time, seconds
    /// @param hardFloor health (WAD) below which the vault is liquidated even in its grace window
    /// @param premium per-second RAY factor accruing on the debt
    struct MarginCallState {
        uint40 deadline;
        uint40 chargedUntil;
        uint64 hardFloor;
        uint112 premium;
    }

    /// @notice Constructor parameters (all WAD but capWindow, seconds); see the setters for their bounds.
    /// @param targetHealth health a partial liquidation restores
    /// @param fullLiquidationHealth below it the whole debt is repaid
    /// @param protocolShare share of the bonus paid to the surplus buffer
    /// @param bonusFloor bonus just under HF 1
    /// @param maxBonusHealth at or below it the full bonus is paid
    /// @param capWindow the volume caps' rolling window
    struct InitialParameters {
        uint256 targetHealth;
        uint256 fullLiquidationHealth;
        uint256 protocolShare;
        uint256 bonusFloor;
        uint256 maxBonusHealth;
        uint256 capWindow;
    }

    /// @notice The vault's health factor (WAD) is at or above 1, or it has no debt.
    error NotLiquidatable(uint256 vaultId, uint256 healthFactor);
    /// @notice The vault is unsafe but none of its collateral can be priced now: it waits for a price.
    error NoPricedCollateral(uint256 vaultId);
    /// @notice 1 < targetHealth <= MAX_TARGET_HEALTH, fullLiquidationHealth <= 1 and
    ///         protocolShare <= MAX_PROTOCOL_SHARE must hold (WAD).
    error InvalidLiquidationParameters(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare);
    /// @notice MIN_BONUS_FLOOR <= bonusFloor <= MAX_BONUS_FLOOR and maxBonusHealth < 1 must hold (WAD).
    error InvalidBonusCurve(uint256 bonusFloor, uint256 maxBonusHealth);
    /// @notice The volume-cap window must lie in [MIN_CAP_WINDOW, MAX_CAP_WINDOW] seconds.
    error InvalidCapWindow(uint256 window);
    /// @notice A volume cap is 0 (none) or in [MIN_LIQUIDATION_CAP, 2^96 − 1], WAD USD per window.
    error InvalidLiquidationCap(address token, uint256 cap);
    /// @notice Margin-call terms are all zero (off), or 0 < gracePeriod <= MAX_GRACE_PERIOD, MIN_HARD_FLOOR <=
    ///         hardFloor < 1 (WAD) and RAY <= premium <= MAX_PREMIUM.
    error InvalidMarginCallTerms(address token, uint256 gracePeriod, uint256 hardFloor, uint256 premium);
    /// @notice The vault is already in a margin call, until `deadline`.
    error AlreadyInMarginCall(uint256 vaultId, uint256 deadline);
    /// @notice Not every collateral of the vault offers margin calls: it is liquidated as usual.
    error MarginCallNotOffered(uint256 vaultId);
    /// @notice The vault's health (WAD) is below its hard floor: it is liquidated at once, not called.
    error BelowHardFloor(uint256 vaultId, uint256 healthFactor, uint256 hardFloor);
    /// @notice The vault is not in a margin call.
    error NotInMarginCall(uint256 vaultId);
    /// @notice A call ends when the vault is back at its initial margin: its debt (WAD) is still above its borrow
    ///         power (WAD).
    error MarginCallNotCured(uint256 vaultId, uint256 debt, uint256 borrowPower);
    /// @notice The vault is in its margin call's grace window until `deadline` and above its hard floor.
    error MarginCallGracePeriod(uint256 vaultId, uint256 deadline);
    /// @notice Every collateral of the vault offers margin calls and it is above their hard floor: it must be called
    ///         (`marginCall`, anyone may) and its grace window run out before it can be liquidated.
    error MarginCallRequired(uint256 vaultId);
    /// @notice The vault's partial liquidation must wait: `token`'s volume cap has no room left in this window.
    ///         It refills linearly over capWindow; a vault below fullLiquidationHealth is liquidated regardless.
    error LiquidationCapReached(address token);
    /// @notice A batch's vault ids must be strictly ascending (so that no vault is liquidated twice on one valuation);
    ///         the one at `index` is not above the one before it.
    error BatchNotAscending(uint256 index);
    /// @notice A constructor address argument is the zero address.
    error ZeroAddress();
    /// @notice `flashLiquidate` needs callback data (without a callback, use liquidateBatch).
    error EmptyCallbackData();

    /// @notice A vault was liquidated by `liquidator`: `repaid` (WAD pUSD) of its debt, `protocolFee` to the
    ///         surplus, `fraction` (WAD) of each collateral balance, worth `seizedValue` (WAD USD), to the
    ///         liquidator; `healthFactor` before (WAD).
    event Liquidate(
        uint256 indexed vaultId,
        address indexed liquidator,
        uint256 repaid,
        uint256 protocolFee,
        uint256 fraction,
        uint256 seizedValue,
        uint256 healthFactor,
        bool full
    );
    /// @notice Target health, full-liquidation health and protocol share (all WAD) were set.
    event LiquidationParametersSet(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare);
    /// @notice The bonus curve was set: `bonusFloor` just under HF 1, the full bonus at `maxBonusHealth` (WAD).
    event BonusCurveSet(uint256 bonusFloor, uint256 maxBonusHealth);
    /// @notice The volume caps' rolling window was set, seconds.
    event CapWindowSet(uint256 window);
    /// @notice A collateral type's margin-call terms were set (see MarginCallTerms; all zero: not offered).
    event MarginCallTermsSet(address indexed token, uint256 gracePeriod, uint256 hardFloor, uint256 premium);
    /// @notice A vault below its maintenance margin was called: it has until `deadline` (seconds) to restore its
    ///         initial margin; below `hardFloor` (WAD) it is liquidated at once; its debt accrues `premium` (per-second
    ///         RAY factor) meanwhile. `healthFactor` (WAD) at the call.
    event MarginCall(uint256 indexed vaultId, uint256 deadline, uint256 hardFloor, uint256 premium, uint256 healthFactor);
    /// @notice A called vault was restored to its initial margin; `premium` (WAD pUSD) was booked at the end.
    event MarginCallCured(uint256 indexed vaultId, uint256 premium);
    /// @notice A called vault was liquidated, which ends its call.
    event MarginCallEnded(uint256 indexed vaultId);
    /// @notice A collateral type's liquidation volume cap was set, WAD USD of seized value per window (0 = none).
    event LiquidationCapSet(address indexed token, uint256 cap);

    /// @notice The accounting core this module settles through.
    function engine() external view returns (IVaultEngine);
    /// @notice Role that sets the parameters: the timelock and the RiskSteward (docs/governance.md).
    function RISK_ADMIN_ROLE() external view returns (bytes32);
    /// @notice Health (WAD) a partial liquidation restores, > 1.
    function targetHealth() external view returns (uint256);
    /// @notice Below this health (WAD, <= 1) the whole debt is repaid.
    function fullLiquidationHealth() external view returns (uint256);
    /// @notice Protocol's share of the liquidation bonus, WAD (<= MAX_PROTOCOL_SHARE).
    function protocolShare() external view returns (uint256);
    /// @notice Bonus paid just under HF 1 (capped by the collateral's own bonus), WAD.
    function bonusFloor() external view returns (uint256);
    /// @notice At or below this health (WAD) the collateral's full bonus is paid.
    function maxBonusHealth() external view returns (uint256);
    /// @notice The volume caps' rolling window, seconds.
    function capWindow() external view returns (uint256);
    /// @notice A collateral type's volume cap, WAD USD of seized value per window; 0 = none.
    /// @param token the collateral token
    function liquidationCap(address token) external view returns (uint256);
    /// @notice Seized value (WAD USD) a collateral type's cap still admits now; type(uint256).max without a cap.
    /// @param token the collateral token
    function liquidationRoom(address token) external view returns (uint256);
    /// @notice A collateral type's margin-call terms.
    /// @param token the collateral token
    function marginCallTerms(address token) external view returns (MarginCallTerms memory);
    /// @notice A vault's margin call; all zero when it has none.
    /// @param vaultId the vault
    function marginCallOf(uint256 vaultId) external view returns (MarginCallState memory);
    /// @notice Premium (WAD pUSD) accrued on a called vault and not yet booked into its debt. It accrues only inside
    ///         the grace window: from the call (or the last booking) to the deadline at the latest.
    /// @param vaultId the vault
    function pendingPremium(uint256 vaultId) external view returns (uint256);
    /// @notice The bonus paid at health `healthFactor` on collateral whose full bonus is `bonus` (WAD): the lower
    ///         of `bonus` and bonusFloor just under 1, rising linearly to `bonus` at maxBonusHealth, rounded down.
    /// @param bonus full liquidation bonus, WAD
    /// @param healthFactor the vault's health factor, WAD
    /// @return the bonus paid, WAD
    function effectiveBonus(uint256 bonus, uint256 healthFactor) external view returns (uint256);

    /// @notice Set the liquidation parameters. RISK_ADMIN_ROLE only.
    /// @param targetHealth WAD, in (1, MAX_TARGET_HEALTH]
    /// @param fullLiquidationHealth WAD, at most 1
    /// @param protocolShare WAD, at most MAX_PROTOCOL_SHARE
    /// @dev Reverts InvalidLiquidationParameters.
    function setLiquidationParameters(uint256 targetHealth, uint256 fullLiquidationHealth, uint256 protocolShare)
        external;

    /// @notice Set how the bonus grows with the shortfall. RISK_ADMIN_ROLE only.
    /// @param bonusFloor WAD, in [MIN_BONUS_FLOOR, MAX_BONUS_FLOOR]; MAX_BONUS_FLOOR pays the full bonus always
    /// @param maxBonusHealth WAD, below 1
    /// @dev The bonus never exceeds a collateral's own liquidation bonus, which the VaultEngine bounds
    ///      (bonus_i·LT_j < 1 for every pair), and a liquidation never seizes more than the vault holds.
    ///      Reverts InvalidBonusCurve.
    function setBonusCurve(uint256 bonusFloor, uint256 maxBonusHealth) external;

    /// @notice Set the volume caps' rolling window. RISK_ADMIN_ROLE only.
    /// @param window seconds, in [MIN_CAP_WINDOW, MAX_CAP_WINDOW]
    /// @dev Reverts InvalidCapWindow.
    function setCapWindow(uint256 window) external;

    /// @notice Set a collateral type's liquidation volume cap (a circuit breaker against cascades). RISK_ADMIN_ROLE only.
    /// @param token the collateral token
    /// @param cap WAD USD of seized value per window; 0 removes the cap
    /// @dev Reverts InvalidLiquidationCap.
    function setLiquidationCap(address token, uint256 cap) external;

    /// @notice Offer margin calls on a collateral type, or stop offering them (all zero). RISK_ADMIN_ROLE only.
    /// @param token the collateral token
    /// @param gracePeriod seconds, at most MAX_GRACE_PERIOD
    /// @param hardFloor WAD, in [MIN_HARD_FLOOR, 1)
    /// @param premium per-second RAY factor, in [RAY, MAX_PREMIUM]
    /// @dev A vault is offered a call only if all its collaterals offer one; it then gets the shortest grace, the
    ///      highest floor and the highest premium among them. Calls already made keep their terms.
    ///      Reverts InvalidMarginCallTerms.
    function setMarginCallTerms(address token, uint256 gracePeriod, uint256 hardFloor, uint256 premium) external;

    /// @notice Call a vault that is below its maintenance margin but above its hard floor. Anyone may call. During
    ///         the grace window it cannot be liquidated unless it falls below the hard floor; its owner may deposit
    ///         and repay but not borrow or withdraw; its debt accrues the premium, which goes to the surplus.
    /// @param vaultId the vault
    /// @dev The call ends with `cure` (the vault back at its initial margin) or a liquidation, possible again once
    ///      the deadline has passed. Reverts AlreadyInMarginCall, NotLiquidatable, MarginCallNotOffered,
    ///      BelowHardFloor, InsufficientGasForOracle.
    /// @return deadline end of the grace window, seconds
    function marginCall(uint256 vaultId) external returns (uint256 deadline);

    /// @notice Call every vault of `vaultIds` that `marginCall` would call now, skipping the others (already in a
    ///         call, safe, not offered calls, below the hard floor) instead of reverting: a keeper calls a crash's
    ///         worth of vaults in one transaction, and a rival's call or an owner's repay since it decided undoes
    ///         nothing. Anyone may call.
    /// @param vaultIds the vaults, in any order (a repeated id is called once)
    /// @dev Each call emits MarginCall as `marginCall` does. The caller bounds the list (gas). Reverts
    ///      InsufficientGasForOracle.
    /// @return called how many vaults were called
    function marginCallBatch(uint256[] calldata vaultIds) external returns (uint256 called);

    /// @notice End a margin call: book the premium, then require the vault to be at its initial margin (debt at most
    ///         its borrow power). Anyone may call, typically the owner after a deposit or repay.
    /// @param vaultId the vault
    /// @dev Reverts NotInMarginCall, MarginCallNotCured, InsufficientGasForOracle.
    function cure(uint256 vaultId) external;

    /// @notice What `liquidate(vaultId)` would do now.
    /// @param vaultId the vault
    /// @dev A called vault's pending premium is counted in its debt, as `liquidate` books it. Reverts
    ///      NotLiquidatable, NoPricedCollateral, MarginCallGracePeriod, MarginCallRequired, LiquidationCapReached,
    ///      InsufficientGasForOracle.
    /// @return plan the liquidation
    function previewLiquidation(uint256 vaultId) external view returns (Plan memory plan);

    /// @notice Liquidate one vault: the caller pays `repay + protocolFee` pUSD and receives the seized collateral
    ///         (a token that refuses the transfer stays claimable in the VaultEngine). Anyone may call.
    /// @param vaultId the vault
    /// @dev Books a called vault's premium first. Reverts NotLiquidatable, NoPricedCollateral, MarginCallGracePeriod,
    ///      MarginCallRequired,
    ///      LiquidationCapReached, InsufficientGasForOracle, ERC20InsufficientBalance (pUSD).
    /// @return plan what was done
    function liquidate(uint256 vaultId) external returns (Plan memory plan);

    /// @notice Liquidate every listed vault that is liquidatable now, skipping the others (healthy, no debt,
    ///         nothing priced to seize, due a margin call or in its grace window, no room under a volume cap, or more than the caller's remaining pUSD), so that a race with another
    ///         keeper or one bad vault never reverts the batch.
    /// @param vaultIds vaults to try, strictly ascending (the caller bounds the loop)
    /// @dev The vaults are settled together in one VaultEngine.seizeBatch: one pUSD burn, one transfer per collateral.
    ///      Reverts BatchNotAscending, and InsufficientGasForOracle only when the transaction's gas limit is too low.
    /// @return liquidated number of vaults liquidated
    /// @return repaid total pUSD applied to debt (WAD)
    function liquidateBatch(uint256[] calldata vaultIds) external returns (uint256 liquidated, uint256 repaid);

    /// @notice Liquidate as liquidateBatch does, with no pUSD up front: the caller receives the seized collateral,
    ///         then `ILiquidationCallback(msg.sender).onLiquidation(owed, data)` runs, then `owed` pUSD (Σ repaid +
    ///         protocolFee) is burned from the caller. The callback typically sells the collateral for pUSD.
    /// @param vaultIds vaults to try, strictly ascending (skipped as in liquidateBatch, except that the caller's
    ///        pUSD balance does not limit the batch)
    /// @param data passed to the callback; must not be empty
    /// @dev Reverts EmptyCallbackData, BatchNotAscending, InsufficientGasForOracle (gas limit too low),
    ///      ERC20InsufficientBalance (pUSD) when the callback leaves the caller short, and the callback's own error.
    /// @return liquidated number of vaults liquidated
    /// @return repaid total pUSD applied to debt (WAD)
    function flashLiquidate(uint256[] calldata vaultIds, bytes calldata data)
        external
        returns (uint256 liquidated, uint256 repaid);
}
