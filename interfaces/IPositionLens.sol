// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPositionLens
/// @notice What a wallet shows for a vault, in one eth_call, with the engine's own numbers: per collateral its amount,
///         price, value, parameters, withdrawable maximum and liquidation price; the debt, margins, health, borrowable
///         maximum and margin-call state; and the health after a hypothetical deposit, withdrawal, borrow or repay.
///         A failing price feed never makes it revert: that collateral is reported unpriced (it counts zero, as in
///         the engine) and the position's status says so. Read-only; the protocol never calls it.
/// @dev Units: WAD (1e18) for USD values, prices (USD per whole token), pUSD amounts, ratios and health factors;
///      token decimals for collateral amounts; seconds for times. Health without debt is type(uint256).max.
interface IPositionLens {
    /// @notice How complete a position's numbers are.
    /// @dev Ok: every collateral priced. Unpriced: at least one collateral's feed failed, so it counts zero in the
    ///      margins and health (exactly as the engine counts it). NoSuchVault: the id was never opened; every other
    ///      field is zero.
    enum Status {
        Ok,
        Unpriced,
        NoSuchVault
    }

    /// @notice One collateral of a vault.
    /// @param token the collateral token
    /// @param decimals the token's decimals
    /// @param amount the vault's balance, token decimals
    /// @param priced false when its feed failed (then price, value and liquidationPrice are 0)
    /// @param price WAD USD per whole token, as the engine reads it
    /// @param value floor(amount·price / 10^decimals), WAD USD
    /// @param ltv loan-to-value, WAD
    /// @param liquidationThreshold WAD
    /// @param liquidationBonus WAD (1.05e18 = 5 % bonus)
    /// @param maxWithdraw the largest withdrawal the engine accepts at the position's timestamp, token decimals
    /// @param liquidationPrice WAD USD: the lowest price of this collateral, the others' prices unchanged, at which
    ///        the vault is still safe (health >= 1); below it the vault is liquidatable. 0 when no price of this
    ///        collateral can make it liquidatable (no debt, or the others alone cover the debt); type(uint256).max
    ///        when no price the engine accepts makes it safe. For a vault in a margin call the debt includes the
    ///        pending premium, which a liquidation books before it decides.
    struct CollateralPosition {
        address token;
        uint8 decimals;
        uint256 amount;
        bool priced;
        uint256 price;
        uint256 value;
        uint256 ltv;
        uint256 liquidationThreshold;
        uint256 liquidationBonus;
        uint256 maxWithdraw;
        uint256 liquidationPrice;
    }

    /// @notice A vault as a wallet shows it.
    /// @param vaultId the vault
    /// @param owner holder of the vault's VaultNFT token (zero for NoSuchVault)
    /// @param status Ok, Unpriced or NoSuchVault
    /// @param timestamp the block timestamp (seconds) the debt and maxima are computed for
    /// @param portfolioMargin whether the vault is in portfolio margin (margins from the scenario grids)
    /// @param inMarginCall whether the vault is in a margin call
    /// @param marginCallDeadline end of the grace window, seconds (0 without a call)
    /// @param pendingPremium margin-call premium accrued and not yet booked into the debt, WAD pUSD
    /// @param debt WAD pUSD, rounded up, at `timestamp`
    /// @param collateralValue Σ value, WAD USD
    /// @param borrowPower initial margin: Σ value·LTV, or the initial grid's worst scenario, WAD USD
    /// @param maintenance maintenance margin: Σ value·LT, or the maintenance grid's worst scenario, WAD USD
    /// @param healthFactor maintenance / debt, WAD, rounded down; type(uint256).max without debt
    /// @param maxBorrow the largest borrow the engine accepts at `timestamp`, WAD pUSD
    /// @param collateral one entry per collateral, in the vault's order
    struct Position {
        uint256 vaultId;
        address owner;
        Status status;
        uint256 timestamp;
        bool portfolioMargin;
        bool inMarginCall;
        uint256 marginCallDeadline;
        uint256 pendingPremium;
        uint256 debt;
        uint256 collateralValue;
        uint256 borrowPower;
        uint256 maintenance;
        uint256 healthFactor;
        uint256 maxBorrow;
        CollateralPosition[] collateral;
    }

