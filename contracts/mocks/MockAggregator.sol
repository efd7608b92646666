// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

/// @title MockAggregator — a Chainlink-compatible price feed for local networks and tests
/// @notice Keeps every round (answer, startedAt, updatedAt) like an OCR aggregator; only its operator (the deployer)
///         reports. `updateAnswer` stamps the round with the block time; `setRoundData` lets tests stamp any time.
///         Like an OCR aggregator behind its proxy, it publishes `aggregator()`, `minAnswer()` and `maxAnswer()` and,
///         once bounds are set, clamps every reported answer into them. `setBroken` makes its reads revert.
contract MockAggregator is AggregatorV3Interface {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    /// @notice Emitted for every new round, as Chainlink's AggregatorInterface does.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice The caller is not the operator.
    error OnlyOperator(address caller);
    /// @notice No round with this id.
    error NoDataPresent(uint80 roundId);
    /// @notice The feed was set broken by its operator.
    error FeedBroken();

    /// @notice Answer decimals (Chainlink USD feeds use 8).
    uint8 public immutable decimals;
    /// @notice Account allowed to report rounds.
    address public immutable operator;
    /// @notice Feed description, e.g. "ETH / USD".
    string public description;
    /// @notice Id of the latest round (0 before the first report).
    uint80 public latestRound;
    /// @notice Lowest answer the aggregator reports (feed decimals); answers below are clamped up to it.
    int192 public minAnswer;
    /// @notice Highest answer the aggregator reports (feed decimals); answers above are clamped down to it.
    int192 public maxAnswer;
    /// @notice While true, latestRoundData and getRoundData revert (a paused or broken feed).
    bool public broken;
    mapping(uint80 roundId => Round) internal _rounds;

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        operator = msg.sender;
        _report(initialAnswer, block.timestamp);
    }

    /// @notice Aggregator interface version (as Chainlink's v3 aggregators report).
    function version() external pure returns (uint256) {
        return 4;
    }

    /// @notice Start a new round with `answer` (feed decimals) stamped now. Operator only.
    function updateAnswer(int256 answer) external {
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        _report(answer, block.timestamp);
    }

    /// @notice Start a new round with `answer` stamped `updatedAt` (seconds), for staleness tests. Operator only.
    function setRoundData(int256 answer, uint256 updatedAt) external {
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        _report(answer, updatedAt);
    }

    /// @notice Set the clamp bounds (feed decimals; min < max), as an OCR aggregator's deployment does. Operator only.
    function setAggregatorBounds(int192 minAnswer_, int192 maxAnswer_) external {
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        minAnswer = minAnswer_;
        maxAnswer = maxAnswer_;
    }

    /// @notice Make every read revert (true) or work again (false). Operator only.
    function setBroken(bool broken_) external {
        if (msg.sender != operator) revert OnlyOperator(msg.sender);
        broken = broken_;
    }

    /// @notice The aggregator behind this "proxy": itself.
    function aggregator() external view returns (address) {
        return address(this);
    }

    /// @notice A past round. Reverts NoDataPresent for an unknown id, FeedBroken while broken.
    function getRoundData(uint80 roundId) public view returns (uint80, int256, uint256, uint256, uint80) {
        if (broken) revert FeedBroken();
        Round memory r = _rounds[roundId];
        if (r.updatedAt == 0) revert NoDataPresent(roundId);
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    /// @notice The latest round: (roundId, answer, startedAt, updatedAt, answeredInRound).
    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }

    function _report(int256 answer, uint256 updatedAt) internal {
        if (minAnswer < maxAnswer) {
            if (answer < minAnswer) answer = minAnswer;
            if (answer > maxAnswer) answer = maxAnswer;
        }
        uint80 roundId = ++latestRound;
        _rounds[roundId] = Round(answer, uint64(updatedAt), uint64(updatedAt));
        emit AnswerUpdated(answer, roundId, updatedAt);
    }
}
