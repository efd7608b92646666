// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IRiskSteward} from "@plimsoll/interfaces/IRiskSteward.sol";
import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Enumerable.sol";
import {IERC721Metadata} from "@openzeppelin/contracts/token/ERC721/extensions/IERC721Metadata.sol";
import {IVaultRenderer} from "@plimsoll/interfaces/IVaultRenderer.sol";
import {VaultRenderer} from "contracts/periphery/VaultRenderer.sol";
import {LiquidationEngine} from "contracts/LiquidationEngine.sol";
import {RiskSteward} from "contracts/RiskSteward.sol";
import {VaultEngine} from "contracts/VaultEngine.sol";
import {Timelock} from "contracts/Timelock.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice Governance within bounds (docs/governance.md): the guardian's pause and what it can never stop, the
///         recapitalisation paths (burnBadDebt, withdrawSurplus above the buffer), the risk steward's step and
///         cooldown bounds, and the timelock as the only admin. Exact values; state checked after every rejection.
contract GovernanceTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    address internal constant GUARDIAN = address(0x6A4D);
    address internal constant STEWARD = address(0x57E3);
    bytes32 internal constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 internal constant STEWARD_ROLE = keccak256("STEWARD_ROLE");
    uint256 internal vault;

    function setUp() public {
        _deployProtocol();
        engine.grantRole(GUARDIAN_ROLE, GUARDIAN);
        _fund(ALICE);
        _fund(BOB);
        vault = _openVault(ALICE, address(weth), 10 * WAD, 10_000 * WAD);
    }

    function _identityHolds() internal view returns (bool) {
        return pusd.totalSupply() * RAY + engine.surplusRad()
            == engine.totalNormalizedDebt() * engine.currentRate() + engine.badDebtRad();
    }

    // ---------------------------------------------------------------- guardian

    function test_global_pause_stops_borrowing_and_withdrawing_against_debt_only() public {
        _openVault(BOB, address(stable), 1e6 * WAD, 5e5 * WAD); // the liquidator's pUSD, borrowed before the pause
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, GUARDIAN_ROLE));
        engine.setPaused(address(0), true);
        vm.expectEmit(address(engine));
        emit IVaultEngine.PauseSet(address(0), true);
        vm.prank(GUARDIAN);
        engine.setPaused(address(0), true);
        assertTrue(engine.paused());

        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(0)));
        engine.borrow(vault, 1 * WAD, ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(0)));
        engine.withdraw(vault, address(weth), 1, ALICE);
        // Never paused: deposit, repay, and withdrawing from a vault without debt.
        engine.deposit(vault, address(weth), 1 * WAD);
        engine.repay(vault, 1_000 * WAD);
        uint256 free = engine.open(address(wbtc), 1e8);
        engine.withdraw(free, address(wbtc), 1e8, ALICE);
        vm.stopPrank();
        assertEq(engine.collateralBalance(vault, address(weth)), 11 * WAD);
        assertEq(engine.debt(vault), 9_000 * WAD);

        // Nor liquidation: WETH falls in three rounds, and a keeper liquidates the paused vault.
        _setWethPrice(1_500e8);
        _setWethPrice(1_000e8);
        _setWethPrice(950e8); // HF 11·950·0.85 / 9,000 = 0.987
        vm.prank(BOB);
        ILiquidationEngine.Plan memory plan = liquidation.liquidate(vault);
        assertGt(plan.repay, 0);

        vm.prank(GUARDIAN);
        engine.setPaused(address(0), false);
        assertFalse(engine.paused());
        assertTrue(_identityHolds());
    }

    function test_collateral_pause_stops_only_vaults_that_hold_the_type() public {
        uint256 btcVault = _openVault(BOB, address(wbtc), 1e8, 10_000 * WAD);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(0xdead)));
        vm.prank(GUARDIAN);
        engine.setPaused(address(0xdead), true);
        vm.prank(GUARDIAN);
        engine.setPaused(address(weth), true);
        assertTrue(engine.collateralType(address(weth)).paused);

        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(weth)));
        engine.borrow(vault, 1 * WAD, ALICE);
        vm.startPrank(BOB);
        engine.borrow(btcVault, 1 * WAD, BOB); // WBTC is not paused
        engine.deposit(btcVault, address(weth), 1 * WAD); // now it holds WETH
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(weth)));
        engine.borrow(btcVault, 1 * WAD, BOB);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(weth)));
        engine.withdraw(btcVault, address(wbtc), 1, BOB);
        // Taking the paused type out entirely leaves a vault whose margin no longer depends on it.
        engine.withdraw(btcVault, address(weth), 1 * WAD, BOB);
        engine.borrow(btcVault, 1 * WAD, BOB);
        vm.stopPrank();
        assertEq(engine.debt(btcVault), 10_002 * WAD);
    }

    function test_a_paused_vault_in_a_margin_call_still_repays_and_cures() public {
        liquidation.setMarginCallTerms(address(weth), 1 hours, 0.92e18, RAY);
        _setWethPrice(1_150e8); // HF 10·1,150·0.85 / 10,000 = 0.9775: callable
        vm.prank(BOB);
        liquidation.marginCall(vault);
        vm.prank(GUARDIAN);
        engine.setPaused(address(weth), true);
        vm.startPrank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultInMarginCall.selector, vault));
        engine.borrow(vault, 1 * WAD, ALICE);
        engine.repay(vault, 1_000 * WAD); // debt 9,000 <= borrow power 10·1,150·0.80 = 9,200
        liquidation.cure(vault);
        vm.stopPrank();
        assertFalse(engine.inMarginCall(vault));
        // Cured, but WETH is still paused: no new borrowing against it.
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.Paused.selector, address(weth)));
        engine.borrow(vault, 1 * WAD, ALICE);
    }

    // ---------------------------------------------------------------- recapitalisation

    function _makeBadDebt() internal returns (uint256 bad) {
        _setWethPrice(1_100e8);
        _setWethPrice(900e8); // 10 WETH at $900 against 10,000 of debt
        _openVault(BOB, address(stable), 1e6 * WAD, 5e5 * WAD);
        vm.prank(BOB);
        liquidation.liquidate(vault);
        bad = engine.badDebtRad();
    }

    function test_anyone_burns_pusd_against_bad_debt() public {
        vm.expectRevert(IVaultEngine.NoBadDebt.selector);
        engine.burnBadDebt(1);
        uint256 bad = _makeBadDebt();
        assertGt(bad, 0);
        vm.prank(BOB);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.burnBadDebt(0);

        uint256 supply = pusd.totalSupply();
        uint256 surplus = engine.surplusRad();
        vm.expectEmit(address(engine));
        emit IVaultEngine.BadDebtBurned(BOB, 100 * WAD, 100 * WAD * RAY);
        vm.prank(BOB);
        assertEq(engine.burnBadDebt(100 * WAD), 100 * WAD);
        assertEq(engine.badDebtRad(), bad - 100 * WAD * RAY);
        assertEq(pusd.totalSupply(), supply - 100 * WAD);
        assertTrue(_identityHolds());

        // Asking for more burns only the rest, rounded up to whole units; the excess fraction goes to the surplus.
        uint256 rest = (bad - 100 * WAD * RAY + RAY - 1) / RAY;
        vm.prank(BOB);
        assertEq(engine.burnBadDebt(type(uint256).max), rest);
        assertEq(engine.badDebtRad(), 0);
        assertEq(engine.surplusRad(), surplus + rest * RAY - (bad - 100 * WAD * RAY));
        assertTrue(_identityHolds());
    }

    function test_surplus_withdrawal_only_above_the_buffer() public {
        engine.setStabilityFee(engine.MAX_STABILITY_FEE());
        vm.warp(block.timestamp + 365 days); // 10,000 of debt doubles: ~10,000 of surplus
        wethFeeds[0].updateAnswer(2_000e8);
        wethFeeds[1].updateAnswer(2_000e8);
        engine.drip();
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidSurplusBuffer.selector, 1e30 + 1, 1e30));
        engine.setSurplusBuffer(1e30 + 1);
        vm.expectEmit(address(engine));
        emit IVaultEngine.SurplusBufferSet(4_000 * WAD);
        engine.setSurplusBuffer(4_000 * WAD);
        uint256 available = engine.surplusRad() / RAY - 4_000 * WAD;
        assertEq(engine.withdrawableSurplus(), available);

        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, bytes32(0))
        );
        engine.withdrawSurplus(ALICE, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.SurplusBelowBuffer.selector, available, available + 1));
        engine.withdrawSurplus(BOB, available + 1);
        vm.expectEmit(address(engine));
        emit IVaultEngine.SurplusWithdrawn(BOB, available);
        engine.withdrawSurplus(BOB, available);
        assertEq(pusd.balanceOf(BOB), available);
        assertEq(engine.withdrawableSurplus(), 0);
        assertGe(engine.surplusRad(), 4_000 * WAD * RAY);
        assertTrue(_identityHolds());
    }

    function test_surplus_withdrawal_leaves_recorded_bad_debt_covered() public {
        uint256 bad = _makeBadDebt();
        assertGt(bad, 0);
        assertEq(engine.withdrawableSurplus(), 0); // the write-off took the surplus first
        engine.setStabilityFee(engine.MAX_STABILITY_FEE());
        vm.warp(block.timestamp + 365 days); // BOB's 500,000 of debt doubles
        stableFeed.updateAnswer(1e8);
        engine.drip();
        uint256 available = (engine.surplusRad() - bad) / RAY; // buffer 0: all that exceeds the bad debt
        assertEq(engine.withdrawableSurplus(), available);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.SurplusBelowBuffer.selector, available, available + 1));
        engine.withdrawSurplus(ALICE, available + 1);
        engine.withdrawSurplus(ALICE, available);
        assertGe(engine.surplusRad(), engine.badDebtRad()); // heal can still cancel all of it
        engine.heal();
        assertEq(engine.badDebtRad(), 0);
        assertTrue(_identityHolds());
    }

    // ---------------------------------------------------------------- risk steward

    function _steward() internal returns (RiskSteward s) {
        s = new RiskSteward(
            engine, liquidation, address(this), STEWARD, IRiskSteward.Bounds(0.02e18, 0.25e18, 317_097_919e9, 1 days)
        );
        engine.grantRole(RISK_ADMIN, address(s));
    }

    function test_steward_moves_risk_parameters_within_bounds_and_cooldown() public {
        RiskSteward s = _steward();
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, STEWARD_ROLE)
        );
        s.setRiskParameters(address(weth), 0.79e18, 0.84e18, 1.05e18);

        vm.startPrank(STEWARD);
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.StepTooLarge.selector, bytes32("ltv"), 0.80e18, 0.77e18, 0.02e18));
        s.setRiskParameters(address(weth), 0.77e18, 0.84e18, 1.05e18);
        vm.expectEmit(address(s));
        emit IRiskSteward.StewardUpdate("ltv", address(weth), 0.80e18, 0.78e18);
        s.setRiskParameters(address(weth), 0.78e18, 0.83e18, 1.05e18);
        assertEq(engine.collateralType(address(weth)).ltv, 0.78e18);
        assertEq(engine.collateralType(address(weth)).liquidationThreshold, 0.83e18);
        assertEq(s.lastUpdate("riskParameters", address(weth)), block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.CooldownActive.selector, bytes32("riskParameters"), address(weth), block.timestamp + 1 days)
        );
        s.setRiskParameters(address(weth), 0.77e18, 0.82e18, 1.05e18);
        // Another type has its own cooldown.
        s.setRiskParameters(address(wbtc), 0.74e18, 0.79e18, 1.08e18);
        vm.warp(block.timestamp + 1 days);
        s.setRiskParameters(address(weth), 0.77e18, 0.82e18, 1.05e18);
        vm.stopPrank();
        assertEq(engine.collateralType(address(weth)).ltv, 0.77e18);
    }

    function test_steward_shifts_one_collaterals_shocks_so_that_it_can_tighten_a_haircut_under_grids() public {
        RiskSteward s = _steward();
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
        vm.startPrank(STEWARD);
        // WETH's worst initial shock is -20 %: LTV 0.78 would make its portfolio requirement looser than its haircut.
        vm.expectRevert(
            abi.encodeWithSelector(IPortfolioMargin.ScenarioGridLooserThanHaircut.selector, address(weth), -0.20e18, -0.22e18)
        );
        s.setRiskParameters(address(weth), 0.78e18, 0.83e18, 1.05e18);
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.ShockShiftTooLarge.selector, address(weth), -0.03e18, 0.02e18));
        s.shiftScenarioShocks(address(weth), -0.03e18);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, ALICE));
        s.shiftScenarioShocks(ALICE, -0.02e18);
        vm.expectEmit(address(s));
        emit IRiskSteward.ScenarioShocksShifted(address(weth), -0.02e18);
        s.shiftScenarioShocks(address(weth), -0.02e18);
        (int256[][] memory i2, int256[][] memory m2) = portfolio.scenarioGrids();
        for (uint256 k; k < 2; ++k) {
            assertEq(i2[k][0], initial[k][0] - 0.02e18);
            assertEq(m2[k][0], maintenance[k][0] - 0.02e18);
            for (uint256 j = 1; j < 4; ++j) {
                assertEq(i2[k][j], initial[k][j]);
                assertEq(m2[k][j], maintenance[k][j]);
            }
        }
        s.setRiskParameters(address(weth), 0.78e18, 0.83e18, 1.05e18); // its own cooldown group
        assertEq(engine.collateralType(address(weth)).ltv, 0.78e18);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.CooldownActive.selector, bytes32("scenarioShocks"), address(weth), block.timestamp + 1 days)
        );
        s.shiftScenarioShocks(address(weth), 0.01e18);
        vm.stopPrank();
        vm.prank(ALICE);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, STEWARD_ROLE)
        );
        s.shiftScenarioShocks(address(wbtc), -0.01e18);
    }

    function test_steward_cannot_shift_shocks_without_grids() public {
        RiskSteward s = _steward();
        vm.prank(STEWARD);
        vm.expectRevert(IRiskSteward.NoScenarioGrids.selector);
        s.shiftScenarioShocks(address(weth), -0.01e18);
    }

    function test_steward_moves_caps_fees_and_dust_by_bounded_relative_steps() public {
        RiskSteward s = _steward();
        uint256 ceiling = engine.debtCeiling();
        vm.startPrank(STEWARD);
        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.StepTooLarge.selector, bytes32("debtCeiling"), ceiling, ceiling / 2, ceiling / 4)
        );
        s.setDebtCeiling(ceiling / 2);
        s.setDebtCeiling(ceiling - ceiling / 4);
        assertEq(engine.debtCeiling(), ceiling - ceiling / 4);

        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.StepTooLarge.selector, bytes32("dust"), 100 * WAD, 126 * WAD, 25 * WAD)
        );
        s.setDust(126 * WAD);
        s.setDust(125 * WAD);
        assertEq(engine.dust(), 125 * WAD);
        // An uncapped liquidation volume (cap 0) moves only through the timelock, and no cap can be lifted to 0.
        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.StepTooLarge.selector, bytes32("liquidationCap"), 0, 1e6 * WAD, 0)
        );
        s.setLiquidationCap(address(weth), 1e6 * WAD);
        vm.stopPrank();
        liquidation.setLiquidationCap(address(weth), 1e6 * WAD); // the timelock's path (here: the admin)
        vm.startPrank(STEWARD);
        s.setLiquidationCap(address(weth), 1.25e6 * WAD);
        assertEq(liquidation.liquidationCap(address(weth)), 1.25e6 * WAD);
        vm.warp(block.timestamp + 1 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IRiskSteward.StepTooLarge.selector, bytes32("liquidationCap"), 1.25e6 * WAD, 0, 0.3125e6 * WAD
            )
        );
        s.setLiquidationCap(address(weth), 0); // never back to uncapped
        assertEq(liquidation.liquidationCap(address(weth)), 1.25e6 * WAD);

        uint256 fee = engine.stabilityFee();
        vm.expectRevert(
            abi.encodeWithSelector(IRiskSteward.StepTooLarge.selector, bytes32("stabilityFee"), fee, fee + 317_097_920e9, 317_097_919e9)
        );
        s.setStabilityFee(fee + 317_097_920e9);
        s.setStabilityFee(fee + 317_097_919e9);
        assertEq(engine.stabilityFee(), fee + 317_097_919e9);

        uint256 cap = engine.collateralType(address(weth)).supplyCap;
        s.setSupplyCap(address(weth), cap - cap / 4);
        assertEq(engine.collateralType(address(weth)).supplyCap, cap - cap / 4);
        vm.stopPrank();
    }

    function test_steward_bounds_are_set_by_the_admin_within_limits() public {
        RiskSteward s = _steward();
        vm.prank(STEWARD);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, STEWARD, bytes32(0))
        );
        s.setBounds(IRiskSteward.Bounds(0.1e18, 0.5e18, 0, 1 hours));
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.InvalidBounds.selector, 0.1e18 + 1, 0.5e18, 0, 1 hours));
        s.setBounds(IRiskSteward.Bounds(0.1e18 + 1, 0.5e18, 0, 1 hours));
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.InvalidBounds.selector, 0.1e18, 0.5e18, 0, 1 hours - 1));
        s.setBounds(IRiskSteward.Bounds(0.1e18, 0.5e18, 0, 1 hours - 1));
        vm.expectEmit(address(s));
        emit IRiskSteward.BoundsSet(0.1e18, 0.5e18, 0, 1 hours);
        s.setBounds(IRiskSteward.Bounds(0.1e18, 0.5e18, 0, 1 hours));
        assertEq(s.bounds().riskStep, 0.1e18);
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.InvalidBounds.selector, 0, 0.5e18 + 1, 0, 1 hours));
        s.setBounds(IRiskSteward.Bounds(0, 0.5e18 + 1, 0, 1 hours));
        uint256 maxFee = s.MAX_FEE_STEP();
        vm.expectRevert(abi.encodeWithSelector(IRiskSteward.InvalidBounds.selector, 0, 0, maxFee + 1, 1 hours));
        s.setBounds(IRiskSteward.Bounds(0, 0, maxFee + 1, 1 hours));
        assertEq(s.bounds().relativeStep, 0.5e18);
    }

    function test_the_drip_slot_holds_every_rate_the_bounds_allow() public view {
        // The packed rate accumulator (uint120) and fee excess (uint72) hold MAX_RATE and MAX_STABILITY_FEE − RAY.
        assertLe(engine.MAX_RATE(), type(uint120).max);
        assertLe(engine.MAX_STABILITY_FEE() - RAY, type(uint72).max);
        assertLe(engine.MAX_DEBT_CEILING(), type(uint128).max);
    }

    function test_constructors_and_governance_calls_refuse_zero_addresses_and_strangers() public {
        VaultRenderer renderer = new VaultRenderer();
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        new VaultEngine(address(0), renderer);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        new VaultEngine(address(this), IVaultRenderer(address(0)));
        ILiquidationEngine.InitialParameters memory p =
            ILiquidationEngine.InitialParameters(1.10e18, 0.95e18, 0.10e18, 2e18, 0, 1 hours);
        vm.expectRevert(ILiquidationEngine.ZeroAddress.selector);
        new LiquidationEngine(IVaultEngine(address(0)), p);
        IRiskSteward.Bounds memory b = IRiskSteward.Bounds(0.02e18, 0.25e18, 0, 1 days);
        vm.expectRevert(IRiskSteward.ZeroAddress.selector);
        new RiskSteward(engine, liquidation, address(0), STEWARD, b);
        vm.expectRevert(abi.encodeWithSelector(IPortfolioMargin.OnlyVaultEngine.selector, address(this)));
        portfolio.addCollateral(address(weth), 0.5e18, 0.6e18);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.withdrawSurplus(ALICE, 0);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.withdrawSurplus(address(0), 1);
        // The standards each contract implements are advertised (ERC-165): roles on the engine, the vault tokens on
        // its VaultNFT.
        assertTrue(engine.supportsInterface(type(IAccessControl).interfaceId));
        assertFalse(engine.supportsInterface(type(IERC721).interfaceId));
        assertFalse(engine.supportsInterface(0xffffffff));
        assertTrue(nft.supportsInterface(type(IERC721).interfaceId));
        assertTrue(nft.supportsInterface(type(IERC721Enumerable).interfaceId));
        assertTrue(nft.supportsInterface(type(IERC721Metadata).interfaceId));
        assertFalse(nft.supportsInterface(type(IAccessControl).interfaceId));
        // The LiquidationEngine's parameter getters read what the constructor stored.
        assertEq(liquidation.targetHealth(), 1.10e18);
        assertEq(liquidation.capWindow(), 1 hours);
        assertEq(liquidation.marginCallTerms(address(weth)).gracePeriod, 0);
    }

    // ---------------------------------------------------------------- timelock

    function test_timelock_is_the_only_admin_after_hand_over() public {
        address[] memory proposers = new address[](1);
        proposers[0] = ALICE;
        address[] memory executors = new address[](1);
        executors[0] = address(0); // anyone executes a ready operation
        Timelock timelock = new Timelock(2 days, proposers, executors, address(0));
        engine.grantRole(bytes32(0), address(timelock));
        engine.grantRole(RISK_ADMIN, address(timelock));
        engine.renounceRole(RISK_ADMIN, address(this));
        engine.renounceRole(bytes32(0), address(this));

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), RISK_ADMIN)
        );
        engine.setDebtCeiling(1);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), RISK_ADMIN)
        );
        liquidation.setCapWindow(2 hours);

        bytes memory call = abi.encodeCall(IVaultEngine.setDebtCeiling, (1e24));
        vm.prank(ALICE);
        timelock.schedule(address(engine), 0, call, bytes32(0), bytes32(0), 2 days);
        bytes32 id = timelock.hashOperation(address(engine), 0, call, bytes32(0), bytes32(0));
        vm.warp(block.timestamp + 2 days - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                TimelockController.TimelockUnexpectedOperationState.selector, id, bytes32(1 << uint8(TimelockController.OperationState.Ready))
            )
        );
        timelock.execute(address(engine), 0, call, bytes32(0), bytes32(0));
        vm.warp(block.timestamp + 1);
        vm.prank(BOB);
        timelock.execute(address(engine), 0, call, bytes32(0), bytes32(0));
        assertEq(engine.debtCeiling(), 1e24);
    }
}
