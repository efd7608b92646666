// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title FixedPoint
/// @notice WAD (1e18) and RAY (1e27) constants and the saturating RAY power used by the stability-fee accumulator.
/// @dev Rounded multiplication and division come from OpenZeppelin's Math.mulDiv; only rpow is ours.
///      The Python mirror (plimsoll.sdk.math) repeats every operation here bit for bit.
library FixedPoint {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;

    /// @notice min(x^n, cap) for a RAY base x >= RAY, by binary exponentiation, each product rounded half up
    ///         (the rounding of MakerDAO's `rpow` in dss/jug.sol).
    /// @dev Saturates instead of overflowing: once a partial power exceeds `cap` the result is `cap`. With
    ///      RAY <= x and cap <= 1e36 no product exceeds 1e72, so nothing overflows for any n. Below the cap the
    ///      result is exactly dss's rpow.
    /// @param x base, RAY, at least RAY
    /// @param n exponent (seconds, for the stability fee)
    /// @param cap largest result, RAY, at most 1e36
    /// @return z RAY
    function rpowSaturating(uint256 x, uint256 n, uint256 cap) internal pure returns (uint256 z) {
        z = n % 2 != 0 ? x : RAY;
        if (z > cap) return cap;
        for (n /= 2; n != 0; n /= 2) {
            x = (x * x + RAY / 2) / RAY;
            // x only grows (x >= RAY), and n still has a set bit, so z will be multiplied by x or more.
            if (x > cap) return cap;
            if (n % 2 != 0) {
                z = (z * x + RAY / 2) / RAY;
                if (z > cap) return cap;
            }
        }
    }
}
