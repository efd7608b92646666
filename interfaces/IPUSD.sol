// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IPUSD
/// @notice The Plimsoll dollar: an ERC-20 (18 decimals) with EIP-2612 permit; only the VaultEngine that
///         created it mints and burns.
interface IPUSD is IERC20 {
    /// @notice The caller is not the VaultEngine.
    error OnlyEngine(address caller);

    /// @notice The VaultEngine allowed to mint and burn.
    function engine() external view returns (address);
    /// @notice Mint `amount` (WAD) to `to`. Engine only; reverts OnlyEngine.
    /// @param to recipient
    /// @param amount WAD pUSD
    function mint(address to, uint256 amount) external;
    /// @notice Burn `amount` (WAD) from `from`. Engine only; reverts OnlyEngine, ERC20InsufficientBalance.
    /// @param from holder whose pUSD is burned (no allowance needed: the engine only)
    /// @param amount WAD pUSD
    function burn(address from, uint256 amount) external;
}
