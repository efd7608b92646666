// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title FixedPoint
/// @notice WAD (1e18) and RAY (1e27) constants, multiplication-division whose name says which way it rounds, and
///         the saturating RAY power used by the stability-fee accumulator.
/// @dev The 512-bit product comes from OpenZeppelin's Math.mulDiv; only rpow is ours. The Python mirror
///      (plimsoll.sdk.math: mul_div_down, mul_div_up, rpow_saturating) repeats every operation bit for bit.
///      Rounding favours the protocol: debts round up, values and seized amounts round down (docs/math.md).
library FixedPoint {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    /// @notice Where rate factors saturate, RAY (a billion-fold growth): see rpowSaturating.
    uint256 internal constant MAX_RATE = 1e36;

    /// @notice floor(x·y / d), exact in 512 bits.
    /// @param x first factor
    /// @param y second factor
    /// @param d divisor, non-zero
    /// @return the quotient rounded down; reverts (panic 0x12 or MathOverflowedMulDiv) when d is 0 or it overflows
    function mulDivDown(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(x, y, d);
    }

    /// @notice ceil(x·y / d), exact in 512 bits.
    /// @param x first factor
    /// @param y second factor
    /// @param d divisor, non-zero
    /// @return the quotient rounded up; reverts as mulDivDown
    function mulDivUp(uint256 x, uint256 y, uint256 d) internal pure returns (uint256) {
        return Math.mulDiv(x, y, d, Math.Rounding.Ceil);
    }

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
        if (x > cap) return n == 0 ? RAY : cap;
        z = n % 2 != 0 ? x : RAY;
        // Unchecked: x and z stay <= cap <= 1e36 here, so no product exceeds 1e72 < 2^256.
        unchecked {
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
}
