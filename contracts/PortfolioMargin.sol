// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {FixedPoint} from "./libraries/FixedPoint.sol";

/// @title PortfolioMargin
/// @notice Holds the two scenario grids and computes a basket's portfolio margins (docs/portfolio-margin.md).
/// @dev Created by the VaultEngine's constructor, which stays the one role registry: RISK_ADMIN_ROLE there sets the
///      grids here. Shocks are stored per collateral type as 16 signed 16-bit basis-point values packed in one word
///      (scenario s in bits 16s..16s+15): one storage read per collateral per grid.
contract PortfolioMargin is IPortfolioMargin {
    using FixedPoint for uint256;

    uint256 internal constant WAD = FixedPoint.WAD;
    int256 internal constant BPS = 10_000;
    /// @notice Most scenarios in one grid.
    uint256 public constant MAX_SCENARIOS = 16;
    /// @notice Resolution of a shock, WAD (one basis point).
    int256 public constant SHOCK_UNIT = 1e14;

    /// @inheritdoc IPortfolioMargin
    address public immutable engine;

    /// @dev Packed shocks per collateral type, basis points.
    mapping(address token => uint256) internal _initialShocks;
    mapping(address token => uint256) internal _maintenanceShocks;
    /// @dev Scenarios in each grid (0: no grids yet).
    uint8 internal _initialScenarios;
    uint8 internal _maintenanceScenarios;

    /// @notice Deployed by the VaultEngine's constructor.
    constructor() {
        engine = msg.sender;
    }

    /// @inheritdoc IPortfolioMargin
    function setScenarioGrids(int256[][] calldata initial, int256[][] calldata maintenance) external {
        bytes32 role = IVaultEngine(engine).RISK_ADMIN_ROLE();
        if (!IAccessControl(engine).hasRole(role, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, role);
        }
        uint256 ni = initial.length;
        uint256 nm = maintenance.length;
        if (ni == 0 || nm == 0 || ni > MAX_SCENARIOS || nm > MAX_SCENARIOS) revert InvalidScenarioCount(ni, nm);
        address[] memory tokens = IVaultEngine(engine).collateralTokens();
        _requireWidth(initial, tokens.length);
        _requireWidth(maintenance, tokens.length);
        // Every maintenance scenario must be at least as mild as some initial scenario, asset by asset, so that a
        // vault borrowing to its initial margin is never already below its maintenance margin.
        for (uint256 t; t < nm; ++t) {
            bool covered = false;
            for (uint256 s; s < ni && !covered; ++s) {
                covered = _dominates(initial[s], maintenance[t]);
            }
            if (!covered) revert MaintenanceScenarioNotCovered(t);
        }
        for (uint256 j; j < tokens.length; ++j) {
            IVaultEngine.CollateralType memory c = IVaultEngine(engine).collateralType(tokens[j]);
            uint256 packedInitial = _packColumn(initial, j);
            uint256 packedMaintenance = _packColumn(maintenance, j);
            _requireNotLooser(tokens[j], packedInitial, ni, c.ltv);
            _requireNotLooser(tokens[j], packedMaintenance, nm, c.liquidationThreshold);
            _initialShocks[tokens[j]] = packedInitial;
            _maintenanceShocks[tokens[j]] = packedMaintenance;
        }
        _initialScenarios = uint8(ni);
        _maintenanceScenarios = uint8(nm);
        emit ScenarioGridsSet(initial, maintenance);
    }

    /// @inheritdoc IPortfolioMargin
    function addCollateral(address token, uint256 ltv, uint256 liquidationThreshold) external {
        if (msg.sender != engine) revert OnlyVaultEngine(msg.sender);
        if (_maintenanceScenarios == 0) return;
        _initialShocks[token] = _uniformShocks(_haircutBps(ltv), _initialScenarios);
        _maintenanceShocks[token] = _uniformShocks(_haircutBps(liquidationThreshold), _maintenanceScenarios);
    }

    /// @inheritdoc IPortfolioMargin
    function available() external view returns (bool) {
        return _maintenanceScenarios != 0;
    }

    /// @inheritdoc IPortfolioMargin
    function margins(address[] calldata tokens, uint256[] calldata values)
        external
        view
        returns (uint256 initialMargin, uint256 maintenanceMargin)
    {
        uint256[] memory initialScenarios = new uint256[](_initialScenarios);
        uint256[] memory maintenanceScenarios = new uint256[](_maintenanceScenarios);
        for (uint256 i; i < values.length; ++i) {
            if (values[i] == 0) continue;
            _addShocked(initialScenarios, values[i], _initialShocks[tokens[i]]);
            _addShocked(maintenanceScenarios, values[i], _maintenanceShocks[tokens[i]]);
        }
        return (_min(initialScenarios), _min(maintenanceScenarios));
    }

    /// @inheritdoc IPortfolioMargin
    function requiredValue(
        address[] calldata tokens,
        uint256[] calldata values,
        uint256 index,
        uint256 debt,
        bool maintenance
    ) external view returns (uint256 value) {
        mapping(address => uint256) storage shocks = maintenance ? _maintenanceShocks : _initialShocks;
        uint256[] memory others = new uint256[](maintenance ? _maintenanceScenarios : _initialScenarios);
        for (uint256 i; i < values.length; ++i) {
            if (i != index && values[i] != 0) _addShocked(others, values[i], shocks[tokens[i]]);
        }
        uint256 packed = shocks[tokens[index]];
        for (uint256 s; s < others.length; ++s) {
            if (others[s] >= debt) continue;
            // floor(v·m / 10^4) >= need  <=>  v >= need·10^4 / m: the least such v is the ceiling
            uint256 m = uint256(BPS + _shockBps(packed, s));
            if (m == 0) return type(uint256).max;
            uint256 least = (debt - others[s]).mulDivUp(uint256(BPS), m);
            if (least > value) value = least;
        }
    }

    /// @inheritdoc IPortfolioMargin
    function checkRiskParameters(address token, uint256 ltv, uint256 liquidationThreshold) external view {
        if (_maintenanceScenarios == 0) return;
        _requireNotLooser(token, _initialShocks[token], _initialScenarios, ltv);
        _requireNotLooser(token, _maintenanceShocks[token], _maintenanceScenarios, liquidationThreshold);
    }

    /// @inheritdoc IPortfolioMargin
    function scenarioGrids() external view returns (int256[][] memory initial, int256[][] memory maintenance) {
        address[] memory tokens = IVaultEngine(engine).collateralTokens();
        initial = _grid(_initialShocks, _initialScenarios, tokens);
        maintenance = _grid(_maintenanceShocks, _maintenanceScenarios, tokens);
    }

    // ================================================================== internals

    function _grid(mapping(address => uint256) storage shocks, uint256 scenarios, address[] memory tokens)
        internal
        view
        returns (int256[][] memory grid)
    {
        grid = new int256[][](scenarios);
        for (uint256 s; s < scenarios; ++s) {
            grid[s] = new int256[](tokens.length);
            for (uint256 j; j < tokens.length; ++j) {
                grid[s][j] = _shockBps(shocks[tokens[j]], s) * SHOCK_UNIT;
            }
        }
    }

    /// @dev scenarios[s] += floor(value·(10^4 + shock_s) / 10^4), shocks in basis points in [-10^4, 10^4].
    function _addShocked(uint256[] memory scenarios, uint256 value, uint256 packed) internal pure {
        for (uint256 s; s < scenarios.length; ++s) {
            scenarios[s] += value.mulDivDown(uint256(BPS + _shockBps(packed, s)), uint256(BPS));
        }
    }

    function _min(uint256[] memory xs) internal pure returns (uint256 m) {
        m = xs[0];
        for (uint256 s = 1; s < xs.length; ++s) {
            if (xs[s] < m) m = xs[s];
        }
    }

    /// @dev Scenario s's shock from a packed column, basis points.
    function _shockBps(uint256 packed, uint256 s) internal pure returns (int256) {
        return int256(int16(uint16(packed >> (16 * s))));
    }

    function _requireWidth(int256[][] calldata grid, uint256 width) internal pure {
        for (uint256 s; s < grid.length; ++s) {
            if (grid[s].length != width) revert ScenarioWidthMismatch(s, grid[s].length, width);
        }
    }

    /// @dev Column j of a grid (shocks WAD, rows = scenarios) packed as basis points.
    function _packColumn(int256[][] calldata grid, uint256 j) internal pure returns (uint256 packed) {
        for (uint256 s; s < grid.length; ++s) {
            int256 shock = grid[s][j];
            if (shock < -int256(WAD) || shock > int256(WAD) || shock % SHOCK_UNIT != 0) revert InvalidShock(s, j, shock);
            packed |= uint256(uint16(int16(shock / SHOCK_UNIT))) << (16 * s);
        }
    }

    /// @dev Every shock of `a` is at most the same asset's shock in `b` (a is at least as severe, asset by asset).
    function _dominates(int256[] calldata a, int256[] calldata b) internal pure returns (bool) {
        for (uint256 j; j < a.length; ++j) {
            if (a[j] > b[j]) return false;
        }
        return true;
    }

    /// @dev A vault holding only `token` must not get a looser requirement than standard margin: the grid's worst
    ///      shock for it must be at least as severe as its haircut, i.e. 1 + min_s shock_s <= margin (LTV or LT).
    function _requireNotLooser(address token, uint256 packed, uint256 scenarios, uint256 margin) internal pure {
        int256 worst = BPS;
        for (uint256 s; s < scenarios; ++s) {
            int256 shock = _shockBps(packed, s);
            if (shock < worst) worst = shock;
        }
        // 10^4 + worst <= margin·10^4/WAD, compared exactly in WAD.
        if ((BPS + worst) * SHOCK_UNIT > SafeCast.toInt256(margin)) {
            revert ScenarioGridLooserThanHaircut(token, worst * SHOCK_UNIT, SafeCast.toInt256(margin) - int256(WAD));
        }
    }

    /// @dev margin − 1 in basis points, rounded down (towards the more severe shock).
    function _haircutBps(uint256 margin) internal pure returns (int256) {
        return -((BPS * SHOCK_UNIT - SafeCast.toInt256(margin) + SHOCK_UNIT - 1) / SHOCK_UNIT);
    }

    function _uniformShocks(int256 bps, uint256 scenarios) internal pure returns (uint256 packed) {
        for (uint256 s; s < scenarios; ++s) {
            packed |= uint256(uint16(int16(bps))) << (16 * s);
        }
    }
}
