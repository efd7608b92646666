// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IPriceOracle} from "./IPriceOracle.sol";

/// @title IOracleAdapter
/// @notice One collateral's price from up to three Chainlink AggregatorV3 feeds quoting USD, as an IPriceOracle:
///         a WAD price or a named revert, never a price it cannot vouch for.
/// @dev Each feed's answer is checked on its own, in this order:
///      the feed answers (FeedReverted);
///      the answer is > 0 (NonPositivePrice);
///      it is strictly inside the aggregator's own [minAnswer, maxAnswer], read from the aggregator at deployment,
///      since an OCR aggregator clamps to those bounds (PriceAtAggregatorBound; the Venus/LUNA case);
///      its WAD price lies in the adapter's [minPrice, maxPrice] (PriceOutOfBounds);
///      it is fresh, at most maxAge seconds old and not stamped in the future (StalePrice);
///      it moved at most maxDeviation from the feed's previous round (PriceDeviationTooLarge; Liquity v1's rule).
///      Then, by mode:
///      Fallback: the first feed, in order, whose answer passes; with none, the first feed's error;
///      Median: at least two feeds must pass (NotEnoughValidFeeds); with three, the median, provided it agrees
///      with a neighbour within maxSpread; with two, their mean, provided they agree within maxSpread
///      (PriceSpreadTooWide). One spiking source is out-voted (the Compound DAI case).
///      An optional L2 sequencer-uptime feed is checked first: down (SequencerDown), or up for less than the grace
///      period (SequencerGracePeriod).
///      What a revert means for the protocol: the VaultEngine counts a collateral whose oracle reverts as worth
///      zero for borrowing, withdrawing and liquidation, and never seizes it (docs/oracles.md).
interface IOracleAdapter is IPriceOracle {
    /// @notice How the checked answers of several feeds become one price.
    enum Mode {
        Fallback,
        Median
    }

    /// @notice One price source.
    /// @param feed Chainlink-compatible aggregator (or proxy) quoting USD
    /// @param maxAge seconds an answer stays usable: the feed's heartbeat plus a grace period
    struct FeedConfig {
        AggregatorV3Interface feed;
        uint256 maxAge;
    }

    /// @notice A constructor argument is zero or out of range (`what` names it).
    error InvalidOracleConfig(string what);
    /// @notice The feed's latestRoundData call reverted.
    error FeedReverted(address feed);
    /// @notice The feed answered zero or a negative number.
    error NonPositivePrice(address feed, int256 answer);
    /// @notice The answer sits at or beyond the aggregator's own clamp bounds (feed decimals): the real price may be
    ///         anywhere past them.
    error PriceAtAggregatorBound(address feed, int256 answer, int256 minAnswer, int256 maxAnswer);
    /// @notice The answer, as a WAD price, lies outside the adapter's [minPrice, maxPrice].
    error PriceOutOfBounds(address feed, uint256 price, uint256 minPrice, uint256 maxPrice);
    /// @notice The feed's last update is older than maxAge seconds, or stamped in the future.
    error StalePrice(address feed, uint256 updatedAt, uint256 maxAge, uint256 nowTimestamp);
    /// @notice The answer moved more than maxDeviation (WAD fraction) from the feed's previous round.
    error PriceDeviationTooLarge(address feed, int256 answer, int256 previousAnswer, uint256 maxDeviation);
    /// @notice Median mode: fewer than two feeds gave a usable answer.
    error NotEnoughValidFeeds(uint256 valid, uint256 required);
    /// @notice Median mode: the usable answers disagree by more than maxSpread (WAD prices, WAD fraction).
    error PriceSpreadTooWide(uint256 low, uint256 high, uint256 maxSpread);
    /// @notice The L2 sequencer is down (or its uptime feed cannot be read).
    error SequencerDown();
    /// @notice The L2 sequencer came back up at `upSince` (seconds), less than `gracePeriod` seconds ago.
    error SequencerGracePeriod(uint256 upSince, uint256 gracePeriod);

    /// @notice The feeds, in priority order (Fallback) or as voters (Median), with their maximum ages (seconds).
    function feeds() external view returns (FeedConfig[] memory);
    /// @notice The aggregator's own clamp bounds for feed `i`, feed decimals; (type(int256).min, type(int256).max)
    ///         when the aggregator does not publish them.
    /// @param i index into feeds()
    /// @return minAnswer lowest answer the aggregator can report
    /// @return maxAnswer highest answer the aggregator can report
    function aggregatorBounds(uint256 i) external view returns (int256 minAnswer, int256 maxAnswer);
    /// @notice Fallback or Median.
    function mode() external view returns (Mode);
    /// @notice Smallest plausible price, WAD USD per whole token.
    function minPrice() external view returns (uint256);
    /// @notice Largest plausible price, WAD USD per whole token.
    function maxPrice() external view returns (uint256);
    /// @notice Largest move from a feed's previous round, WAD fraction (0.5e18 = 50 %); 0 disables the check.
    function maxDeviation() external view returns (uint256);
    /// @notice Median mode: largest disagreement between agreeing feeds, WAD fraction of the lower price.
    function maxSpread() external view returns (uint256);
    /// @notice L2 sequencer-uptime feed (answer 0 = up, 1 = down); zero address when not on an L2.
    function sequencerFeed() external view returns (AggregatorV3Interface);
    /// @notice Seconds after the sequencer comes back up during which no price is given.
    function sequencerGracePeriod() external view returns (uint256);
}
