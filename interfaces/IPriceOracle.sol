// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPriceOracle
/// @notice What the VaultEngine asks of a collateral type's oracle: one USD price, or a revert.
interface IPriceOracle {
    /// @notice USD price of one whole token of the collateral.
    /// @return price USD per whole token, WAD (1e18 = $1). Never zero: an implementation reverts with a
    ///         named error instead of returning a price it cannot vouch for.
    function price() external view returns (uint256 price);
}
