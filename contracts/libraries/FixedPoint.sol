// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title FixedPoint
/// @notice WAD (1e18) and RAY (1e27) constants and the RAY power used by the stability-fee accumulator.
/// @dev Rounded multiplication and division come from OpenZeppelin's Math.mulDiv; only rpow is ours.
///      The Python mirror (plimsoll.sdk.math) repeats every operation here bit for bit.
library FixedPoint {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;

    /// @notice x^n for a RAY base x, by binary exponentiation, each product rounded half up
    ///         (the rounding of MakerDAO's `rpow` in dss/jug.sol).
    /// @param x RAY; @param n exponent (seconds, for the stability fee)
    /// @return z RAY
    /// @dev Reverts on overflow (Solidity 0.8 checked arithmetic), which bounds fee·elapsed time.
    function rpow(uint256 x, uint256 n) internal pure returns (uint256 z) {
        z = n % 2 != 0 ? x : RAY;
        for (n /= 2; n != 0; n /= 2) {
            x = (x * x + RAY / 2) / RAY;
            if (n % 2 != 0) z = (z * x + RAY / 2) / RAY;
        }
    }
}
