// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IPositionLens} from "@plimsoll/interfaces/IPositionLens.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {FixedPoint} from "../libraries/FixedPoint.sol";
import {VaultLens} from "./VaultLens.sol";

/// @title PositionLens
/// @notice A wallet's view of a vault in one call (IPositionLens). Every margin is the engine's own valuation; the
///         maxima are VaultLens's exact inversions; previews and liquidation prices repeat the engine's roundings.
contract PositionLens is IPositionLens {
    using FixedPoint for uint256;

    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    /// @dev VaultEngine.MAX_PRICE: a larger price is no price.
    uint256 internal constant MAX_PRICE = 1e36;

    /// @notice The engine read by this lens.
    IVaultEngine public immutable engine;
    /// @notice The batch lens whose maxBorrow / maxWithdraw this lens reports.
    VaultLens public immutable vaultLens;
    /// @notice The engine's VaultNFT, which says who holds each vault.
    IVaultNFT public immutable vaultNFT;

    /// @param vaultLens_ the VaultLens of the same engine (its engine is this lens's)
    constructor(VaultLens vaultLens_) {
        vaultLens = vaultLens_;
        engine = vaultLens_.engine();
        vaultNFT = vaultLens_.vaultNFT();
    }

    /// @inheritdoc IPositionLens
    function position(uint256 vaultId) external view returns (Position memory vault) {
        return _position(vaultId, block.timestamp);
    }

    /// @inheritdoc IPositionLens
    function positionAt(uint256 vaultId, uint256 timestamp) external view returns (Position memory vault) {
        return _position(vaultId, timestamp);
    }

    /// @inheritdoc IPositionLens
    function positions(uint256[] calldata vaultIds) external view returns (Position[] memory vaults) {
        vaults = new Position[](vaultIds.length);
        for (uint256 i; i < vaultIds.length; ++i) {
            vaults[i] = _position(vaultIds[i], block.timestamp);
        }
    }

    /// @inheritdoc IPositionLens
    function positionsOf(address owner) external view returns (Position[] memory vaults) {
        return _page(owner, 0, type(uint256).max);
    }

    /// @inheritdoc IPositionLens
    function positionsOfPage(address owner, uint256 start, uint256 count)
        external
        view
        returns (Position[] memory vaults)
    {
        return _page(owner, start, count);
    }

    /// @inheritdoc IPositionLens
    function previewDeposit(uint256 vaultId, address token, uint256 amount)
        external
        view
        returns (Preview memory preview)
    {
        _requireExists(vaultId);
        IVaultEngine.CollateralType memory t = engine.collateralType(token);
        if (address(t.oracle) == address(0)) revert IVaultEngine.UnknownCollateral(token);
        // No cap reaches above MAX_SUPPLY_CAP (2^128 - 1): beyond it no deposit can be booked at all.
        if (amount > type(uint128).max) revert IVaultEngine.SupplyCapExceeded(token, t.supplyCap, amount);
        return _preview(vaultId, token, true, engine.collateralBalance(vaultId, token) + amount, 0, false);
    }

    /// @inheritdoc IPositionLens
    function previewWithdraw(uint256 vaultId, address token, uint256 amount)
        external
        view
        returns (Preview memory preview)
    {
        _requireExists(vaultId);
        uint256 balance = engine.collateralBalance(vaultId, token);
        if (amount > balance) revert IVaultEngine.InsufficientCollateral(vaultId, token, balance, amount);
        return _preview(vaultId, token, true, balance - amount, 0, false);
    }

    /// @inheritdoc IPositionLens
    function previewBorrow(uint256 vaultId, uint256 amount) external view returns (Preview memory preview) {
        _requireExists(vaultId);
        // No ceiling reaches above MAX_DEBT_CEILING (1e30): beyond it no borrow can be booked at all.
        if (amount > 1e30) revert IVaultEngine.DebtCeilingExceeded(amount, engine.debtCeiling());
        return _preview(vaultId, address(0), false, 0, amount, true);
    }

    /// @inheritdoc IPositionLens
    function previewRepay(uint256 vaultId, uint256 amount) external view returns (Preview memory preview) {
        _requireExists(vaultId);
        return _preview(vaultId, address(0), false, 0, amount, false);
    }

    // ================================================================== internals

    /// @dev The owner's vaults at enumeration indexes [start, start + count), clipped to its balance.
    function _page(address owner, uint256 start, uint256 count) internal view returns (Position[] memory vaults) {
        IVaultNFT nft = vaultNFT;
        uint256 total = nft.balanceOf(owner);
        uint256 n = start >= total ? 0 : Math.min(count, total - start);
        vaults = new Position[](n);
        for (uint256 i; i < n; ++i) {
            vaults[i] = _position(nft.tokenOfOwnerByIndex(owner, start + i), block.timestamp);
        }
    }

    function _position(uint256 vaultId, uint256 timestamp) internal view returns (Position memory p) {
        p.vaultId = vaultId;
        p.timestamp = timestamp;
        p.owner = _ownerOrZero(vaultId);
        if (p.owner == address(0)) {
            p.status = Status.NoSuchVault;
            return p;
        }
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        p.status = v.unpricedMask == 0 ? Status.Ok : Status.Unpriced;
        p.portfolioMargin = engine.portfolioMargin(vaultId);
        p.inMarginCall = v.inMarginCall;
        if (v.inMarginCall) {
            ILiquidationEngine liquidation = ILiquidationEngine(engine.liquidationEngine());
            p.marginCallDeadline = liquidation.marginCallOf(vaultId).deadline;
            p.pendingPremium = liquidation.pendingPremium(vaultId);
        }
        p.debt = engine.normalizedDebt(vaultId).mulDivUp(vaultLens.rateAt(timestamp), RAY);
        p.collateralValue = v.collateralValue;
        p.borrowPower = v.borrowPower;
        p.maintenance = v.maintenance;
        p.healthFactor = _health(v.maintenance, p.debt);
        p.maxBorrow = vaultLens.maxBorrow(vaultId, timestamp);
        (, uint256[] memory amounts) = engine.vaultCollateral(vaultId);
        p.collateral = new CollateralPosition[](v.tokens.length);
        for (uint256 i; i < v.tokens.length; ++i) {
            CollateralPosition memory c = p.collateral[i];
            IVaultEngine.CollateralType memory t = engine.collateralType(v.tokens[i]);
            c.token = v.tokens[i];
            c.decimals = t.decimals;
            c.amount = amounts[i];
            c.ltv = t.ltv;
            c.liquidationThreshold = t.liquidationThreshold;
            c.liquidationBonus = t.liquidationBonus;
            c.maxWithdraw = vaultLens.maxWithdraw(vaultId, c.token, timestamp);
            if (v.unpricedMask & (1 << i) != 0) continue;
            c.priced = true;
            (, c.price) = engine.collateralPrice(c.token); // the engine's rule, as its valuation just read it
            c.value = v.values[i];
            // A called vault owes its pending premium too: the liquidation books it before it plans.
            c.liquidationPrice = _liquidationPrice(v, i, c, p.debt + p.pendingPremium, p.portfolioMargin);
        }
    }

    /// @dev The lowest price of collateral i at which maintenance >= debt, the other values fixed; 0 when even a
    ///      zero price leaves the vault safe. The collateral must keep a value V with its term covering need = debt −
    ///      the others' maintenance: V = ceil(need·WAD/LT) in standard margin (its term is floor(value·LT/WAD)),
    ///      PortfolioMargin.requiredValue on the maintenance grid in portfolio margin. Its value is
    ///      floor(amount·p/10^d) >= V, so p = ceil(V·10^d/amount).
    function _liquidationPrice(
        IVaultEngine.Valuation memory v,
        uint256 i,
        CollateralPosition memory c,
        uint256 debt,
        bool portfolio
    ) internal view returns (uint256) {
        if (debt == 0 || c.amount == 0) return 0;
        uint256 value;
        if (portfolio) {
            value = engine.portfolio().requiredValue(v.tokens, v.values, i, debt, true);
            if (value == type(uint256).max) return value; // the grid's shocks leave it short at any price
        } else {
            uint256 others = v.maintenance - c.value.mulDivDown(c.liquidationThreshold, WAD);
            if (others >= debt) return 0;
            value = (debt - others).mulDivUp(WAD, c.liquidationThreshold);
        }
        // Above MAX_PRICE the engine has no price; checked first so that value·10^decimals cannot overflow the result.
        if (value > MAX_PRICE.mulDivDown(c.amount, 10 ** c.decimals)) return type(uint256).max;
        return value.mulDivUp(10 ** c.decimals, c.amount);
    }

    /// @dev The vault's margins after its balance of `token` becomes `newBalance` (when `setBalance`) and `amount`
    ///      pUSD is borrowed (`isBorrow`) or repaid, at the current block and prices; Unpriced when a collateral the
    ///      vault then holds has no price.
    function _preview(
        uint256 vaultId,
        address token,
        bool setBalance,
        uint256 newBalance,
        uint256 amount,
        bool isBorrow
    ) internal view returns (Preview memory r) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        uint256 rate_ = engine.currentRate();
        uint256 normalized = engine.normalizedDebt(vaultId);
        if (isBorrow) {
            normalized += amount.mulDivUp(RAY, rate_);
        } else if (amount != 0) {
            // VaultEngine._repayAmounts: at or above the debt repays it all, else floor(amount·RAY/rate)
            normalized = amount >= normalized.mulDivUp(rate_, RAY) ? 0 : normalized - amount * RAY / rate_;
        }
        r.debt = normalized.mulDivUp(rate_, RAY);
        (address[] memory tokens, uint256[] memory values) = (v.tokens, v.values);
        bool unpriced = v.unpricedMask != 0;
        if (setBalance) {
            bool priced;
            (tokens, values, priced) = _withBalance(v, token, newBalance);
            unpriced = unpriced || !priced;
        }
        r.status = unpriced ? Status.Unpriced : Status.Ok;
        if (engine.portfolioMargin(vaultId)) {
            (r.borrowPower, r.maintenance) = engine.portfolio().margins(tokens, values);
        } else {
            for (uint256 i; i < tokens.length; ++i) {
                IVaultEngine.CollateralType memory t = engine.collateralType(tokens[i]);
                r.borrowPower += values[i].mulDivDown(t.ltv, WAD);
                r.maintenance += values[i].mulDivDown(t.liquidationThreshold, WAD);
            }
        }
        r.healthFactor = _health(r.maintenance, r.debt);
    }

    /// @dev The valuation's tokens and values with `token` (appended when new) valued at `balance`, and whether it is
    ///      priced; an unpriced token stays at value 0, as the engine counts it.
    function _withBalance(IVaultEngine.Valuation memory v, address token, uint256 balance)
        internal
        view
        returns (address[] memory tokens, uint256[] memory values, bool priced)
    {
        uint256 n = v.tokens.length;
        uint256 i;
        while (i < n && v.tokens[i] != token) ++i;
        bool unpriced = i < n && v.unpricedMask & (1 << i) != 0;
        tokens = v.tokens;
        values = v.values;
        if (i == n) {
            tokens = new address[](n + 1);
            values = new uint256[](n + 1);
            for (uint256 j; j < n; ++j) {
                (tokens[j], values[j]) = (v.tokens[j], v.values[j]);
            }
            tokens[n] = token;
        }
        if (unpriced) return (tokens, values, false);
        uint256 price;
        (priced, price) = engine.collateralPrice(token);
        values[i] = priced ? balance.mulDivDown(price, 10 ** engine.collateralType(token).decimals) : 0;
    }

    function _health(uint256 maintenance, uint256 debt) internal pure returns (uint256) {
        return debt == 0 ? type(uint256).max : maintenance.mulDivDown(WAD, debt);
    }

    function _requireExists(uint256 vaultId) internal view {
        if (_ownerOrZero(vaultId) == address(0)) revert IVaultEngine.VaultNotFound(vaultId);
    }

    /// @dev The vault NFT's holder, zero for an id that does not exist (vaults are never burned).
    function _ownerOrZero(uint256 vaultId) internal view returns (address) {
        return vaultId == 0 || vaultId > engine.vaultCount() ? address(0) : vaultNFT.ownerOf(vaultId);
    }
}
