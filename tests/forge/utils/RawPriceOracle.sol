// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice An IPriceOracle whose answer a test sets directly: any price (zero, above MAX_PRICE), a revert, a short
///         answer, or a gas-hungry one. For the engine's handling of misbehaving oracles.
contract RawPriceOracle {
    enum Mode {
        Price,
        Revert,
        Short,
        BurnGas
    }

    uint256 public answer;
    Mode public mode;

    constructor(uint256 answer_) {
        answer = answer_;
    }

    function set(uint256 answer_, Mode mode_) external {
        (answer, mode) = (answer_, mode_);
    }

    function price() external view returns (uint256) {
        Mode m = mode;
        if (m == Mode.Revert) revert("oracle down");
        if (m == Mode.Short) {
            assembly ("memory-safe") {
                mstore(0, 1)
                return(0, 16)
            }
        }
        if (m == Mode.BurnGas) {
            while (true) {} // runs out of whatever gas it is given
        }
        return answer;
    }
}
