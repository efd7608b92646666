// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";

/// @title IPUSD
/// @notice The Plimsoll dollar: an ERC-20 (18 decimals) with EIP-2612 permit and an ERC-3156 flash mint; only the
///         VaultEngine that created it mints and burns outside a flash loan.
interface IPUSD is IERC20, IERC3156FlashLender {
    /// @notice The caller is not the VaultEngine.
    error OnlyEngine(address caller);
    /// @notice The flash fee rate (WAD) must be at most MAX_FLASH_FEE.
    error InvalidFlashTerms(uint256 feeRate, uint256 maxMint);

    /// @notice The flash-mint terms were set: `feeRate` (WAD share of the loan) and `maxMint` (WAD pUSD per loan).
    event FlashTermsSet(uint256 feeRate, uint256 maxMint);

    /// @notice The VaultEngine allowed to mint and burn.
    function engine() external view returns (address);
    /// @notice Largest flash fee rate, WAD (1 %).
    function MAX_FLASH_FEE() external view returns (uint256);
    /// @notice Role, in the VaultEngine's role registry, that sets the flash terms.
    function RISK_ADMIN_ROLE() external view returns (bytes32);
    /// @notice Flash fee as a share of the loan, WAD; the fee is rounded up and burned (it goes to the surplus).
    function flashFeeRate() external view returns (uint256);
    /// @notice Largest flash loan, WAD pUSD; 0 turns flash minting off (the default).
    function maxFlashMint() external view returns (uint256);
    /// @notice The supply backed by vault debt, WAD: totalSupply less pUSD flash-minted and not yet returned (equal
    ///         to totalSupply outside a flash loan). The VaultEngine's surplus identity counts this one.
    function backedSupply() external view returns (uint256);

    /// @notice Mint `amount` (WAD) to `to`. Engine only; reverts OnlyEngine.
    /// @param to recipient
    /// @param amount WAD pUSD
    function mint(address to, uint256 amount) external;
    /// @notice Burn `amount` (WAD) from `from`. Engine only; reverts OnlyEngine, ERC20InsufficientBalance.
    /// @param from holder whose pUSD is burned (no allowance needed: the engine only)
    /// @param amount WAD pUSD
    function burn(address from, uint256 amount) external;
    /// @notice Set the flash-mint terms. RISK_ADMIN_ROLE of the VaultEngine only.
    /// @param feeRate WAD share of each loan, at most MAX_FLASH_FEE (0: free)
    /// @param maxMint WAD pUSD per loan (0: flash minting off)
    /// @dev Reverts AccessControlUnauthorizedAccount, InvalidFlashTerms.
    function setFlashTerms(uint256 feeRate, uint256 maxMint) external;
}
