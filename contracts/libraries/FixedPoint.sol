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

    /// @notice Exponent bits that rpowSaturating always walks: 2^32 seconds is 136 years.
    uint256 internal constant RPOW_BITS = 32;

    /// @notice min(x^n, cap) for a RAY base x >= RAY, by binary exponentiation, each product rounded half up
    ///         (the rounding of MakerDAO's `rpow` in dss/jug.sol).
    /// @dev Saturates instead of overflowing: once a partial power exceeds `cap` the result is `cap`. With
    ///      RAY <= x and cap <= 1e36 no product exceeds 1e72, so nothing overflows for any n. Below the cap the
    ///      result is exactly dss's rpow.
    ///      Its gas does not depend on n below 2^RPOW_BITS: it always walks RPOW_BITS bits and selects each product
    ///      arithmetically instead of branching on the bit. The stability fee and the margin-call premium run it
    ///      on the seconds elapsed, so a transaction estimated with eth_estimateGas in one block needs exactly as
    ///      much in a later one (a varying cost would make the engine's oracle gas check revert an unpadded
    ///      estimate). Beyond 2^RPOW_BITS seconds the walk grows with the exponent's length.
    /// @param x base, RAY, at least RAY
    /// @param n exponent (seconds, for the stability fee)
    /// @param cap largest result, RAY, at most 1e36
    /// @return z RAY
    function rpowSaturating(uint256 x, uint256 n, uint256 cap) internal pure returns (uint256 z) {
        if (x > cap) return n == 0 ? RAY : cap;
        z = RAY;
        uint256 bits = RPOW_BITS;
        while (bits < 256 && n >> bits != 0) ++bits; // only beyond 136 years: the walk grows with the exponent
        assembly ("memory-safe") {
            let half := div(RAY, 2)
            let ceiling := add(cap, 1) // x and z are clamped here: products stay <= (1e36 + 1)^2 < 2^256
            for { let i := 0 } lt(i, bits) { i := add(i, 1) } {
                // z <- z·x rounded half up when bit i of n is set: selected by arithmetic, not by a branch
                z := add(z, mul(sub(div(add(mul(z, x), half), RAY), z), and(shr(i, n), 1)))
                z := xor(z, mul(xor(z, ceiling), gt(z, ceiling))) // min(z, ceiling), without a branch either
                x := div(add(mul(x, x), half), RAY)
                x := xor(x, mul(xor(x, ceiling), gt(x, ceiling)))
            }
            z := sub(z, gt(z, cap)) // a saturated z is ceiling = cap + 1: return cap
        }
    }
}
