// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";
import {MockERC20} from "contracts/mocks/MockERC20.sol";
import {FixedPoint} from "contracts/libraries/FixedPoint.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {RawPriceOracle} from "../utils/RawPriceOracle.sol";

/// @notice FixedPoint's internal rpowSaturating, callable from a test.
contract FixedPointHarness {
    function rpowSaturating(uint256 x, uint256 n, uint256 cap) external pure returns (uint256) {
        return FixedPoint.rpowSaturating(x, n, cap);
    }
}

/// @notice VaultEngine unit tests: admin validation, every vault operation's named errors, views, heal, claim,
///         and how misbehaving oracles are contained. Exact values; state checked unchanged after each rejection.
contract VaultEngineTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);
    address internal constant BOB = address(0xB0B);
    uint256 internal vault;

    function setUp() public {
        _deployProtocol();
        _fund(ALICE);
        _fund(BOB);
        vault = _openVault(ALICE, address(weth), 10 * WAD, 10_000 * WAD);
    }

    // ---------------------------------------------------------------- listing and parameters

    function test_addCollateral_validates_every_argument() public {
        MockERC20 t = new MockERC20("T", "T", 18);
        IPriceOracle o = stableOracle;
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.addCollateral(address(0), o, 0.5e18, 0.6e18, 1.05e18, 1);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.addCollateral(address(t), IPriceOracle(address(0)), 0.5e18, 0.6e18, 1.05e18, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.CollateralAlreadyListed.selector, address(weth)));
        engine.addCollateral(address(weth), o, 0.5e18, 0.6e18, 1.05e18, 1);
        uint256[3][6] memory bad = [
            [uint256(0), 0.6e18, 1.05e18], // ltv 0
            [uint256(0.6e18), 0.6e18, 1.05e18], // ltv = lt
            [uint256(0.6e18), 1e18, 1.05e18], // lt = 1
            [uint256(0.5e18), 0.6e18, 1.005e18], // bonus below 1.01
            [uint256(0.5e18), 0.6e18, 2.01e18], // bonus above 2
            [uint256(0.5e18), 0.9e18, 1.12e18] // bonus x lt >= 1
        ];
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(IVaultEngine.InvalidRiskParameters.selector, bad[i][0], bad[i][1], bad[i][2])
            );
            engine.addCollateral(address(t), o, bad[i][0], bad[i][1], bad[i][2], 1);
        }
        // Pairwise: the new bonus against a listed threshold (STABLE's 0.90), and a listed bonus (ADV's 1.10)
        // against the new threshold.
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.RiskParametersConflict.selector, address(t), address(stable)));
        engine.addCollateral(address(t), o, 0.4e18, 0.5e18, 1.12e18, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.RiskParametersConflict.selector, address(t), address(adv)));
        engine.addCollateral(address(t), o, 0.85e18, 0.92e18, 1.02e18, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidSupplyCap.selector, 2 ** 128, 2 ** 128 - 1));
        engine.addCollateral(address(t), o, 0.5e18, 0.6e18, 1.05e18, 2 ** 128);
        MockERC20 wide = new MockERC20("W", "W", 37);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnsupportedDecimals.selector, address(wide), 37));
        engine.addCollateral(address(wide), o, 0.5e18, 0.6e18, 1.05e18, 1);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, bytes32(0)));
        engine.addCollateral(address(t), o, 0.5e18, 0.6e18, 1.05e18, 1);
        assertEq(engine.collateralTokens().length, 4);
    }

    function test_at_most_32_collateral_types() public {
        for (uint256 i = engine.collateralTokens().length; i < engine.MAX_COLLATERAL_TYPES(); ++i) {
            engine.addCollateral(address(new MockERC20("T", "T", 18)), stableOracle, 0.4e18, 0.5e18, 1.05e18, 1);
        }
        address extra = address(new MockERC20("X", "X", 18));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.TooManyCollateralTypes.selector, 32));
        engine.addCollateral(extra, stableOracle, 0.4e18, 0.5e18, 1.05e18, 1);
    }

    function test_setters_validate_and_emit() public {
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(1)));
        engine.setRiskParameters(address(1), 0.5e18, 0.6e18, 1.05e18);
        vm.expectEmit(address(engine));
        emit IVaultEngine.RiskParametersSet(address(weth), 0.7e18, 0.8e18, 1.1e18);
        engine.setRiskParameters(address(weth), 0.7e18, 0.8e18, 1.1e18);

        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(1)));
        engine.setSupplyCap(address(1), 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidSupplyCap.selector, 2 ** 128, 2 ** 128 - 1));
        engine.setSupplyCap(address(weth), 2 ** 128);
        vm.expectEmit(address(engine));
        emit IVaultEngine.SupplyCapSet(address(weth), 5 * WAD);
        engine.setSupplyCap(address(weth), 5 * WAD);
        assertEq(engine.collateralType(address(weth)).supplyCap, 5 * WAD);

        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.setOracle(address(weth), IPriceOracle(address(0)));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(1)));
        engine.setOracle(address(1), stableOracle);
        RawPriceOracle raw = new RawPriceOracle(0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.OracleNotPricing.selector, address(raw)));
        engine.setOracle(address(weth), IPriceOracle(address(raw)));
        raw.set(1_999e18, RawPriceOracle.Mode.Price);
        vm.expectEmit(address(engine));
        emit IVaultEngine.OracleSet(address(weth), address(raw));
        engine.setOracle(address(weth), IPriceOracle(address(raw)));

        uint256 cap = engine.MAX_DEBT_CEILING();
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidDebtCeiling.selector, cap + 1, cap));
        engine.setDebtCeiling(cap + 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidDust.selector, cap + 1, cap));
        engine.setDust(cap + 1);
        uint256 maxFee = engine.MAX_STABILITY_FEE();
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidStabilityFee.selector, RAY - 1));
        engine.setStabilityFee(RAY - 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidStabilityFee.selector, maxFee + 1));
        engine.setStabilityFee(maxFee + 1);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.setLiquidationEngine(address(0));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.LiquidationEngineAlreadySet.selector, address(liquidation)));
        engine.setLiquidationEngine(address(this));
    }

    // ---------------------------------------------------------------- vault operations: named errors

    function test_deposit_errors() public {
        vm.startPrank(ALICE);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.deposit(vault, address(weth), 0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultNotFound.selector, 99));
        engine.deposit(99, address(weth), 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(1)));
        engine.deposit(vault, address(1), 1);
        vm.stopPrank();
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NotAuthorized.selector, vault, BOB));
        engine.deposit(vault, address(weth), 1);
        engine.setSupplyCap(address(weth), 11 * WAD);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.SupplyCapExceeded.selector, address(weth), 11 * WAD, 12 * WAD));
        engine.deposit(vault, address(weth), 2 * WAD);
        // A token that keeps everything as its fee delivers nothing: refused, nothing booked.
        adv.setFeeBps(10_000);
        vm.prank(ALICE);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.deposit(vault, address(adv), 1e6);
        assertEq(engine.collateralBalance(vault, address(adv)), 0);
    }

    function test_at_most_five_collaterals_per_vault() public {
        address[4] memory more = [address(wbtc), address(adv), address(stable), address(0)];
        MockERC20 fifth = new MockERC20("F", "F", 18);
        engine.addCollateral(address(fifth), stableOracle, 0.4e18, 0.5e18, 1.05e18, 1e30);
        MockERC20 sixth = new MockERC20("S", "S", 18);
        engine.addCollateral(address(sixth), stableOracle, 0.4e18, 0.5e18, 1.05e18, 1e30);
        more[3] = address(fifth);
        vm.startPrank(ALICE);
        fifth.mint(ALICE, 1);
        sixth.mint(ALICE, 1);
        fifth.approve(address(engine), 1);
        sixth.approve(address(engine), 1);
        for (uint256 i; i < 4; ++i) {
            engine.deposit(vault, more[i], 1);
        }
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.TooManyCollaterals.selector, vault, 5));
        engine.deposit(vault, address(sixth), 1);
        vm.stopPrank();
        (address[] memory tokens, uint256[] memory amounts) = engine.vaultCollateral(vault);
        assertEq(tokens.length, 5);
        assertEq(amounts[0], 10 * WAD);
    }

    function test_withdraw_borrow_repay_errors() public {
        vm.startPrank(ALICE);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.withdraw(vault, address(weth), 0, ALICE);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.withdraw(vault, address(weth), 1, address(0));
        vm.expectRevert(
            abi.encodeWithSelector(IVaultEngine.InsufficientCollateral.selector, vault, address(weth), 10 * WAD, 11 * WAD)
        );
        engine.withdraw(vault, address(weth), 11 * WAD, ALICE);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.borrow(vault, 0, ALICE);
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.borrow(vault, 1, address(0));
        uint256 empty = engine.open(address(0), 0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.DebtBelowDust.selector, empty, 50 * WAD, 100 * WAD));
        engine.borrow(empty, 50 * WAD, ALICE);
        vm.expectRevert(IVaultEngine.ZeroAmount.selector);
        engine.repay(vault, 0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultNotFound.selector, 99));
        engine.repay(99, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NoDebt.selector, empty));
        engine.repay(empty, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.DebtBelowDust.selector, vault, 50 * WAD, 100 * WAD));
        engine.repay(vault, 9_950 * WAD);
        vm.stopPrank();
        engine.setDebtCeiling(10_500 * WAD);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.DebtCeilingExceeded.selector, 11_000 * WAD, 10_500 * WAD));
        engine.borrow(vault, 1_000 * WAD, ALICE);
        assertEq(engine.debt(vault), 10_000 * WAD);
    }

    function test_withdraw_all_of_a_middle_collateral_keeps_the_list_consistent() public {
        vm.startPrank(ALICE);
        engine.deposit(vault, address(wbtc), 1e8);
        engine.deposit(vault, address(stable), 1_000 * WAD);
        engine.withdraw(vault, address(wbtc), 1e8, ALICE);
        vm.stopPrank();
        (address[] memory tokens, uint256[] memory amounts) = engine.vaultCollateral(vault);
        assertEq(tokens.length, 2);
        assertEq(tokens[1], address(stable));
        assertEq(amounts[1], 1_000 * WAD);
        assertEq(engine.collateralType(address(wbtc)).totalDeposited, 0);
    }

    // ---------------------------------------------------------------- views, heal, seize guard, claim

    function test_views() public view {
        assertEq(engine.collateralTokens()[0], address(weth));
        assertEq(engine.totalDebtRad(), engine.totalNormalizedDebt() * engine.currentRate());
        assertEq(engine.lastDrip(), block.timestamp);
        assertFalse(nft.isAuthorized(99, ALICE));
        assertTrue(nft.isAuthorized(vault, ALICE));
        uint256 empty = 0;
        assertEq(engine.healthFactor(empty), type(uint256).max);
        // 10 WETH x 2,000 x 0.85 / 10,000
        assertEq(engine.healthFactor(vault), 1.7e18);
        assertEq(address(IPUSD(address(pusd)).engine()), address(engine));
    }

    function test_seize_is_for_the_liquidation_engine_only() public {
        IVaultEngine.Seizure[] memory seizures = new IVaultEngine.Seizure[](1);
        seizures[0] = IVaultEngine.Seizure(vault, 1, 0, WAD, 0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.OnlyLiquidationEngine.selector, address(this)));
        engine.seizeBatch(seizures, address(this), "");
        vm.startPrank(address(liquidation));
        // The liquidation engine seizes only vaults it valued with debt; a vault without any repays and takes nothing.
        uint256 supply = pusd.totalSupply();
        seizures[0].vaultId = 99;
        assertEq(engine.seizeBatch(seizures, address(this), ""), 0);
        assertEq(pusd.totalSupply(), supply);
        seizures[0] = IVaultEngine.Seizure(vault, 1, 0, WAD + 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InvalidSeizeFraction.selector, WAD + 1));
        engine.seizeBatch(seizures, address(this), "");
        vm.stopPrank();
    }

    function test_heal_cancels_bad_debt_against_the_surplus() public {
        engine.heal(); // nothing to heal: a no-op
        // An underwater vault: 10 WETH at $900 against 10,000 of debt; full write-off of the rest.
        _setWethPrice(1_100e8); // two rounds: a single −55 % round would trip the 50 % deviation breaker
        _setWethPrice(900e8);
        address keeper = address(0x11D);
        _fund(keeper);
        _openVault(keeper, address(stable), 1e6 * WAD, 5e5 * WAD);
        vm.prank(keeper);
        liquidation.liquidate(vault);
        uint256 bad = engine.badDebtRad();
        assertGt(bad, 0);
        // The surplus grows with fees; heal moves what it can.
        engine.setStabilityFee(engine.MAX_STABILITY_FEE());
        vm.warp(block.timestamp + 365 days);
        stableFeed.updateAnswer(1e8);
        engine.drip();
        uint256 surplus = engine.surplusRad();
        uint256 healed = surplus < bad ? surplus : bad;
        vm.expectEmit(address(engine));
        emit IVaultEngine.Heal(healed);
        engine.heal();
        assertEq(engine.badDebtRad(), bad - healed);
        assertEq(engine.surplusRad(), surplus - healed);
    }

    function test_claim() public {
        vm.expectRevert(IVaultEngine.ZeroAddress.selector);
        engine.claim(address(adv), address(0));
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NothingToClaim.selector, address(adv), address(this)));
        engine.claim(address(adv), address(this));
        // A liquidation while ADV is paused leaves ADV to claim.
        uint256 v = _openVault(BOB, address(adv), 20_000e6, 14_000 * WAD);
        advFeed.updateAnswer(0.85e8);
        adv.setPaused(true);
        address keeper = address(0x11D);
        _fund(keeper);
        _openVault(keeper, address(stable), 1e6 * WAD, 5e5 * WAD);
        vm.prank(keeper);
        liquidation.liquidate(v);
        uint256 kept = engine.claimable(address(adv), keeper);
        assertGt(kept, 0);
        vm.prank(keeper);
        vm.expectRevert(); // still paused: the claim stays
        engine.claim(address(adv), keeper);
        adv.setPaused(false);
        uint256 before = adv.balanceOf(keeper);
        vm.prank(keeper);
        assertEq(engine.claim(address(adv), keeper), kept);
        assertEq(adv.balanceOf(keeper) - before, kept);
        assertEq(engine.totalClaimable(address(adv)), 0);
    }

    // ---------------------------------------------------------------- misbehaving oracles

    function test_every_kind_of_oracle_failure_counts_as_unpriced() public {
        RawPriceOracle raw = new RawPriceOracle(2_000e18);
        engine.setOracle(address(weth), IPriceOracle(address(raw)));
        assertEq(engine.valuation(vault).unpricedMask, 0);
        RawPriceOracle.Mode[3] memory modes =
            [RawPriceOracle.Mode.Revert, RawPriceOracle.Mode.Short, RawPriceOracle.Mode.BurnGas];
        for (uint256 i; i < modes.length; ++i) {
            raw.set(2_000e18, modes[i]);
            IVaultEngine.Valuation memory v = engine.valuation(vault);
            assertEq(v.unpricedMask, 1);
            assertEq(v.collateralValue, 0);
        }
        uint256 maxPrice = engine.MAX_PRICE();
        raw.set(maxPrice + 1, RawPriceOracle.Mode.Price);
        assertEq(engine.valuation(vault).unpricedMask, 1);
        raw.set(maxPrice, RawPriceOracle.Mode.Price);
        assertEq(engine.valuation(vault).unpricedMask, 0);
        // Borrowing against an unpriced collateral surfaces the oracle's own revert reason.
        raw.set(2_000e18, RawPriceOracle.Mode.Revert);
        vm.prank(ALICE);
        vm.expectRevert(bytes("oracle down"));
        engine.borrow(vault, 1 * WAD, ALICE);
        // An oracle that answers zero does not revert when called again: InsufficientMargin.
        raw.set(0, RawPriceOracle.Mode.Price);
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InsufficientMargin.selector, vault, 10_001 * WAD, 0));
        engine.borrow(vault, 1 * WAD, ALICE);
    }

    function test_a_caller_cannot_starve_the_oracle_of_gas() public {
        (bool ok, bytes memory err) =
            address(engine).staticcall{gas: 150_000}(abi.encodeCall(engine.valuation, (vault)));
        assertFalse(ok);
        assertEq(bytes4(err), IVaultEngine.InsufficientGasForOracle.selector);
    }

    // ---------------------------------------------------------------- the rate accumulator

    function test_rate_saturates_and_drip_never_reverts() public {
        engine.setStabilityFee(engine.MAX_STABILITY_FEE());
        vm.warp(block.timestamp + 200 * 365 days);
        assertEq(engine.currentRate(), engine.MAX_RATE());
        engine.drip();
        assertEq(engine.rate(), engine.MAX_RATE());
        vm.warp(block.timestamp + 1);
        engine.drip(); // saturated: nothing more accrues
        assertEq(engine.rate(), engine.MAX_RATE());
        vm.prank(ALICE);
        engine.repay(vault, 1_000 * WAD);
    }

    function test_rpowSaturating_matches_dss_below_the_cap_and_saturates_above() public {
        FixedPointHarness h = new FixedPointHarness();
        uint256 cap = 1e36;
        assertEq(h.rpowSaturating(RAY, 12345, cap), RAY);
        assertEq(h.rpowSaturating(2 * RAY, 10, cap), 1024 * RAY);
        assertEq(h.rpowSaturating(2 * RAY, 29, cap), 2 ** 29 * RAY);
        assertEq(h.rpowSaturating(2 * RAY, 30, cap), cap); // 2^30 RAY > 1e36
        assertEq(h.rpowSaturating(2e36, 1, cap), cap); // the odd first factor alone is above the cap
        assertEq(h.rpowSaturating(3 * RAY, 2 ** 200, cap), cap); // no overflow whatever the exponent
        assertEq(h.rpowSaturating(1.5e27, 3, 3e27), 3e27); // the last multiplication crosses the cap
    }

    /// @notice The constant-gas walk equals dss's rpow with early saturation (below), and costs the same gas for
    ///         every exponent below 2^32 seconds, whatever the base: what keeps an unpadded gas estimate valid in a
    ///         later block (tests/test_gas_estimates.py).
    function testFuzz_rpowSaturating_is_dss_rpow_at_one_cost_for_every_exponent(uint256 x, uint256 n1, uint256 n2)
        public
    {
        FixedPointHarness h = new FixedPointHarness();
        uint256 cap = FixedPoint.MAX_RATE;
        x = bound(x, RAY, cap);
        n1 = bound(n1, 0, 2 ** 32 - 1);
        n2 = bound(n2, 0, 2 ** 32 - 1);
        assertEq(h.rpowSaturating(x, n1, cap), _dssRpowSaturating(x, n1, cap));
        assertEq(h.rpowSaturating(x, n2, cap), _dssRpowSaturating(x, n2, cap));
        _gasOf(h, x, n1, cap); // warm the account and the memory the measured calls use
        assertEq(_gasOf(h, x, n1, cap), _gasOf(h, x, n2, cap), "gas depends on the exponent");
    }

    /// @dev Gas of one rpowSaturating call, encoded at the same memory every time (a Solidity call would allocate
    ///      new memory, whose expansion would enter the measure).
    function _gasOf(FixedPointHarness h, uint256 x, uint256 n, uint256 cap) internal view returns (uint256 used) {
        bytes4 selector = FixedPointHarness.rpowSaturating.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            mstore(add(ptr, 4), x)
            mstore(add(ptr, 36), n)
            mstore(add(ptr, 68), cap)
            let before := gas()
            if iszero(staticcall(gas(), h, ptr, 100, ptr, 32)) { revert(0, 0) }
            used := sub(before, gas())
        }
    }

    /// @dev dss/jug.sol's rpow (binary exponentiation, products rounded half up), returning `cap` as soon as a
    ///      partial power passes it.
    function _dssRpowSaturating(uint256 x, uint256 n, uint256 cap) internal pure returns (uint256 z) {
        if (x > cap) return n == 0 ? RAY : cap;
        z = n % 2 != 0 ? x : RAY;
        for (n /= 2; n != 0; n /= 2) {
            x = (x * x + RAY / 2) / RAY;
            if (x > cap) return cap;
            if (n % 2 != 0) {
                z = (z * x + RAY / 2) / RAY;
                if (z > cap) return cap;
            }
        }
    }

    function test_repay_by_anyone_burns_from_the_payer() public {
        vm.prank(ALICE);
        pusd.transfer(BOB, 1_000 * WAD);
        vm.prank(BOB);
        assertEq(engine.repay(vault, 1_000 * WAD), 1_000 * WAD);
        vm.prank(BOB);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, BOB, 0, 1 * WAD));
        engine.repay(vault, 1 * WAD);
    }
}
