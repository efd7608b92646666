// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";
import {IOracleAdapter} from "@plimsoll/interfaces/IOracleAdapter.sol";
import {OracleAdapter} from "contracts/OracleAdapter.sol";
import {MockAggregator} from "contracts/mocks/MockAggregator.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice A Chainlink-shaped feed that publishes no aggregator bounds (no `aggregator()`).
contract BareFeed is AggregatorV3Interface {
    int256 public answer = 5e8;
    uint256 public updatedAt = block.timestamp;

    function decimals() external pure returns (uint8) {
        return 8;
    }

    function description() external pure returns (string memory) {
        return "bare";
    }

    function version() external pure returns (uint256) {
        return 1;
    }

    function getRoundData(uint80) external pure returns (uint80, int256, uint256, uint256, uint80) {
        revert("no history");
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return (7, answer, updatedAt, updatedAt, 7);
    }
}

/// @notice OracleAdapter unit tests: configuration errors, every per-feed check, fallback order, median voting,
///         the sequencer, and the views. (tests/test_oracle_incidents.py replays the incidents on Anvil.)
contract OracleAdapterTest is ProtocolFixture {
    function setUp() public {
        _deployProtocol();
    }

    function _expectConfig(string memory what) internal {
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.InvalidOracleConfig.selector, what));
    }

    function test_constructor_validates() public {
        IOracleAdapter.FeedConfig[] memory none = new IOracleAdapter.FeedConfig[](0);
        IOracleAdapter.FeedConfig[] memory one = _feeds1(stableFeed);
        AggregatorV3Interface z = AggregatorV3Interface(address(0));
        _expectConfig("feeds");
        new OracleAdapter(none, IOracleAdapter.Mode.Fallback, 1, 2, 0, 0, z, 0);
        _expectConfig("maxSpread");
        new OracleAdapter(one, IOracleAdapter.Mode.Median, 1, 2, 0, 0.01e18, z, 0);
        _expectConfig("maxSpread");
        new OracleAdapter(_feeds3(), IOracleAdapter.Mode.Median, 1, 2, 0, 1e18 + 1, z, 0);
        _expectConfig("bounds");
        new OracleAdapter(one, IOracleAdapter.Mode.Fallback, 0, 2, 0, 0, z, 0);
        _expectConfig("maxDeviation");
        new OracleAdapter(one, IOracleAdapter.Mode.Fallback, 1, 2, 1e18 + 1, 0, z, 0);
        _expectConfig("sequencer");
        new OracleAdapter(one, IOracleAdapter.Mode.Fallback, 1, 2, 0, 0, z, 60);
        IOracleAdapter.FeedConfig[] memory bad = new IOracleAdapter.FeedConfig[](1);
        bad[0] = IOracleAdapter.FeedConfig(z, 60);
        _expectConfig("feed");
        new OracleAdapter(bad, IOracleAdapter.Mode.Fallback, 1, 2, 0, 0, z, 0);
        bad[0] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(stableFeed)), 0);
        _expectConfig("maxAge");
        new OracleAdapter(bad, IOracleAdapter.Mode.Fallback, 1, 2, 0, 0, z, 0);
        bad[0] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(new MockAggregator(19, "x", 1))), 60);
        _expectConfig("decimals");
        new OracleAdapter(bad, IOracleAdapter.Mode.Fallback, 1, 2, 0, 0, z, 0);
    }

    function test_views() public {
        IOracleAdapter.FeedConfig[] memory f = wbtcOracle.feeds();
        assertEq(f.length, 3);
        assertEq(address(f[2].feed), address(wbtcFeeds[2]));
        assertEq(f[2].maxAge, MAX_AGE);
        (int256 lo, int256 hi) = advOracle.aggregatorBounds(0);
        assertEq(lo, 0.01e8);
        assertEq(hi, 1_000e8);
        (lo, hi) = wethOracle.aggregatorBounds(1); // bounds not set on this mock: open
        assertEq(lo, type(int256).min);
        assertEq(hi, type(int256).max);
        _expectConfig("index");
        wethOracle.aggregatorBounds(2);
        assertEq(uint256(wbtcOracle.mode()), uint256(IOracleAdapter.Mode.Median));
        assertEq(wbtcOracle.maxSpread(), 0.02e18);
        assertEq(wethOracle.maxDeviation(), 0.5e18);
        assertEq(address(advOracle.sequencerFeed()), address(sequencer));
        assertEq(advOracle.sequencerGracePeriod(), 1 hours);
        assertEq(advOracle.minPrice(), 0.0001e18);
        assertEq(advOracle.maxPrice(), 1e30);
    }

    function test_a_feed_without_published_bounds_or_history_still_prices() public {
        BareFeed bare = new BareFeed();
        IOracleAdapter.FeedConfig[] memory f = new IOracleAdapter.FeedConfig[](1);
        f[0] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(bare)), 60);
        OracleAdapter o = new OracleAdapter(
            f, IOracleAdapter.Mode.Fallback, 1, 1e30, 0.1e18, 0, AggregatorV3Interface(address(0)), 0
        );
        (int256 lo,) = o.aggregatorBounds(0);
        assertEq(lo, type(int256).min);
        assertEq(o.price(), 5e18); // no previous round to compare with: the breaker stands aside
    }

    function test_each_check_names_its_feed() public {
        MockAggregator f = wethFeeds[0];
        OracleAdapter o = _adapter(_feeds1(f), IOracleAdapter.Mode.Fallback, 0, 0, address(0), 0);
        f.updateAnswer(-1);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.NonPositivePrice.selector, address(f), -1));
        o.price();
        f.updateAnswer(type(int256).max - 1); // would overflow when scaled: out of bounds, not a panic
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.PriceOutOfBounds.selector, address(f), type(uint256).max, 0.0001e18, 1e30)
        );
        o.price();
        f.updateAnswer(1); // $0.00000001 < minPrice
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.PriceOutOfBounds.selector, address(f), 1e10, 0.0001e18, 1e30));
        o.price();
        f.setRoundData(2_000e8, block.timestamp + 1); // stamped in the future
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.StalePrice.selector, address(f), block.timestamp + 1, MAX_AGE, block.timestamp)
        );
        o.price();
        advFeed.updateAnswer(5_000e8); // clamped to the aggregator's max
        vm.expectRevert(
            abi.encodeWithSelector(IOracleAdapter.PriceAtAggregatorBound.selector, address(advFeed), 1_000e8, 0.01e8, 1_000e8)
        );
        advOracle.price();
    }

    function test_fallback_takes_the_first_good_feed_and_reports_the_primarys_error() public {
        wethFeeds[0].setBroken(true);
        wethFeeds[1].updateAnswer(1_990e8);
        assertEq(wethOracle.price(), 1_990e18);
        wethFeeds[1].setBroken(true);
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.FeedReverted.selector, address(wethFeeds[0])));
        wethOracle.price();
    }

    function test_median_votes() public {
        assertEq(wbtcOracle.price(), 40_000e18);
        wbtcFeeds[0].updateAnswer(39_900e8);
        wbtcFeeds[2].updateAnswer(40_100e8);
        assertEq(wbtcOracle.price(), 40_000e18);
        wbtcFeeds[1].updateAnswer(52_000e8); // an outlier on the high side becomes the top: median 40,100
        assertEq(wbtcOracle.price(), 40_100e18);
        wbtcFeeds[0].updateAnswer(30_000e8); // now all three disagree
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.PriceSpreadTooWide.selector, 40_100e18, 52_000e18, 0.02e18));
        wbtcOracle.price();
    }

    function test_sequencer() public {
        assertEq(advOracle.price(), 1e18);
        sequencer.setBroken(true);
        vm.expectRevert(IOracleAdapter.SequencerDown.selector);
        advOracle.price();
        sequencer.setBroken(false);
        sequencer.setRoundData(0, block.timestamp + 10); // a status change stamped in the future: in grace
        vm.expectRevert(abi.encodeWithSelector(IOracleAdapter.SequencerGracePeriod.selector, block.timestamp + 10, 1 hours));
        advOracle.price();
    }
}
