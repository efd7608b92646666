// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockERC20} from "./MockERC20.sol";

/// @title MockAdversarialERC20 — a collateral token that misbehaves on demand (tests only)
/// @notice Fee on transfer (the recipient gets less than was sent), pause (every transfer reverts) and a blocklist
///         (transfers from or to a listed address revert), each switched by anyone: tests flip them mid-scenario.
contract MockAdversarialERC20 is MockERC20 {
    /// @notice A transfer was attempted while paused.
    error TokenPaused();
    /// @notice A transfer involved a blocked address.
    error AddressBlocked(address account);

    /// @notice Fee taken from every transfer (not mints or burns), basis points of the amount; burned.
    uint256 public feeBps;
    /// @notice While true, every transfer reverts TokenPaused.
    bool public paused;
    /// @notice Addresses that may neither send nor receive.
    mapping(address account => bool) public blocked;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) MockERC20(name_, symbol_, decimals_) {}

    /// @notice Set the transfer fee, basis points (<= 10,000).
    function setFeeBps(uint256 feeBps_) external {
        feeBps = feeBps_;
    }

    /// @notice Pause or unpause every transfer.
    function setPaused(bool paused_) external {
        paused = paused_;
    }

    /// @notice Block or unblock an address.
    function setBlocked(address account, bool blocked_) external {
        blocked[account] = blocked_;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) return super._update(from, to, value);
        if (paused) revert TokenPaused();
        if (blocked[from]) revert AddressBlocked(from);
        if (blocked[to]) revert AddressBlocked(to);
        uint256 fee = value * feeBps / 10_000;
        if (fee != 0) super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