    /// @notice A vault's margins after a hypothetical action, at the current block and prices.
    /// @param debt WAD pUSD, rounded up
    /// @param borrowPower WAD USD
    /// @param maintenance WAD USD
    /// @param healthFactor WAD, rounded down; type(uint256).max without debt
    /// @param status Ok, or Unpriced when a collateral the vault would hold has no price (it counts zero, so the
    ///        margins and health are floors)
    struct Preview {
        uint256 debt;
        uint256 borrowPower;
        uint256 maintenance;
        uint256 healthFactor;
        Status status;
    }

    /// @notice The vault at the current block.
    /// @param vaultId the vault
    /// @dev Equals positionAt(vaultId, block.timestamp). Reverts InsufficientGasForOracle only.
    /// @return vault the vault
    function position(uint256 vaultId) external view returns (Position memory vault);

    /// @notice The vault with its debt and maxima computed for a block stamped `timestamp`, prices and state
    ///         unchanged until then: pass the next block's expected timestamp, and a borrow or withdrawal of the
    ///         maximum returned is accepted in that block while one wei more is refused.
    /// @param vaultId the vault
    /// @param timestamp seconds, at or after the engine's lastDrip
    /// @dev Reverts TimestampBeforeLastDrip, InsufficientGasForOracle.
    /// @return vault the vault
    function positionAt(uint256 vaultId, uint256 timestamp) external view returns (Position memory vault);

    /// @notice Several vaults at the current block, in the order given (the caller bounds the list).
    /// @param vaultIds the vaults
    /// @return vaults one per id
    function positions(uint256[] calldata vaultIds) external view returns (Position[] memory vaults);

    /// @notice Every vault `owner` holds, at the current block, in the VaultNFT's enumeration order
    ///         (tokenOfOwnerByIndex). Anyone can send an owner empty vaults (an ERC-721 transfer needs no consent),
    ///         and a few thousand make this call too big for a node's eth_call gas cap: page with positionsOfPage.
    /// @param owner the account
    /// @return vaults one per vault held
    function positionsOf(address owner) external view returns (Position[] memory vaults);

    /// @notice The vaults `owner` holds at enumeration indexes start .. start + count − 1, at the current block: fewer
    ///         than `count` only at the end of the list (none past it), so a page shorter than asked is the last.
    /// @param owner the account
    /// @param start the first index (tokenOfOwnerByIndex)
    /// @param count most vaults to return
    /// @return vaults one per vault in the page
    function positionsOfPage(address owner, uint256 start, uint256 count)
        external
        view
        returns (Position[] memory vaults);

    /// @notice Margins and health after depositing `amount` of `token` (a listed collateral).
    /// @param vaultId the vault
    /// @param token the collateral token
    /// @param amount token decimals
    /// @dev Reverts UnknownCollateral (from the engine's listing), VaultNotFound, and SupplyCapExceeded for an amount
    ///      above MAX_SUPPLY_CAP (no deposit that large can be booked).
    /// @return preview the vault after the deposit
    function previewDeposit(uint256 vaultId, address token, uint256 amount) external view returns (Preview memory preview);

    /// @notice Margins and health after withdrawing `amount` of `token`.
    /// @param vaultId the vault
    /// @param token the collateral token
    /// @param amount token decimals, at most the balance
    /// @dev Reverts InsufficientCollateral, VaultNotFound.
    /// @return preview the vault after the withdrawal
    function previewWithdraw(uint256 vaultId, address token, uint256 amount)
        external
        view
        returns (Preview memory preview);

    /// @notice Margins and health after borrowing `amount` pUSD at the current block (normalized debt rounded up, as
    ///         the engine books it).
    /// @param vaultId the vault
    /// @param amount WAD pUSD
    /// @dev Reverts VaultNotFound, and DebtCeilingExceeded for an amount above MAX_DEBT_CEILING (no borrow that
    ///      large can be booked).
    /// @return preview the vault after the borrow
    function previewBorrow(uint256 vaultId, uint256 amount) external view returns (Preview memory preview);

    /// @notice Margins and health after repaying `amount` pUSD (anything at or above the debt repays it all).
    /// @param vaultId the vault
    /// @param amount WAD pUSD
    /// @dev Reverts VaultNotFound.
    /// @return preview the vault after the repay
    function previewRepay(uint256 vaultId, uint256 amount) external view returns (Preview memory preview);
}
