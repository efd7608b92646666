// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IOracleAdapter} from "@plimsoll/interfaces/IOracleAdapter.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";

/// @title OracleAdapter
/// @notice One Chainlink AggregatorV3 feed (USD quote) as a WAD USD price per whole token, or a named revert.
/// @dev Immutable: a new configuration is a new adapter, set on the engine with `setOracle`.
contract OracleAdapter is IOracleAdapter {
    /// @inheritdoc IOracleAdapter
    AggregatorV3Interface public immutable feed;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable maxAge;
    /// @inheritdoc IOracleAdapter
    int256 public immutable minAnswer;
    /// @inheritdoc IOracleAdapter
    int256 public immutable maxAnswer;
    /// @dev 10^(18 − feed decimals): feed answer → WAD.
    uint256 internal immutable SCALE;

    /// @param feed_ Chainlink-compatible aggregator quoting USD
    /// @param maxAge_ seconds an answer stays usable (the feed's heartbeat plus a grace period)
    /// @param minAnswer_ smallest plausible answer, feed decimals, > 0
    /// @param maxAnswer_ largest plausible answer, feed decimals, > minAnswer_
    /// @dev Reverts InvalidOracleConfig naming the bad argument; feeds with more than 18 decimals are refused.
    constructor(AggregatorV3Interface feed_, uint256 maxAge_, int256 minAnswer_, int256 maxAnswer_) {
        if (address(feed_) == address(0)) revert InvalidOracleConfig("feed");
        if (maxAge_ == 0) revert InvalidOracleConfig("maxAge");
        if (minAnswer_ <= 0 || maxAnswer_ <= minAnswer_) revert InvalidOracleConfig("bounds");
        uint8 feedDecimals = feed_.decimals();
        if (feedDecimals > 18) revert InvalidOracleConfig("decimals");
        feed = feed_;
        maxAge = maxAge_;
        minAnswer = minAnswer_;
        maxAnswer = maxAnswer_;
        SCALE = 10 ** (18 - feedDecimals);
    }

    /// @inheritdoc IPriceOracle
    /// @dev Reverts NonPositivePrice, PriceOutOfBounds, StalePrice (older than maxAge or stamped in the future).
    ///      answeredInRound is not checked: Chainlink deprecated it and OCR feeds always set it to roundId.
    function price() external view returns (uint256) {
        (, int256 answer,, uint256 updatedAt,) = feed.latestRoundData();
        if (answer <= 0) revert NonPositivePrice(answer);
        if (answer < minAnswer || answer > maxAnswer) revert PriceOutOfBounds(answer, minAnswer, maxAnswer);
        if (updatedAt > block.timestamp || block.timestamp - updatedAt > maxAge) {
            revert StalePrice(updatedAt, maxAge, block.timestamp);
        }
        return uint256(answer) * SCALE;
    }
}
