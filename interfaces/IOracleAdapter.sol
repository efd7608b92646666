// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IPriceOracle} from "./IPriceOracle.sol";

/// @title IOracleAdapter
/// @notice A Chainlink AggregatorV3 feed turned into an IPriceOracle with staleness and bound checks.
interface IOracleAdapter is IPriceOracle {
    /// @notice A constructor argument is zero or out of range (`what` names it).
    error InvalidOracleConfig(string what);
    /// @notice The feed answered zero or a negative number.
    error NonPositivePrice(int256 answer);
    /// @notice The feed's answer lies outside [minAnswer, maxAnswer] (feed decimals).
    error PriceOutOfBounds(int256 answer, int256 minAnswer, int256 maxAnswer);
    /// @notice The feed's last update is older than maxAge seconds (or stamped in the future).
    error StalePrice(uint256 updatedAt, uint256 maxAge, uint256 nowTimestamp);

    /// @notice The Chainlink-compatible feed read by this adapter.
    function feed() external view returns (AggregatorV3Interface);
    /// @notice Maximum age of the feed's answer, seconds (heartbeat plus grace).
    function maxAge() external view returns (uint256);
    /// @notice Smallest answer accepted, in feed decimals.
    function minAnswer() external view returns (int256);
    /// @notice Largest answer accepted, in feed decimals.
    function maxAnswer() external view returns (int256);
}
