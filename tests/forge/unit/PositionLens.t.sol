// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {PositionLens} from "contracts/periphery/PositionLens.sol";
import {IPositionLens} from "@plimsoll/interfaces/IPositionLens.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {RawPriceOracle} from "../utils/RawPriceOracle.sol";

/// @notice PositionLens against the engine itself: a preview is the engine's valuation after the action, to the wei;
///         the liquidation price is the lowest safe price, to the wei; the position is the engine's numbers, and a
///         failing feed degrades it instead of reverting.
contract PositionLensTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);
    PositionLens internal positions;
    RawPriceOracle internal wethPrice;

    function setUp() public {
        _deployProtocol();
        _fund(ALICE);
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
        positions = new PositionLens(lens);
        // WETH priced at WAD precision, so that the liquidation price can be checked to the wei.
        wethPrice = new RawPriceOracle(2_000e18);
        engine.setOracle(address(weth), IPriceOracle(address(wethPrice)));
    }

    /// @dev A WETH + WBTC vault with a share of its borrowing power borrowed, then time passing.
    function _vault(uint256 wethAmount, uint256 btcAmount, uint256 share, uint256 elapsed, bool inPortfolio)
        internal
        returns (uint256 id)
    {
        id = _openVault(ALICE, address(weth), bound(wethAmount, 0.1e18, 1_000e18), 0);
        vm.startPrank(ALICE);
        engine.deposit(id, address(wbtc), bound(btcAmount, 1e6, 50e8));
        if (inPortfolio) engine.setPortfolioMargin(id, true);
        uint256 amount = lens.maxBorrow(id, block.timestamp) * bound(share, 0, 100) / 100;
        if (amount >= engine.dust()) engine.borrow(id, amount, ALICE);
        vm.stopPrank();
        vm.warp(block.timestamp + bound(elapsed, 1, 365 days));
        for (uint256 i; i < 3; ++i) {
            wbtcFeeds[i].updateAnswer(40_000e8);
        }
    }

    function _assertIsEngine(IPositionLens.Preview memory p, uint256 id) internal view {
        IVaultEngine.Valuation memory v = engine.valuation(id);
        assertEq(p.debt, v.debt, "debt");
        assertEq(p.borrowPower, v.borrowPower, "borrow power");
        assertEq(p.maintenance, v.maintenance, "maintenance");
        assertEq(p.healthFactor, engine.healthFactor(id), "health");
        assertEq(uint8(p.status), uint8(v.unpricedMask == 0 ? IPositionLens.Status.Ok : IPositionLens.Status.Unpriced));
    }

    /// @notice Each of the four previews, read in the block of the action, is the engine's valuation after it.
    function testFuzz_a_preview_is_the_engine_after_the_action(
        uint256 wethAmount,
        uint256 btcAmount,
        uint256 share,
        uint256 elapsed,
        bool inPortfolio,
        uint8 action,
        uint256 amount
    ) public {
        uint256 id = _vault(wethAmount, btcAmount, share, elapsed, inPortfolio);
        IPositionLens.Preview memory p;
        vm.startPrank(ALICE);
        action %= 4;
        if (action == 0) {
            amount = bound(amount, 1, 100e18);
            p = positions.previewDeposit(id, address(weth), amount);
            engine.deposit(id, address(weth), amount);
        } else if (action == 1) {
            uint256 balance = engine.collateralBalance(id, address(wbtc));
            amount = bound(amount, 1, balance); // beyond the balance the preview reverts, as the engine does
            p = positions.previewWithdraw(id, address(wbtc), amount);
            try engine.withdraw(id, address(wbtc), amount, ALICE) {} catch { return; } // beyond the margin
        } else if (action == 2) {
            amount = bound(amount, engine.dust(), lens.maxBorrow(id, block.timestamp) + engine.dust() + 1);
            p = positions.previewBorrow(id, amount);
            try engine.borrow(id, amount, ALICE) {} catch { return; }
        } else {
            if (engine.normalizedDebt(id) == 0) return;
            amount = bound(amount, 1, engine.debt(id) + 1e18);
            p = positions.previewRepay(id, amount);
            try engine.repay(id, amount) {} catch { return; } // would leave dust
        }
        vm.stopPrank();
        _assertIsEngine(p, id);
    }

    /// @notice A deposit of a collateral the vault does not hold yet is previewed with that collateral added.
    function test_preview_of_a_new_collateral_and_the_errors() public {
        uint256 id = _openVault(ALICE, address(weth), 10e18, 10_000e18);
        IPositionLens.Preview memory p = positions.previewDeposit(id, address(stable), 5_000e18);
        vm.prank(ALICE);
        engine.deposit(id, address(stable), 5_000e18);
        _assertIsEngine(p, id);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultNotFound.selector, 999));
        positions.previewBorrow(999, 1);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(1)));
        positions.previewDeposit(id, address(1), 1);
        vm.expectRevert(
            abi.encodeWithSelector(IVaultEngine.InsufficientCollateral.selector, id, address(weth), 10e18, 10e18 + 1)
        );
        positions.previewWithdraw(id, address(weth), 10e18 + 1);
        // Amounts no deposit or borrow could ever book are refused by name, not wrapped into a wrong preview.
        uint256 huge = 2 ** 255 + 1;
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.SupplyCapExceeded.selector, address(weth), 1e30, huge));
        positions.previewDeposit(id, address(weth), huge);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.DebtCeilingExceeded.selector, huge, engine.debtCeiling()));
        positions.previewBorrow(id, huge);
        assertEq(uint8(p.status), uint8(IPositionLens.Status.Ok));
    }

    /// @notice At the liquidation price the vault is safe; one wei of USD lower it is liquidatable. In standard and
    ///         portfolio margin, with WBTC beside the WETH at its price.
    function testFuzz_the_liquidation_price_is_the_lowest_safe_price(
        uint256 wethAmount,
        uint256 btcAmount,
        uint256 share,
        uint256 elapsed,
        bool inPortfolio
    ) public {
        uint256 id = _vault(wethAmount, btcAmount, share, elapsed, inPortfolio);
        IPositionLens.Position memory p = positions.position(id);
        assertEq(p.collateral[0].token, address(weth));
        uint256 price = p.collateral[0].liquidationPrice;
        if (price == 0) {
            wethPrice.set(1, RawPriceOracle.Mode.Price); // WETH nearly worthless, and still safe
            assertGe(engine.healthFactor(id), WAD);
            return;
        }
        wethPrice.set(price, RawPriceOracle.Mode.Price);
        assertGe(engine.healthFactor(id), WAD, "safe at the liquidation price");
        wethPrice.set(price - 1, RawPriceOracle.Mode.Price);
        assertLt(engine.healthFactor(id), WAD, "liquidatable one wei below");
    }

    /// @notice Regression (stop 23 review): in portfolio margin, a collateral whose price alone cannot save the vault
    ///         (max) must not leave its search's value behind for the next collateral's. Grid: S1 {WETH -100 %,
    ///         WBTC -10 %}, S2 {WETH -50 %, WBTC -80 %}; WETH worth 1,000, WBTC 500, debt about 1,000. WBTC's
    ///         liquidation price is then set by S2 (500 + 0.2 vB >= debt: about $200,000), not by S1 alone.
    function test_a_collateral_that_cannot_save_the_vault_leaves_the_next_ones_price_exact() public {
        int256[][] memory initial = new int256[][](2);
        int256[][] memory maintenance = new int256[][](2);
        initial[0] = _row(-1e18, -0.15e18, -0.30e18, -0.15e18);
        initial[1] = _row(-0.55e18, -0.85e18, -0.30e18, -0.15e18);
        maintenance[0] = _row(-1e18, -0.10e18, -0.22e18, -0.10e18);
        maintenance[1] = _row(-0.50e18, -0.80e18, -0.22e18, -0.10e18);
        portfolio.setScenarioGrids(initial, maintenance);
        RawPriceOracle btcPrice = new RawPriceOracle(200_000e18);
        engine.setOracle(address(wbtc), IPriceOracle(address(btcPrice)));
        wethPrice.set(10_000e18, RawPriceOracle.Mode.Price);
        uint256 id = _openVault(ALICE, address(weth), 1e18, 0);
        vm.startPrank(ALICE);
        engine.deposit(id, address(wbtc), 0.0125e8);
        engine.setPortfolioMargin(id, true);
        engine.borrow(id, 1_000e18, ALICE);
        vm.stopPrank();
        wethPrice.set(1_000e18, RawPriceOracle.Mode.Price);
        btcPrice.set(40_000e18, RawPriceOracle.Mode.Price);

        IPositionLens.Position memory p = positions.position(id);
        assertEq(p.collateral[0].liquidationPrice, type(uint256).max, "WETH alone cannot save it");
        uint256 price = p.collateral[1].liquidationPrice;
        assertGt(price, 199_000e18, "S2 binds, not S1 alone");
        btcPrice.set(price, RawPriceOracle.Mode.Price);
        assertGe(engine.healthFactor(id), WAD, "safe at the liquidation price");
        btcPrice.set(price - 1, RawPriceOracle.Mode.Price);
        assertLt(engine.healthFactor(id), WAD, "liquidatable one wei below");
    }

    /// @notice The position repeats the engine and the batch lens; a failing feed makes that collateral unpriced
    ///         (counted zero, as the engine counts it) instead of a revert; an unknown id is NoSuchVault.
    function test_the_position_is_the_engines_and_survives_a_failing_feed() public {
        uint256 id = _openVault(ALICE, address(weth), 10e18, 10_000e18);
        vm.prank(ALICE);
        engine.deposit(id, address(wbtc), 0.5e8);
        vm.warp(block.timestamp + 1 days);
        for (uint256 i; i < 3; ++i) {
            wbtcFeeds[i].updateAnswer(40_000e8);
        }
        IPositionLens.Position memory p = positions.positionAt(id, block.timestamp + 12);
        assertEq(uint8(p.status), uint8(IPositionLens.Status.Ok));
        assertEq(p.owner, ALICE);
        assertEq(p.debt, (engine.normalizedDebt(id) * lens.rateAt(block.timestamp + 12) + RAY - 1) / RAY); // up
        assertEq(p.maxBorrow, lens.maxBorrow(id, block.timestamp + 12));
        assertEq(p.collateral[1].maxWithdraw, lens.maxWithdraw(id, address(wbtc), block.timestamp + 12));
        assertEq(p.collateral[0].price, 2_000e18);
        assertEq(p.collateral[0].value, 20_000e18);
        assertEq(p.collateral[1].value, 20_000e18);
        assertEq(p.collateral[1].ltv, 0.75e18);
        assertEq(p.collateral[1].liquidationThreshold, 0.80e18);
        assertEq(p.collateral[1].liquidationBonus, 1.08e18);
        p = positions.position(id);
        assertEq(p.healthFactor, engine.healthFactor(id));
        assertEq(p.borrowPower, engine.valuation(id).borrowPower);

        wethPrice.set(0, RawPriceOracle.Mode.Revert);
        p = positions.position(id);
        assertEq(uint8(p.status), uint8(IPositionLens.Status.Unpriced));
        assertFalse(p.collateral[0].priced);
        assertEq(p.collateral[0].value, 0);
        assertEq(p.collateral[0].liquidationPrice, 0);
        assertTrue(p.collateral[1].priced);
        assertEq(p.maintenance, 16_000e18); // WBTC alone: 20,000 x 0.80
        assertEq(p.healthFactor, engine.healthFactor(id));
        // A preview says its margins are floors too.
        assertEq(uint8(positions.previewRepay(id, 1_000e18).status), uint8(IPositionLens.Status.Unpriced));
        assertEq(uint8(positions.previewDeposit(id, address(wbtc), 1).status), uint8(IPositionLens.Status.Unpriced));

        p = positions.position(999);
        assertEq(uint8(p.status), uint8(IPositionLens.Status.NoSuchVault));
        assertEq(p.owner, address(0));
        assertEq(p.collateral.length, 0);
    }

    /// @notice positionsOf lists an owner's vaults in the VaultNFT's order, each as `position` reports it, and
    ///         follows a transfer.
    function test_positions_of_an_owner_follow_the_vault_nft() public {
        uint256 a = _openVault(ALICE, address(weth), 10e18, 10_000e18);
        uint256 b = _openVault(ALICE, address(wbtc), 1e8, 0);
        assertEq(positions.positionsOf(address(0xB0B)).length, 0);
        IPositionLens.Position[] memory mine = positions.positionsOf(ALICE);
        assertEq(mine.length, 2);
        assertEq(mine[0].vaultId, a);
        assertEq(mine[1].vaultId, b);
        assertEq(keccak256(abi.encode(mine[0])), keccak256(abi.encode(positions.position(a))));
        vm.prank(ALICE);
        nft.transferFrom(ALICE, address(0xB0B), a);
        mine = positions.positionsOf(ALICE);
        assertEq(mine.length, 1);
        assertEq(mine[0].vaultId, b);
        assertEq(positions.positionsOf(address(0xB0B))[0].owner, address(0xB0B));

        // Pages: the owner's vaults by enumeration index, clipped at the end of the list.
        uint256 c = _openVault(ALICE, address(weth), 1e18, 0);
        IPositionLens.Position[] memory page = positions.positionsOfPage(ALICE, 1, 5);
        assertEq(page.length, 1); // the last page is the short one
        assertEq(page[0].vaultId, c);
        assertEq(positions.positionsOfPage(ALICE, 2, 5).length, 0);
        page = positions.positionsOfPage(ALICE, 0, 1);
        assertEq(page.length, 1);
        assertEq(page[0].vaultId, b);
    }
}
