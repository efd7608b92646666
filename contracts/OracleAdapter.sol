// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IOracleAdapter} from "@plimsoll/interfaces/IOracleAdapter.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";

/// @notice What an OCR aggregator (behind a Chainlink proxy) publishes about its clamp bounds.
interface IChainlinkAggregatorBounds {
    function aggregator() external view returns (address);
    function minAnswer() external view returns (int192);
    function maxAnswer() external view returns (int192);
}

/// @title OracleAdapter
/// @notice Up to three Chainlink feeds for one collateral, checked one by one and combined by fallback or median,
///         as one WAD USD price per whole token, or a named revert (IOracleAdapter lists the checks).
/// @dev Immutable and stateless: a new configuration is a new adapter, set on the engine with `setOracle`. The
///      deviation breaker compares a feed with its own previous round rather than a stored "last good price", so
///      `price()` stays a view that needs no keeper to refresh it.
contract OracleAdapter is IOracleAdapter {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant MAX_FEEDS = 3;

    /// @inheritdoc IOracleAdapter
    Mode public immutable mode;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable minPrice;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable maxPrice;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable maxDeviation;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable maxSpread;
    /// @inheritdoc IOracleAdapter
    AggregatorV3Interface public immutable sequencerFeed;
    /// @inheritdoc IOracleAdapter
    uint256 public immutable sequencerGracePeriod;

    // Immutables cannot be arrays: one set per feed slot. Unused slots hold the zero address.
    uint256 internal immutable FEED_COUNT;
    AggregatorV3Interface internal immutable FEED0;
    AggregatorV3Interface internal immutable FEED1;
    AggregatorV3Interface internal immutable FEED2;
    uint256 internal immutable MAX_AGE0;
    uint256 internal immutable MAX_AGE1;
    uint256 internal immutable MAX_AGE2;
    /// @dev 10^(18 − feed decimals): answer → WAD.
    uint256 internal immutable SCALE0;
    uint256 internal immutable SCALE1;
    uint256 internal immutable SCALE2;
    int256 internal immutable AGG_MIN0;
    int256 internal immutable AGG_MIN1;
    int256 internal immutable AGG_MIN2;
    int256 internal immutable AGG_MAX0;
    int256 internal immutable AGG_MAX1;
    int256 internal immutable AGG_MAX2;

    /// @notice One checked feed, as `_read` sees it.
    struct Source {
        AggregatorV3Interface feed;
        uint256 maxAge;
        uint256 scale;
        int256 aggMin;
        int256 aggMax;
    }

    /// @param feeds_ one to three feeds quoting USD with at most 18 decimals, each with its maximum age (seconds, > 0)
    /// @param mode_ Fallback (feeds in priority order) or Median (two or three feeds)
    /// @param minPrice_ smallest plausible price, WAD, > 0
    /// @param maxPrice_ largest plausible price, WAD, > minPrice_ and at most 1e36
    /// @param maxDeviation_ largest move from a feed's previous round, WAD fraction in (0, 1]; 0 disables
    /// @param maxSpread_ Median mode: largest disagreement, WAD fraction in (0, 1]; must be 0 in Fallback mode
    /// @param sequencerFeed_ L2 sequencer-uptime feed, or the zero address
    /// @param sequencerGracePeriod_ seconds of grace after the sequencer comes back up (0 without a sequencer feed)
    /// @dev Reverts InvalidOracleConfig naming the bad argument. Reads each feed's decimals and, where the feed
    ///      publishes them (proxy.aggregator().minAnswer()/maxAnswer()), the aggregator's clamp bounds.
    constructor(
        FeedConfig[] memory feeds_,
        Mode mode_,
        uint256 minPrice_,
        uint256 maxPrice_,
        uint256 maxDeviation_,
        uint256 maxSpread_,
        AggregatorV3Interface sequencerFeed_,
        uint256 sequencerGracePeriod_
    ) {
        uint256 n = feeds_.length;
        if (n == 0 || n > MAX_FEEDS) revert InvalidOracleConfig("feeds");
        if (mode_ == Mode.Median ? (n < 2 || maxSpread_ == 0 || maxSpread_ > WAD) : maxSpread_ != 0) {
            revert InvalidOracleConfig("maxSpread");
        }
        if (minPrice_ == 0 || maxPrice_ <= minPrice_ || maxPrice_ > 1e36) revert InvalidOracleConfig("bounds");
        if (maxDeviation_ > WAD) revert InvalidOracleConfig("maxDeviation");
        if ((address(sequencerFeed_) == address(0)) != (sequencerGracePeriod_ == 0)) {
            revert InvalidOracleConfig("sequencer");
        }
        Source[MAX_FEEDS] memory s;
        for (uint256 i; i < n; ++i) {
            s[i] = _configure(feeds_[i]);
        }
        FEED_COUNT = n;
        (FEED0, MAX_AGE0, SCALE0, AGG_MIN0, AGG_MAX0) = (s[0].feed, s[0].maxAge, s[0].scale, s[0].aggMin, s[0].aggMax);
        (FEED1, MAX_AGE1, SCALE1, AGG_MIN1, AGG_MAX1) = (s[1].feed, s[1].maxAge, s[1].scale, s[1].aggMin, s[1].aggMax);
        (FEED2, MAX_AGE2, SCALE2, AGG_MIN2, AGG_MAX2) = (s[2].feed, s[2].maxAge, s[2].scale, s[2].aggMin, s[2].aggMax);
        mode = mode_;
        minPrice = minPrice_;
        maxPrice = maxPrice_;
        maxDeviation = maxDeviation_;
        maxSpread = maxSpread_;
        sequencerFeed = sequencerFeed_;
        sequencerGracePeriod = sequencerGracePeriod_;
    }

    /// @inheritdoc IPriceOracle
    /// @dev Reverts with the errors listed in IOracleAdapter.
    function price() external view returns (uint256) {
        _checkSequencer();
        uint256 n = FEED_COUNT;
        if (mode == Mode.Fallback) {
            bytes memory firstError;
            for (uint256 i; i < n; ++i) {
                (uint256 p, bytes memory err) = _read(_source(i));
                if (err.length == 0) return p;
                if (i == 0) firstError = err;
            }
            _bubble(firstError);
        }
        uint256[MAX_FEEDS] memory ok;
        uint256 valid;
        for (uint256 i; i < n; ++i) {
            (uint256 p, bytes memory err) = _read(_source(i));
            if (err.length == 0) ok[valid++] = p;
        }
        return _median(ok, valid);
    }

    /// @inheritdoc IOracleAdapter
    function feeds() external view returns (FeedConfig[] memory out) {
        out = new FeedConfig[](FEED_COUNT);
        for (uint256 i; i < out.length; ++i) {
            Source memory s = _source(i);
            out[i] = FeedConfig(s.feed, s.maxAge);
        }
    }

    /// @inheritdoc IOracleAdapter
    function aggregatorBounds(uint256 i) external view returns (int256, int256) {
        if (i >= FEED_COUNT) revert InvalidOracleConfig("index");
        Source memory s = _source(i);
        return (s.aggMin, s.aggMax);
    }

    // ------------------------------------------------------------------ internals

    function _configure(FeedConfig memory f) internal view returns (Source memory s) {
        if (address(f.feed) == address(0)) revert InvalidOracleConfig("feed");
        if (f.maxAge == 0) revert InvalidOracleConfig("maxAge");
        uint8 decimals = f.feed.decimals();
        if (decimals > 18) revert InvalidOracleConfig("decimals");
        (s.feed, s.maxAge, s.scale) = (f.feed, f.maxAge, 10 ** (18 - decimals));
        (s.aggMin, s.aggMax) = (type(int256).min, type(int256).max);
        // Best effort: a feed that does not publish its aggregator's bounds keeps the open bounds.
        try IChainlinkAggregatorBounds(address(f.feed)).aggregator() returns (address agg) {
            try IChainlinkAggregatorBounds(agg).minAnswer() returns (int192 lo) {
                try IChainlinkAggregatorBounds(agg).maxAnswer() returns (int192 hi) {
                    if (lo < hi) (s.aggMin, s.aggMax) = (lo, hi);
                } catch {}
            } catch {}
        } catch {}
    }

    function _source(uint256 i) internal view returns (Source memory) {
        if (i == 0) return Source(FEED0, MAX_AGE0, SCALE0, AGG_MIN0, AGG_MAX0);
        if (i == 1) return Source(FEED1, MAX_AGE1, SCALE1, AGG_MIN1, AGG_MAX1);
        return Source(FEED2, MAX_AGE2, SCALE2, AGG_MIN2, AGG_MAX2);
    }

    function _checkSequencer() internal view {
        AggregatorV3Interface seq = sequencerFeed;
        if (address(seq) == address(0)) return;
        try seq.latestRoundData() returns (uint80, int256 answer, uint256 startedAt, uint256, uint80) {
            if (answer != 0) revert SequencerDown();
            if (startedAt > block.timestamp || block.timestamp - startedAt <= sequencerGracePeriod) {
                revert SequencerGracePeriod(startedAt, sequencerGracePeriod);
            }
        } catch {
            revert SequencerDown();
        }
    }

    /// @dev One feed's WAD price, or the ABI-encoded error that disqualifies it (empty when the price is good).
    function _read(Source memory s) internal view returns (uint256 wadPrice, bytes memory err) {
        uint80 roundId;
        int256 answer;
        uint256 updatedAt;
        try s.feed.latestRoundData() returns (uint80 r, int256 a, uint256, uint256 u, uint80) {
            (roundId, answer, updatedAt) = (r, a, u);
        } catch {
            return (0, abi.encodeWithSelector(FeedReverted.selector, s.feed));
        }
        if (answer <= 0) return (0, abi.encodeWithSelector(NonPositivePrice.selector, s.feed, answer));
        if (answer <= s.aggMin || answer >= s.aggMax) {
            return (0, abi.encodeWithSelector(PriceAtAggregatorBound.selector, s.feed, answer, s.aggMin, s.aggMax));
        }
        // answer > 0 here; compare before scaling so that a huge answer cannot overflow.
        uint256 raw = uint256(answer);
        if (raw > maxPrice / s.scale || raw * s.scale < minPrice) {
            uint256 shown = raw > type(uint256).max / s.scale ? type(uint256).max : raw * s.scale;
            return (0, abi.encodeWithSelector(PriceOutOfBounds.selector, s.feed, shown, minPrice, maxPrice));
        }
        if (updatedAt > block.timestamp || block.timestamp - updatedAt > s.maxAge) {
            return (0, abi.encodeWithSelector(StalePrice.selector, s.feed, updatedAt, s.maxAge, block.timestamp));
        }
        if (maxDeviation != 0 && roundId > 0) {
            try s.feed.getRoundData(roundId - 1) returns (uint80, int256 previous, uint256, uint256, uint80) {
                if (previous > 0) {
                    uint256 prev = uint256(previous);
                    uint256 move = raw > prev ? raw - prev : prev - raw;
                    if (move * WAD > maxDeviation * prev) {
                        return (0, abi.encodeWithSelector(
                            PriceDeviationTooLarge.selector, s.feed, answer, previous, maxDeviation
                        ));
                    }
                }
            } catch {} // no previous round in this phase: nothing to compare with
        }
        return (raw * s.scale, "");
    }

    /// @dev Median mode: the first `valid` entries of `p` are usable prices.
    function _median(uint256[MAX_FEEDS] memory p, uint256 valid) internal view returns (uint256) {
        if (valid < 2) revert NotEnoughValidFeeds(valid, 2);
        // Sort ascending (at most three entries).
        if (p[0] > p[1]) (p[0], p[1]) = (p[1], p[0]);
        if (valid == 2) {
            _requireAgree(p[0], p[1]);
            return (p[0] + p[1]) / 2;
        }
        if (p[1] > p[2]) (p[1], p[2]) = (p[2], p[1]);
        if (p[0] > p[1]) (p[0], p[1]) = (p[1], p[0]);
        // The median must agree with at least one neighbour: one outlier is out-voted, two disagreeing ones are not.
        if (!_agree(p[0], p[1])) _requireAgree(p[1], p[2]);
        return p[1];
    }

    function _agree(uint256 low, uint256 high) internal view returns (bool) {
        return (high - low) * WAD <= maxSpread * low;
    }

    function _requireAgree(uint256 low, uint256 high) internal view {
        if (!_agree(low, high)) revert PriceSpreadTooWide(low, high, maxSpread);
    }

    function _bubble(bytes memory err) internal pure {
        assembly ("memory-safe") {
            revert(add(err, 32), mload(err))
        }
    }
}
