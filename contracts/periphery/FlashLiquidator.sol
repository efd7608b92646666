// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IUniswapV2Factory} from "@uniswap/v2-core/contracts/interfaces/IUniswapV2Factory.sol";
import {IUniswapV2Router02} from "@uniswap/v2-periphery/contracts/interfaces/IUniswapV2Router02.sol";

import {ILiquidationCallback} from "@plimsoll/interfaces/ILiquidationCallback.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";

/// @title FlashLiquidator
/// @notice A keeper's on-chain arm for liquidating with no pUSD inventory: it takes the seized collateral, sells it
///         for pUSD on Uniswap v2 pairs (token/pUSD), pays the liquidation from the proceeds and sends the rest, the
///         profit, to its owner. Two ways to fund the payment:
///         - `liquidate`: the LiquidationEngine's flash liquidation (collateral first, pUSD pulled after the
///           callback); no fee;
///         - `liquidateWithFlashMint`: an ERC-3156 flash mint of pUSD, repaid with its fee.
/// @dev Holds nothing between calls. Owner only, so that no one else chooses its trades. A collateral with no pair is
///      not sold; the owner may `sweep` it.
contract FlashLiquidator is ILiquidationCallback, IERC3156FlashBorrower, Ownable {
    using SafeERC20 for IERC20;

    bytes32 internal constant FLASH_LOAN_OK = keccak256("ERC3156FlashBorrower.onFlashLoan");

    /// @notice The liquidation module.
    ILiquidationEngine public immutable liquidationEngine;
    /// @notice The accounting core: it sends the collateral and calls `onLiquidation`.
    IVaultEngine public immutable vaultEngine;
    /// @notice pUSD, the flash lender and the currency of the sales.
    IPUSD public immutable pusd;
    /// @notice Uniswap v2 router the collateral is sold through.
    IUniswapV2Router02 public immutable router;

    /// @dev The flash mint's batch result (vaults liquidated, WAD pUSD repaid), from the callback to the caller.
    uint256 internal transient _liquidated;
    uint256 internal transient _repaid;

    /// @notice The proceeds left after paying for the liquidation, `profit` (WAD pUSD), are below `minProfit`.
    error ProfitBelowMinimum(uint256 profit, uint256 minProfit);
    /// @notice A callback came from `caller`, not from the contract it must come from, or outside a liquidation.
    error UnexpectedCallback(address caller);

    /// @notice The owner's liquidation of `liquidated` vaults left `profit` (WAD pUSD), sent to the owner.
    event FlashLiquidation(uint256 liquidated, uint256 repaid, uint256 profit, bool flashMint);

    /// @param liquidationEngine_ the LiquidationEngine
    /// @param router_ a Uniswap v2 router whose factory has token/pUSD pairs
    /// @param owner_ who may run it and receives the profit (the keeper's account)
    constructor(ILiquidationEngine liquidationEngine_, IUniswapV2Router02 router_, address owner_) Ownable(owner_) {
        liquidationEngine = liquidationEngine_;
        vaultEngine = liquidationEngine_.engine();
        pusd = vaultEngine.pusd();
        router = router_;
    }

    /// @notice Flash-liquidate `vaultIds` (ascending; the ones not liquidatable are skipped) and send the profit to
    ///         the owner. Owner only.
    /// @param vaultIds vaults to try, strictly ascending
    /// @param minProfit WAD pUSD; less reverts the whole liquidation
    /// @dev Reverts OwnableUnauthorizedAccount, ProfitBelowMinimum, and as LiquidationEngine.flashLiquidate (also
    ///      ERC20InsufficientBalance when the sales do not cover the payment).
    /// @return liquidated vaults liquidated
    /// @return profit WAD pUSD sent to the owner
    function liquidate(uint256[] calldata vaultIds, uint256 minProfit)
        external
        onlyOwner
        returns (uint256 liquidated, uint256 profit)
    {
        uint256 repaid;
        (liquidated, repaid) = liquidationEngine.flashLiquidate(vaultIds, hex"01");
        profit = _payProfit(minProfit);
        emit FlashLiquidation(liquidated, repaid, profit, false);
    }

    /// @notice Liquidate `vaultIds` with `loan` pUSD flash-minted for the purpose, sell the collateral, repay the loan
    ///         and its fee, and send the profit to the owner. Owner only.
    /// @param vaultIds vaults to try, strictly ascending (skipped if `loan` does not cover them)
    /// @param loan WAD pUSD to flash-mint, at most pUSD's maxFlashLoan
    /// @param minProfit WAD pUSD; less reverts the whole liquidation
    /// @dev Reverts OwnableUnauthorizedAccount, ProfitBelowMinimum, ERC3156ExceededMaxLoan, ERC20InsufficientBalance
    ///      (the sales do not repay the loan), and as LiquidationEngine.liquidateBatch.
    /// @return liquidated vaults liquidated
    /// @return profit WAD pUSD sent to the owner
    function liquidateWithFlashMint(uint256[] calldata vaultIds, uint256 loan, uint256 minProfit)
        external
        onlyOwner
        returns (uint256 liquidated, uint256 profit)
    {
        pusd.flashLoan(this, address(pusd), loan, abi.encode(vaultIds));
        liquidated = _liquidated;
        profit = _payProfit(minProfit);
        emit FlashLiquidation(liquidated, _repaid, profit, true);
    }

    /// @inheritdoc ILiquidationCallback
    /// @dev Only this contract's own `liquidate` makes it a flash liquidator, so a call from the VaultEngine is ours.
    function onLiquidation(uint256, bytes calldata) external {
        if (msg.sender != address(vaultEngine)) revert UnexpectedCallback(msg.sender);
        _sellCollateral(); // the VaultEngine burns what is owed right after
    }

    /// @notice ERC-3156 callback: liquidate with the loan, sell the collateral, approve the repayment.
    /// @param initiator must be this contract
    /// @param amount WAD pUSD lent
    /// @param fee WAD pUSD owed on top
    /// @param data the abi-encoded vault ids
    /// @return keccak256("ERC3156FlashBorrower.onFlashLoan")
    /// @dev Reverts UnexpectedCallback unless pUSD calls it for a loan this contract took (liquidateWithFlashMint).
    function onFlashLoan(address initiator, address, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        if (msg.sender != address(pusd) || initiator != address(this)) revert UnexpectedCallback(msg.sender);
        (_liquidated, _repaid) = liquidationEngine.liquidateBatch(abi.decode(data, (uint256[])));
        _sellCollateral();
        IERC20(address(pusd)).forceApprove(address(pusd), amount + fee);
        return FLASH_LOAN_OK;
    }

    /// @notice Send this contract's whole balance of `token` to the owner (a collateral that had no pair). Owner only.
    /// @param token the token
    /// @dev Reverts OwnableUnauthorizedAccount.
    function sweep(IERC20 token) external onlyOwner {
        token.safeTransfer(owner(), token.balanceOf(address(this)));
    }

    /// @dev Sell the whole balance of every listed collateral that has a token/pUSD pair (at most the VaultEngine's
    ///      MAX_COLLATERAL_TYPES tokens). No per-swap minimum: the caller's minProfit bounds the sum.
    function _sellCollateral() internal {
        address[] memory tokens = vaultEngine.collateralTokens();
        IUniswapV2Factory factory = IUniswapV2Factory(router.factory());
        address[] memory path = new address[](2);
        path[1] = address(pusd);
        for (uint256 i; i < tokens.length; ++i) {
            uint256 amount = IERC20(tokens[i]).balanceOf(address(this));
            if (amount == 0 || factory.getPair(tokens[i], address(pusd)) == address(0)) continue;
            path[0] = tokens[i];
            IERC20(tokens[i]).forceApprove(address(router), amount);
            router.swapExactTokensForTokens(amount, 0, path, address(this), block.timestamp);
        }
    }

    function _payProfit(uint256 minProfit) internal returns (uint256 profit) {
        profit = pusd.balanceOf(address(this));
        if (profit < minProfit) revert ProfitBelowMinimum(profit, minProfit);
        if (profit != 0) IERC20(address(pusd)).safeTransfer(owner(), profit);
    }
}
