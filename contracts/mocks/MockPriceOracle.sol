// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";

/// @title MockPriceOracle — one stored price, no checks
/// @notice For the like-for-like gas benchmark only: the oracle Morpho Blue's own benchmarks use (one storage read),
///         so that the two protocols are compared on what they do rather than on their oracles. Never deploy it
///         to price real collateral: it has none of the OracleAdapter's staleness, bounds or deviation checks.
contract MockPriceOracle is IPriceOracle {
    /// @notice The price, WAD USD per whole token.
    uint256 public price;
    /// @notice The only account that may set the price (the deployer).
    address public immutable operator;

    /// @notice The caller is not the operator.
    error OnlyOperator(address caller);

    /// @notice Emitted when the operator sets a price (WAD).
    event PriceSet(uint256 price);

    /// @param price_ the first price, WAD USD per whole token
    constructor(uint256 price_) {
        operator = msg.sender;
        price = price_;
    }

    /// @notice Set the price (WAD USD per whole token). Reverts OnlyOperator.
    /// @param price_ the new price, WAD
    function setPrice(uint256 price_) external {
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        price = price_;
        emit PriceSet(price_);
    }
}
