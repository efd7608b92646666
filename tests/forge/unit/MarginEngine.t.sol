// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {MockERC20} from "contracts/mocks/MockERC20.sol";
import {FixedPoint} from "contracts/libraries/FixedPoint.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice The margin engine: portfolio margin (scenario grids, mode switch, liquidation to target), the bonus that
///         grows with the shortfall, and the per-collateral liquidation volume cap. Exact values throughout.
/// @dev Grid columns follow the fixture's listing order: WETH, WBTC, ADV, STABLE.
contract MarginEngineTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);
    address internal constant KEEPER = address(0x11D);

    function setUp() public {
        _deployProtocol();
        _fund(ALICE);
        _fund(KEEPER);
        _openVault(KEEPER, address(stable), 1e7 * WAD, 5e6 * WAD);
    }

    /// @dev 10 WETH ($20,000) + 0.5 WBTC ($20,000), no debt yet.
    function _basketVault() internal returns (uint256 id) {
        vm.startPrank(ALICE);
        id = engine.open(address(weth), 10 * WAD);
        engine.deposit(id, address(wbtc), 0.5e8);
        vm.stopPrank();
    }

    /// @dev A batch of just `id` liquidates nothing, and does not revert.
    function _assertBatchSkips(uint256 id) internal {
        uint256[] memory ids = new uint256[](1);
        ids[0] = id;
        vm.prank(KEEPER);
        (uint256 liquidated,) = liquidation.liquidateBatch(ids);
        assertEq(liquidated, 0);
    }

    // ---------------------------------------------------------------- portfolio margin

    function test_portfolio_margin_lends_more_on_a_diversified_basket() public {
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        vm.expectEmit(address(portfolio));
        emit IPortfolioMargin.ScenarioGridsSet(initial, maintenance);
        portfolio.setScenarioGrids(initial, maintenance);
        uint256 id = _basketVault();
        // Standard: 20,000·0.80 + 20,000·0.75 = 31,000. Portfolio: min(16,000 + 17,000, 17,000 + 15,000) = 32,000.
        assertEq(engine.valuation(id).borrowPower, 31_000 * WAD);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InsufficientMargin.selector, id, 31_500 * WAD, 31_000 * WAD));
        engine.borrow(id, 31_500 * WAD, ALICE);

        vm.expectEmit(address(engine));
        emit IVaultEngine.MarginModeSet(id, ALICE, true);
        vm.prank(ALICE);
        engine.setPortfolioMargin(id, true);
        IVaultEngine.Valuation memory v = engine.valuation(id);
        assertEq(v.borrowPower, 32_000 * WAD);
        assertEq(v.maintenance, 34_000 * WAD); // min(17,000 + 18,000, 18,000 + 16,000)
        vm.prank(ALICE);
        engine.borrow(id, 31_500 * WAD, ALICE);
        assertTrue(engine.portfolioMargin(id));
        assertEq(engine.healthFactor(id), uint256(34_000 * WAD) * WAD / engine.debt(id));

        // Back to standard needs the standard initial margin.
        uint256 debt = engine.debt(id);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InsufficientMargin.selector, id, debt, 31_000 * WAD));
        engine.setPortfolioMargin(id, false);
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NotAuthorized.selector, id, address(0xBAD)));
        engine.setPortfolioMargin(id, false);
    }

    function test_single_collateral_vault_gets_exactly_standard_margin() public {
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
        address[4] memory tokens = [address(weth), address(wbtc), address(adv), address(stable)];
        uint256[4] memory amounts = [uint256(7 * WAD), 0.3e8, 9_000e6, 5_000 * WAD];
        for (uint256 i; i < 4; ++i) {
            vm.prank(ALICE);
            uint256 id = engine.open(tokens[i], amounts[i]);
            IVaultEngine.Valuation memory standard = engine.valuation(id);
            vm.prank(ALICE);
            engine.setPortfolioMargin(id, true);
            IVaultEngine.Valuation memory portfolio = engine.valuation(id);
            assertEq(portfolio.borrowPower, standard.borrowPower);
            assertEq(portfolio.maintenance, standard.maintenance);
        }
    }

    function test_grids_are_validated() public {
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        int256[][] memory none = new int256[][](0);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.InvalidScenarioCount.selector, 0, 2));
        portfolio.setScenarioGrids(none, maintenance);
        int256[][] memory seventeen = new int256[][](17);
        for (uint256 s; s < 17; ++s) {
            seventeen[s] = initial[0];
        }
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.InvalidScenarioCount.selector, 17, 2));
        portfolio.setScenarioGrids(seventeen, maintenance);

        int256[][] memory narrow = new int256[][](1);
        narrow[0] = new int256[](3);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.ScenarioWidthMismatch.selector, 0, 3, 4));
        portfolio.setScenarioGrids(initial, narrow);

        // A maintenance scenario harsher than every initial scenario on some asset.
        maintenance[1] = _row(-0.10e18, -0.20e18, -0.22e18, -0.16e18);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.MaintenanceScenarioNotCovered.selector, 1));
        portfolio.setScenarioGrids(initial, maintenance);
        (, maintenance) = _grids();

        initial[0][0] = -0.20e18 + 1; // not a whole basis point
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.InvalidShock.selector, 0, 0, -0.20e18 + 1));
        portfolio.setScenarioGrids(initial, maintenance);
        initial[0][0] = -1.0001e18;
        maintenance[0][0] = -1.0001e18;
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.InvalidShock.selector, 0, 0, -1.0001e18));
        portfolio.setScenarioGrids(initial, maintenance);
        (initial, maintenance) = _grids();

        // WETH alone would get a looser requirement than its LT 0.85 (worst shock −14 % > −15 %).
        maintenance[0][0] = -0.14e18;
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioMargin.ScenarioGridLooserThanHaircut.selector, address(weth), -0.14e18, -0.15e18)
        );
        portfolio.setScenarioGrids(initial, maintenance);
        (initial, maintenance) = _grids();

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        portfolio.setScenarioGrids(initial, maintenance);

        uint256 id = _basketVault();
        vm.prank(ALICE);
        vm.expectRevert(IVaultEngine.PortfolioMarginUnavailable.selector);
        engine.setPortfolioMargin(id, true);
    }

    function test_risk_parameters_and_new_types_keep_the_grid_no_looser() public {
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioMargin.ScenarioGridLooserThanHaircut.selector, address(weth), -0.15e18, -0.16e18)
        );
        engine.setRiskParameters(address(weth), 0.80e18, 0.84e18, 1.05e18);
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioMargin.ScenarioGridLooserThanHaircut.selector, address(weth), -0.20e18, -0.21e18)
        );
        engine.setRiskParameters(address(weth), 0.79e18, 0.85e18, 1.05e18);
        engine.setRiskParameters(address(weth), 0.82e18, 0.86e18, 1.05e18); // milder haircuts: the grid is stricter

        MockERC20 link = new MockERC20("Chainlink", "LINK", 18);
        engine.addCollateral(address(link), wethOracle, 0.6543e18, 0.70005e18, 1.05e18, 1e30);
        (int256[][] memory i2, int256[][] memory m2) = portfolio.scenarioGrids();
        for (uint256 s; s < 2; ++s) {
            assertEq(i2[s].length, 5);
            assertEq(i2[s][4], -0.3457e18); // its haircut, whole basis points
            assertEq(m2[s][4], -0.3000e18); // 0.70005 − 1 rounded to the more severe basis point
            assertEq(i2[s][0], initial[s][0]);
        }
    }

    function test_portfolio_vault_liquidation_restores_target_health() public {
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
        uint256 id = _basketVault();
        vm.startPrank(ALICE);
        engine.setPortfolioMargin(id, true);
        engine.borrow(id, 31_500 * WAD, ALICE);
        vm.stopPrank();
        _setWethPrice(1_600e8);
        // WETH 16,000 + WBTC 20,000: maintenance min(13,600 + 18,000, 14,400 + 16,000) = 30,400.
        IVaultEngine.Valuation memory v = engine.valuation(id);
        assertEq(v.maintenance, 30_400 * WAD);
        ILiquidationEngine.Plan memory p = liquidation.previewLiquidation(id);
        assertFalse(p.full);
        vm.prank(KEEPER);
        liquidation.liquidate(id);
        uint256 hf = engine.healthFactor(id);
        // Restored to the target 1.10, within the rounding of the per-scenario sums.
        assertGe(hf, 1.10e18 - 1e9);
        assertLe(hf, 1.10e18 + 1e12);
    }

    // ---------------------------------------------------------------- growing bonus

    function test_bonus_grows_with_the_shortfall() public {
        liquidation.setBonusCurve(1.01e18, 0.95e18);
        assertEq(liquidation.effectiveBonus(1.05e18, 0.99e18), 1.018e18); // 1.01 + 0.04·(0.01/0.05)
        assertEq(liquidation.effectiveBonus(1.05e18, 0.97e18), 1.034e18);
        assertEq(liquidation.effectiveBonus(1.05e18, 0.95e18), 1.05e18);
        assertEq(liquidation.effectiveBonus(1.05e18, 0.5e18), 1.05e18);
        assertEq(liquidation.effectiveBonus(1.05e18, 1e18), 1.01e18);
        assertEq(liquidation.effectiveBonus(1.005e18, 0.99e18), 1.005e18); // never above the type's own bonus

        uint256 id = _openVault(ALICE, address(weth), 10 * WAD, 15_000 * WAD);
        _setWethPrice(1_760e8); // HF 17,600·0.85/15,000 = 0.99733
        ILiquidationEngine.Plan memory p = liquidation.previewLiquidation(id);
        uint256 bonus = liquidation.effectiveBonus(1.05e18, p.healthFactor);
        assertEq(bonus, 1.01e18 + uint256(0.04e18) * (1e18 - p.healthFactor) / 0.05e18);
        uint256 value = 17_600 * WAD;
        assertEq(p.seizedValue, p.repay * (value * bonus / WAD) / value);
        vm.prank(KEEPER);
        liquidation.liquidate(id);
        assertGe(engine.healthFactor(id), 1.10e18);
    }

    function test_bonus_curve_is_bounded_and_owner_only() public {
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidBonusCurve.selector, 1.009e18, 0.9e18));
        liquidation.setBonusCurve(1.009e18, 0.9e18);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidBonusCurve.selector, 2e18 + 1, 0.9e18));
        liquidation.setBonusCurve(2e18 + 1, 0.9e18);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidBonusCurve.selector, 1.01e18, 1e18));
        liquidation.setBonusCurve(1.01e18, 1e18);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        liquidation.setBonusCurve(1.01e18, 0.9e18);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.BonusCurveSet(1.02e18, 0.9e18);
        liquidation.setBonusCurve(1.02e18, 0.9e18);
        assertEq(liquidation.bonusFloor(), 1.02e18);
        assertEq(liquidation.maxBonusHealth(), 0.9e18);
    }

    // ---------------------------------------------------------------- volume cap

    function test_volume_cap_scales_partial_liquidations_and_refills() public {
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.LiquidationCapSet(address(weth), 100_000 * WAD);
        liquidation.setLiquidationCap(address(weth), 100_000 * WAD);
        assertEq(liquidation.liquidationRoom(address(weth)), 100_000 * WAD);
        assertEq(liquidation.liquidationRoom(address(wbtc)), type(uint256).max);
        uint256 a = _openVault(ALICE, address(weth), 100 * WAD, 150_000 * WAD);
        uint256 b = _openVault(ALICE, address(weth), 100 * WAD, 150_000 * WAD);
        _setWethPrice(1_700e8); // HF 0.9633: r* ≈ 98,800 would seize ≈ 103,700 > 100,000

        ILiquidationEngine.Plan memory p = liquidation.previewLiquidation(a);
        assertFalse(p.full);
        assertLe(p.seizedValue, 100_000 * WAD);
        assertGe(p.seizedValue, 100_000 * WAD - 2e18);
        vm.prank(KEEPER);
        liquidation.liquidate(a);
        assertLe(liquidation.liquidationRoom(address(weth)), 2e18);

        // The room is gone: b waits (a named error alone, the batch skips it) ...
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.LiquidationCapReached.selector, address(weth)));
        liquidation.liquidate(b);
        _assertBatchSkips(b);

        // ... until the cap leaks back: half of it after half the window.
        vm.warp(block.timestamp + 30 minutes);
        _setWethPrice(1_700e8);
        uint256 room = liquidation.liquidationRoom(address(weth));
        assertGe(room, 50_000 * WAD);
        assertLe(room, 50_002 * WAD);
        vm.prank(KEEPER);
        p = liquidation.liquidate(b);
        assertLe(p.seizedValue, room);
        assertGe(p.seizedValue, room - 2e18);
    }

    function test_volume_cap_never_holds_back_a_full_liquidation() public {
        liquidation.setLiquidationCap(address(weth), 100_000 * WAD);
        uint256 a = _openVault(ALICE, address(weth), 100 * WAD, 150_000 * WAD);
        uint256 b = _openVault(ALICE, address(weth), 100 * WAD, 150_000 * WAD);
        _setWethPrice(1_700e8);
        vm.prank(KEEPER);
        liquidation.liquidate(a);
        _setWethPrice(1_600e8); // b: HF 0.9067 < fullLiquidationHealth 0.95
        vm.prank(KEEPER);
        ILiquidationEngine.Plan memory p = liquidation.liquidate(b);
        assertTrue(p.full);
        assertEq(engine.normalizedDebt(b), 0);
        assertEq(liquidation.liquidationRoom(address(weth)), 0);
    }

    function test_volume_cap_is_bounded_and_owner_only() public {
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidLiquidationCap.selector, address(weth), 99_999 * WAD));
        liquidation.setLiquidationCap(address(weth), 99_999 * WAD);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidLiquidationCap.selector, address(weth), 2 ** 96));
        liquidation.setLiquidationCap(address(weth), 2 ** 96);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidCapWindow.selector, 599));
        liquidation.setCapWindow(599);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.InvalidCapWindow.selector, 1 days + 1));
        liquidation.setCapWindow(1 days + 1);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        liquidation.setLiquidationCap(address(weth), 0);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        liquidation.setCapWindow(1 hours);
        vm.stopPrank();
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.CapWindowSet(2 hours);
        liquidation.setCapWindow(2 hours);
        liquidation.setLiquidationCap(address(weth), 100_000 * WAD);
        liquidation.setLiquidationCap(address(weth), 0);
        assertEq(liquidation.liquidationCap(address(weth)), 0);
        assertEq(liquidation.liquidationRoom(address(weth)), type(uint256).max);
    }

    // ---------------------------------------------------------------- margin calls

    uint256 internal constant PREMIUM = 1_000_000_003_170_979_198_376_458_650; // ≈ 10 % a year, per second

    /// @dev WETH offers calls: 1 h grace, hard floor 0.92, 10 %/yr premium. A 10 WETH / 15,000 pUSD vault at HF 0.963.
    function _calledVault() internal returns (uint256 id) {
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.92e18, PREMIUM);
        id = _openVault(ALICE, address(weth), 10 * WAD, 15_000 * WAD);
        _setWethPrice(1_700e8);
    }

    function test_margin_call_grace_window_then_liquidation() public {
        uint256 id = _calledVault();
        uint256 hf = engine.healthFactor(id);
        // Above the hard floor, a vault whose collateral offers calls is called before any liquidation.
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.MarginCallRequired.selector, id));
        liquidation.liquidate(id);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.MarginCall(id, block.timestamp + 1 hours, 0.92e18, PREMIUM, hf);
        vm.prank(KEEPER);
        uint256 deadline = liquidation.marginCall(id);
        assertTrue(engine.inMarginCall(id));
        ILiquidationEngine.MarginCallState memory call = liquidation.marginCallOf(id);
        assertEq(call.deadline, deadline);
        assertEq(call.hardFloor, 0.92e18);
        assertEq(call.premium, PREMIUM);

        // In the window: no liquidation, no second call; the owner may not borrow or withdraw, but may deposit.
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.MarginCallGracePeriod.selector, id, deadline));
        liquidation.liquidate(id);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.AlreadyInMarginCall.selector, id, deadline));
        liquidation.marginCall(id);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultInMarginCall.selector, id));
        engine.borrow(id, 1 * WAD, ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultInMarginCall.selector, id));
        engine.withdraw(id, address(weth), 1, ALICE);
        engine.deposit(id, address(weth), 0.1e18);
        vm.stopPrank();
        _assertBatchSkips(id);

        // The premium accrues on the debt while the call lasts.
        vm.warp(block.timestamp + 30 minutes);
        _setWethPrice(1_700e8);
        uint256 debtBefore = engine.debt(id);
        uint256 expected = debtBefore * (FixedPoint.rpowSaturating(PREMIUM, 30 minutes, FixedPoint.MAX_RATE) - RAY) / RAY + 1;
        assertApproxEqAbs(liquidation.pendingPremium(id), expected, 1);

        // After the deadline it is liquidated as usual, premium booked first, and the call ends.
        vm.warp(deadline);
        _setWethPrice(1_700e8);
        uint256 surplusBefore = engine.surplusRad();
        ILiquidationEngine.Plan memory preview = liquidation.previewLiquidation(id);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.MarginCallEnded(id);
        vm.prank(KEEPER);
        ILiquidationEngine.Plan memory done = liquidation.liquidate(id);
        assertApproxEqAbs(done.repay, preview.repay, 2);
        assertFalse(engine.inMarginCall(id));
        assertEq(liquidation.marginCallOf(id).deadline, 0);
        assertGt(engine.surplusRad(), surplusBefore);
    }

    function test_margin_call_cure_restores_the_vault() public {
        uint256 id = _calledVault();
        liquidation.marginCall(id);
        vm.expectRevert(); // still short of the initial margin
        liquidation.cure(id);
        vm.warp(block.timestamp + 10 minutes);
        _setWethPrice(1_700e8);
        vm.startPrank(ALICE);
        engine.repay(id, 4_000 * WAD); // 11,000+ of debt against borrow power 13,600
        uint256 premium = liquidation.pendingPremium(id);
        assertGt(premium, 0);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.MarginCallCured(id, premium);
        liquidation.cure(id);
        vm.stopPrank();
        assertFalse(engine.inMarginCall(id));
        vm.prank(ALICE);
        engine.borrow(id, 100 * WAD, ALICE); // unrestricted again
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.NotInMarginCall.selector, id));
        liquidation.cure(id);
    }

    function test_margin_call_hard_floor_and_eligibility() public {
        uint256 deep = _openVault(ALICE, address(weth), 10 * WAD, 13_000 * WAD);
        uint256 mixed = _openVault(ALICE, address(weth), 10 * WAD, 12_000 * WAD);
        vm.prank(ALICE);
        engine.deposit(mixed, address(wbtc), 1); // WBTC offers no margin calls
        uint256 healthy = _openVault(ALICE, address(weth), 10 * WAD, 1_000 * WAD);
        uint256 id = _calledVault();
        liquidation.marginCall(id);
        _setWethPrice(1_600e8); // HF 0.9067 < floor 0.92: liquidated at once, inside the window
        vm.prank(KEEPER);
        ILiquidationEngine.Plan memory p = liquidation.liquidate(id);
        assertTrue(p.full);

        _setWethPrice(1_380e8); // deep: HF 0.902; mixed: HF 0.9775
        uint256 hf = engine.healthFactor(deep);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.BelowHardFloor.selector, deep, hf, 0.92e18));
        liquidation.marginCall(deep);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.MarginCallNotOffered.selector, mixed));
        liquidation.marginCall(mixed);
        vm.expectRevert(
            abi.encodeWithSelector(ILiquidationEngine.NotLiquidatable.selector, healthy, engine.healthFactor(healthy))
        );
        liquidation.marginCall(healthy);
    }

    function test_margin_call_batch_calls_the_eligible_and_skips_the_rest() public {
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.92e18, PREMIUM);
        // 10 WETH each; at $1,500 HF = 12,750 / debt.
        uint256 callable = _openVault(ALICE, address(weth), 10 * WAD, 13_000 * WAD); // 0.981
        uint256 mixed = _openVault(ALICE, address(weth), 10 * WAD, 13_000 * WAD);
        vm.prank(ALICE);
        engine.deposit(mixed, address(wbtc), 1); // WBTC offers no margin calls
        uint256 healthy = _openVault(ALICE, address(weth), 10 * WAD, 1_000 * WAD); // 12.75
        uint256 deep = _openVault(ALICE, address(weth), 10 * WAD, 15_500 * WAD); // 0.823: below the floor
        uint256 called = _openVault(ALICE, address(weth), 10 * WAD, 13_500 * WAD); // 0.944, called before
        _setWethPrice(1_500e8);
        liquidation.marginCall(called);
        uint256 deadline = liquidation.marginCallOf(called).deadline;

        uint256 hf = engine.healthFactor(callable);
        uint256[] memory ids = new uint256[](6);
        (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]) = (healthy, callable, mixed, deep, called, callable);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.MarginCall(callable, block.timestamp + 1 hours, 0.92e18, PREMIUM, hf);
        vm.prank(KEEPER);
        assertEq(liquidation.marginCallBatch(ids), 1);
        assertTrue(engine.inMarginCall(callable));
        assertEq(liquidation.marginCallOf(callable).deadline, block.timestamp + 1 hours);
        assertEq(liquidation.marginCallOf(called).deadline, deadline); // its call and terms untouched
        assertFalse(engine.inMarginCall(healthy));
        assertFalse(engine.inMarginCall(mixed));
        assertFalse(engine.inMarginCall(deep));
        assertEq(liquidation.marginCallBatch(new uint256[](0)), 0);
    }

    function test_margin_call_terms_are_bounded_and_owner_only() public {
        vm.expectRevert(
            abi.encodeWithSelector(ILiquidationEngine.InvalidMarginCallTerms.selector, address(weth), 3 days + 1, 0.92e18, PREMIUM)
        );
        liquidation.setMarginCallTerms(address(weth), 3 days + 1, 0.92e18, PREMIUM);
        vm.expectRevert(
            abi.encodeWithSelector(ILiquidationEngine.InvalidMarginCallTerms.selector, address(weth), 1 hours, 0.89e18, PREMIUM)
        );
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.89e18, PREMIUM);
        vm.expectRevert(
            abi.encodeWithSelector(ILiquidationEngine.InvalidMarginCallTerms.selector, address(weth), 1 hours, 0.92e18, RAY - 1)
        );
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.92e18, RAY - 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.92e18, PREMIUM);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.MarginCallTermsSet(address(weth), 0, 0, 0);
        liquidation.setMarginCallTerms(address(weth), 0, 0, 0);
        vm.prank(address(0xBAD));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.OnlyLiquidationEngine.selector, address(0xBAD)));
        engine.setMarginCall(1, true);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.OnlyLiquidationEngine.selector, address(this)));
        engine.chargePremium(1, 1);
    }
}
