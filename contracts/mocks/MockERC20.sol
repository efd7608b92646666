// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MockERC20 — test and local-network collateral with any decimals, an EIP-2612 permit and an open faucet
/// @notice Never deploy outside local and test networks: anyone may mint.
contract MockERC20 is ERC20Permit {
    uint8 internal immutable DECIMALS;

    constructor(string memory name_, string memory symbol_, uint8 decimals_)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        DECIMALS = decimals_;
    }

    /// @notice The token's decimals, fixed at deployment.
    function decimals() public view override returns (uint8) {
        return DECIMALS;
    }

    /// @notice Mint `amount` (token decimals) to `to`. Open to anyone.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
