// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";

/// @title PUSD — the Plimsoll dollar
/// @notice ERC-20 with EIP-2612 permit, 18 decimals. Created by the VaultEngine, which alone mints and burns:
///         no admin, no upgrade, no second minter.
contract PUSD is ERC20, ERC20Permit, IPUSD {
    /// @inheritdoc IPUSD
    address public immutable engine;

    /// @notice Deployed by the VaultEngine's constructor; the deployer becomes the only minter and burner.
    constructor() ERC20("Plimsoll USD", "pUSD") ERC20Permit("Plimsoll USD") {
        engine = msg.sender;
    }

    modifier onlyEngine() {
        if (msg.sender != engine) revert OnlyEngine(msg.sender);
        _;
    }

    /// @inheritdoc IPUSD
    function mint(address to, uint256 amount) external onlyEngine {
        _mint(to, amount);
    }

    /// @inheritdoc IPUSD
    /// @dev No allowance: the engine burns only from the caller of repay, or from a liquidator through the
    ///      liquidation engine, each of whom asked for it.
    function burn(address from, uint256 amount) external onlyEngine {
        _burn(from, amount);
    }
}
