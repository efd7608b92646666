// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {MaxWithdraw} from "../libraries/MaxWithdraw.sol";

/// @title VaultLens
/// @notice Read-only batch views for keepers, monitors and front ends: many vaults in one eth_call, all read at the
///         same block. Not called by the protocol; the caller bounds every loop with the ids it passes.
contract VaultLens {
    using FixedPoint for uint256;

    uint256 internal constant RAY = 1e27;

    /// @notice `timestamp` is before the engine's last drip: the rate then is no longer known.
    error TimestampBeforeLastDrip(uint256 timestamp, uint256 lastDrip);

    /// @notice Raw state of one vault: what an off-chain mirror needs to compute its health.
    /// @param vaultId the vault
    /// @param owner holder of the vault's VaultNFT token (zero if the id does not exist)
    /// @param normalizedDebt WAD
    /// @param tokens collateral tokens
    /// @param amounts balances, token decimals
    /// @param portfolioMargin whether the vault is in portfolio margin
    /// @param inMarginCall whether the vault is in a margin call (LiquidationEngine.marginCallOf has its terms)
    struct VaultState {
        uint256 vaultId;
        address owner;
        uint256 normalizedDebt;
        address[] tokens;
        uint256[] amounts;
        bool portfolioMargin;
        bool inMarginCall;
    }

    /// @notice The engine read by this lens.
    IVaultEngine public immutable engine;
    /// @notice The engine's VaultNFT, which says who holds each vault.
    IVaultNFT public immutable vaultNFT;

    /// @param engine_ the VaultEngine to read
    constructor(IVaultEngine engine_) {
        engine = engine_;
        vaultNFT = engine_.vaultNFT();
    }

    /// @notice Raw state of each vault in `vaultIds`, in the same order.
    /// @param vaultIds vaults to read, in order (the caller bounds the loop)
    function vaults(uint256[] calldata vaultIds) external view returns (VaultState[] memory states) {
        states = new VaultState[](vaultIds.length);
        uint256 count = engine.vaultCount();
        for (uint256 i; i < vaultIds.length; ++i) {
            uint256 id = vaultIds[i];
            VaultState memory s = states[i];
            s.vaultId = id;
            s.owner = _ownerOrZero(id, count);
            s.normalizedDebt = engine.normalizedDebt(id);
            (s.tokens, s.amounts) = engine.vaultCollateral(id);
            s.portfolioMargin = engine.portfolioMargin(id);
            s.inMarginCall = engine.inMarginCall(id);
        }
    }

    /// @notice Health factor (WAD; type(uint256).max without debt) of each vault in `vaultIds`, from the engine's
    ///         own view. Reverts with the oracle's errors.
    /// @param vaultIds vaults to read, in order (the caller bounds the loop)
    function healthFactors(uint256[] calldata vaultIds) external view returns (uint256[] memory factors) {
        factors = new uint256[](vaultIds.length);
        for (uint256 i; i < vaultIds.length; ++i) {
            factors[i] = engine.healthFactor(vaultIds[i]);
        }
    }

    /// @notice The rate accumulator (RAY) that the engine's `currentRate()` returns in a block stamped `timestamp`,
    ///         if nobody drips before then (a drip in between splits the compounding and may move the rounding by a
    ///         few wei of RAY).
    /// @param timestamp block timestamp, seconds, at or after the engine's lastDrip
    /// @dev VaultEngine._accrue: min(rate·rpow(fee, timestamp − lastDrip) rounded down, MAX_RATE) (dss Jug.drip).
    ///      Reverts TimestampBeforeLastDrip.
    /// @return rate_ RAY
    function rateAt(uint256 timestamp) public view returns (uint256 rate_) {
        uint256 last = engine.lastDrip();
        if (timestamp < last) revert TimestampBeforeLastDrip(timestamp, last);
        rate_ = engine.rate();
        uint256 fee = engine.stabilityFee();
        uint256 maxRate = FixedPoint.MAX_RATE;
        if (fee == RAY || timestamp == last || rate_ >= maxRate) return rate_;
        return Math.min(FixedPoint.rpowSaturating(fee, timestamp - last, maxRate) * rate_ / RAY, maxRate);
    }

    /// @notice The largest `amount` that `borrow(vaultId, amount, to)` accepts in a block stamped `timestamp`, prices
    ///         and state unchanged until then: one wei more is refused. 0 when the vault cannot borrow at all (no such
    ///         vault, in a margin call, paused, or no room above the dust).
    /// @param vaultId the vault
    /// @param timestamp the block timestamp (seconds) the borrow will run at, at or after lastDrip
    /// @dev Exact, because it inverts the engine's own roundings at rate r = rateAt(timestamp) (docs/math.md):
    ///      the vault may hold N = floor(borrowPower·RAY/r) of normalized debt, the engine floor(ceiling·RAY/r) in
    ///      total; a borrow of `amount` adds ceil(amount·RAY/r), so amount = floor(room·r/RAY) with room the smaller
    ///      headroom. Reverts TimestampBeforeLastDrip, InsufficientGasForOracle.
    /// @return amount pUSD, WAD
    function maxBorrow(uint256 vaultId, uint256 timestamp) external view returns (uint256 amount) {
        if (_ownerOrZero(vaultId, engine.vaultCount()) == address(0) || !_unrestricted(vaultId)) return 0;
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        uint256 r = rateAt(timestamp);
        uint256 held = engine.normalizedDebt(vaultId);
        uint256 vaultLimit = v.borrowPower.mulDivDown(RAY, r);
        uint256 totalLimit = engine.debtCeiling().mulDivDown(RAY, r);
        uint256 total = engine.totalNormalizedDebt();
        if (vaultLimit <= held || totalLimit <= total) return 0;
        amount = Math.min(vaultLimit - held, totalLimit - total).mulDivDown(r, RAY);
        if ((held + amount.mulDivUp(RAY, r)).mulDivUp(r, RAY) < engine.dust()) return 0;
    }

    /// @notice The largest `amount` of `token` that `withdraw(vaultId, token, amount, to)` accepts in a block stamped
    ///         `timestamp`, prices and state unchanged until then: one wei more is refused. The whole balance for a
    ///         vault without debt; 0 when nothing may leave (in a margin call, paused with debt, or the vault already
    ///         short of its initial margin).
    /// @param vaultId the vault
    /// @param token the collateral token
    /// @param timestamp the block timestamp (seconds) the withdrawal will run at, at or after lastDrip
    /// @dev The engine's own calculation for `withdraw` of the maximum (MaxWithdraw.keptAmount), at the debt of
    ///      `timestamp`: the collateral must still contribute need = debt − the others' initial margin. An unpriced
    ///      collateral counts zero, so all of it may leave while the rest covers the debt. Reverts
    ///      TimestampBeforeLastDrip, InsufficientGasForOracle.
    /// @return amount token decimals
    function maxWithdraw(uint256 vaultId, address token, uint256 timestamp) external view returns (uint256 amount) {
        uint256 balance = engine.collateralBalance(vaultId, token);
        if (balance == 0 || engine.inMarginCall(vaultId)) return 0;
        uint256 normalized = engine.normalizedDebt(vaultId);
        if (normalized == 0) return balance; // no margin check without debt
        if (!_unrestricted(vaultId)) return 0;
        uint256 debt = normalized.mulDivUp(rateAt(timestamp), RAY);
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        if (v.borrowPower < debt) return 0;
        uint256 i;
        while (v.tokens[i] != token) ++i;
        if (v.unpricedMask & (1 << i) != 0) return balance;
        IVaultEngine.CollateralType memory c = engine.collateralType(token);
        (, uint256 price) = engine.collateralPrice(token);
        uint256 kept = MaxWithdraw.keptAmount(
            engine.portfolioMargin(vaultId) ? engine.portfolio() : IPortfolioMargin(address(0)),
            v.tokens,
            v.values,
            v.borrowPower,
            i,
            debt,
            price,
            c.decimals,
            c.ltv
        );
        return kept >= balance ? 0 : balance - kept;
    }

    /// @dev Neither in a margin call nor paused (globally or any of its collateral types): borrowing and
    ///      withdrawing against debt are allowed.
    function _unrestricted(uint256 vaultId) internal view returns (bool) {
        if (engine.paused() || engine.inMarginCall(vaultId)) return false;
        (address[] memory tokens,) = engine.vaultCollateral(vaultId);
        for (uint256 i; i < tokens.length; ++i) {
            if (engine.collateralType(tokens[i]).paused) return false;
        }
        return true;
    }

    /// @dev The vault NFT's holder, zero for an id that does not exist: vaults are never burned, so ids 1..`count`
    ///      (the engine's vaultCount, read once per call) exist.
    function _ownerOrZero(uint256 vaultId, uint256 count) internal view returns (address) {
        return vaultId == 0 || vaultId > count ? address(0) : vaultNFT.ownerOf(vaultId);
    }
}
