// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IPortfolioMargin
/// @notice The portfolio-margin scenario grids and the requirement they put on a basket (docs/portfolio-margin.md).
///         Created by the VaultEngine, which calls `margins` for every vault in portfolio margin.
/// @dev A grid is up to MAX_SCENARIOS scenarios, each one signed shock per listed collateral type (WAD, whole basis
///      points). For collateral values value_i (WAD USD), scenario s is worth V_s = Σ value_i·(1 + shock_s,i);
///      the initial margin is min_s V_s over the initial grid (borrowing, withdrawing), the maintenance margin
///      min_s V_s over the maintenance grid (health factor, liquidation). Two rules keep the grids sound:
///      for every listed type, its worst shock is at least as severe as its haircut (LTV − 1 initial, LT − 1
///      maintenance), so a single-collateral vault never gets a looser requirement than standard margin; and every
///      maintenance scenario is matched, asset by asset, by an initial scenario at least as severe.
interface IPortfolioMargin {
    // ------------------------------------------------------------------ errors
    /// @notice Each scenario grid needs 1 to MAX_SCENARIOS scenarios.
    error InvalidScenarioCount(uint256 initialScenarios, uint256 maintenanceScenarios);
    /// @notice A scenario row must have one shock per listed collateral type (VaultEngine.collateralTokens order).
    error ScenarioWidthMismatch(uint256 scenario, uint256 width, uint256 expected);
    /// @notice A shock must lie in [-1, 1] (WAD) and be a whole number of basis points (SHOCK_UNIT).
    error InvalidShock(uint256 scenario, uint256 column, int256 shock);
    /// @notice Maintenance scenario `scenario` is milder than no initial scenario: every maintenance scenario must be
    ///         matched, asset by asset, by an initial scenario at least as severe.
    error MaintenanceScenarioNotCovered(uint256 scenario);
    /// @notice For a vault holding only `token`, the grid would be looser than standard margin: its worst shock
    ///         (WAD) must be at most the haircut (LTV − 1 on the initial grid, LT − 1 on the maintenance grid).
    error ScenarioGridLooserThanHaircut(address token, int256 worstShock, int256 haircut);
    /// @notice Only the VaultEngine may call this.
    error OnlyVaultEngine(address caller);

    // ------------------------------------------------------------------ events
    /// @notice Both scenario grids were set (shocks WAD, rows = scenarios, columns in collateralTokens order).
    event ScenarioGridsSet(int256[][] initial, int256[][] maintenance);

    // ------------------------------------------------------------------ governance
    /// @notice Set both scenario grids. RISK_ADMIN_ROLE of the VaultEngine only.
    /// @param initial scenarios for borrowing and withdrawing: rows of one shock (WAD, in [-1, 1], whole basis
    ///        points) per listed collateral type, in VaultEngine.collateralTokens order; 1 to MAX_SCENARIOS rows
    /// @param maintenance scenarios for liquidation, same shape; each must be matched, asset by asset, by an initial
    ///        scenario at least as severe
    /// @dev A type listed later gets its haircut in every scenario; VaultEngine.setRiskParameters keeps the haircut
    ///      rule (checkRiskParameters). Reverts IAccessControl.AccessControlUnauthorizedAccount, InvalidScenarioCount,
    ///      ScenarioWidthMismatch, MaintenanceScenarioNotCovered, InvalidShock, ScenarioGridLooserThanHaircut.
    function setScenarioGrids(int256[][] calldata initial, int256[][] calldata maintenance) external;

    /// @notice A newly listed type gets its own haircut in every scenario: portfolio margin treats it exactly as
    ///         standard margin until governance sets new grids. VaultEngine only (addCollateral).
    /// @param token the new collateral type
    /// @param ltv its LTV, WAD
    /// @param liquidationThreshold its liquidation threshold, WAD
    /// @dev Reverts OnlyVaultEngine.
    function addCollateral(address token, uint256 ltv, uint256 liquidationThreshold) external;

    // ------------------------------------------------------------------ views
    /// @notice The VaultEngine that created this contract and whose roles govern it.
    function engine() external view returns (address);

    /// @notice Whether grids are set (portfolio margin is available).
    function available() external view returns (bool);

    /// @notice Portfolio margins of a basket: the worst scenario value on each grid.
    /// @param tokens collateral tokens (listed types; an unknown token gets no shock)
    /// @param values their values, WAD USD (0 for unpriced collateral)
    /// @return initialMargin min_s Σ floor(value_i·(10^4 + shock_s,i bp) / 10^4) over the initial grid, WAD USD
    /// @return maintenanceMargin the same over the maintenance grid, WAD USD
    /// @dev Rounds each term down (in the protocol's favour). Bounded: at most MAX_SCENARIOS × tokens.length terms.
    function margins(address[] calldata tokens, uint256[] calldata values)
        external
        view
        returns (uint256 initialMargin, uint256 maintenanceMargin);

    /// @notice The least value of the basket's collateral `index` at which one of its margins still covers `debt`,
    ///         the other values unchanged: on the initial grid, what a withdrawal of that collateral must leave
    ///         (VaultEngine.withdraw of the maximum, VaultLens.maxWithdraw); on the maintenance grid, where its
    ///         liquidation price lies (PositionLens).
    /// @param tokens collateral tokens (listed types)
    /// @param values their values, WAD USD (0 for unpriced collateral; values[index] is ignored)
    /// @param index the collateral to size
    /// @param debt the debt to cover, WAD pUSD
    /// @param maintenance false: the initial grid; true: the maintenance grid
    /// @return value WAD USD: max over the grid's scenarios s of ceil((debt − others_s)·10^4 / (10^4 +
    ///         shock_s,index bp)), where others_s is the other collaterals' term sum (0 where they cover the debt);
    ///         type(uint256).max when a scenario wipes the collateral out (shock −100 %) and the others fall short
    /// @dev Exact inverse of `margins`' rounding: at `value` that margin is >= debt, at `value` − 1 it is not (unless
    ///      `value` is 0). Bounded as `margins`.
    function requiredValue(
        address[] calldata tokens,
        uint256[] calldata values,
        uint256 index,
        uint256 debt,
        bool maintenance
    ) external view returns (uint256 value);

    /// @notice Revert if LTV `ltv` and liquidation threshold `liquidationThreshold` (WAD) for `token` would make the
    ///         grids looser than standard margin. Called by VaultEngine.setRiskParameters.
    /// @param token a listed collateral
    /// @param ltv proposed LTV, WAD
    /// @param liquidationThreshold proposed liquidation threshold, WAD
    /// @dev Reverts ScenarioGridLooserThanHaircut.
    function checkRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold) external view;

    /// @notice Both scenario grids: rows = scenarios, columns in VaultEngine.collateralTokens order, shocks WAD;
    ///         empty before setScenarioGrids.
    function scenarioGrids() external view returns (int256[][] memory initial, int256[][] memory maintenance);
}
