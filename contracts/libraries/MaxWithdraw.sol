// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {FixedPoint} from "./FixedPoint.sol";

/// @title MaxWithdraw
/// @notice How much of one collateral a vault with debt must keep: the one calculation behind
///         VaultEngine.withdraw of the maximum and VaultLens.maxWithdraw (docs/math.md, "Exact maxima").
library MaxWithdraw {
    using FixedPoint for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;

    /// @notice The least amount of collateral `index` that keeps the vault's initial margin >= `debt`, the other
    ///         collaterals unchanged.
    /// @param portfolio the engine's PortfolioMargin when the vault is in portfolio margin, else the zero address
    /// @param tokens the vault's collateral tokens (Valuation.tokens)
    /// @param values their values, WAD USD (Valuation.values; 0 when unpriced)
    /// @param borrowPower the vault's initial margin at those values, WAD USD (Valuation.borrowPower)
    /// @param index the collateral withdrawn; it must be priced at `price`
    /// @param debt the debt to cover, WAD pUSD (rounded up, at the rate the withdrawal runs at)
    /// @param price its price, WAD USD per whole token (the engine's oracle rule)
    /// @param decimals its token decimals
    /// @param ltv its LTV, WAD (standard margin)
    /// @dev Inverts the engine's roundings. The collateral must still contribute need = debt − the others' initial
    ///      margin: in standard margin value >= ceil(need·WAD/ltv), since its term is floor(value·ltv/WAD); in
    ///      portfolio margin PortfolioMargin.requiredValue on the initial grid. Its value is
    ///      floor(amount·price/10^decimals), so the amount kept is ceil(value·10^decimals/price). One wei less fails
    ///      the margin check.
    /// @return kept token decimals; type(uint256).max when no amount suffices
    function keptAmount(
        IPortfolioMargin portfolio,
        address[] memory tokens,
        uint256[] memory values,
        uint256 borrowPower,
        uint256 index,
        uint256 debt,
        uint256 price,
        uint256 decimals,
        uint256 ltv
    ) internal view returns (uint256 kept) {
        uint256 value;
        if (address(portfolio) != address(0)) {
            value = portfolio.requiredValue(tokens, values, index, debt, false);
            if (value == type(uint256).max) return value;
        } else {
            uint256 others = borrowPower - values[index].mulDivDown(ltv, WAD);
            if (others >= debt) return 0;
            value = (debt - others).mulDivUp(WAD, ltv);
        }
        return value.mulDivUp(10 ** decimals, price);
    }
}
