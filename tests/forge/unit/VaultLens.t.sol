// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {VaultLens} from "contracts/periphery/VaultLens.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice VaultLens's exact maxima, fuzzed: whatever the balances, the debt and the time since the last drip, the
///         engine accepts the amount the lens names for the current block and refuses one wei more.
contract VaultLensTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);

    function setUp() public {
        _deployProtocol();
        _fund(ALICE);
        (int256[][] memory initial, int256[][] memory maintenance) = _grids();
        portfolio.setScenarioGrids(initial, maintenance);
    }

    /// @notice A WETH + WBTC vault, in standard or portfolio margin, with a fuzzed share of its borrowing power
    ///         borrowed, then fuzzed time (the rate moves off its last drip): maxWithdraw of each collateral, then
    ///         maxBorrow, are exact.
    function testFuzz_max_withdraw_and_max_borrow_are_exact(
        uint256 wethAmount,
        uint256 btcAmount,
        uint256 share,
        uint256 elapsed,
        bool inPortfolio
    ) public {
        wethAmount = bound(wethAmount, 0.1e18, 1_000e18);
        btcAmount = bound(btcAmount, 1e6, 50e8);
        uint256 id = _openVault(ALICE, address(weth), wethAmount, 0);
        vm.startPrank(ALICE);
        engine.deposit(id, address(wbtc), btcAmount);
        if (inPortfolio) engine.setPortfolioMargin(id, true);
        vm.stopPrank();
        uint256 first = lens.maxBorrow(id, block.timestamp) * bound(share, 0, 100) / 100;
        if (first >= engine.dust()) {
            vm.prank(ALICE);
            engine.borrow(id, first, ALICE);
        }
        vm.warp(block.timestamp + bound(elapsed, 1, 3 * 365 days));
        _refreshFeeds();

        _assertWithdrawExact(id, address(weth));
        _assertWithdrawExact(id, address(wbtc));
        uint256 amount = lens.maxBorrow(id, block.timestamp);
        vm.startPrank(ALICE);
        vm.expectRevert();
        engine.borrow(id, amount + 1, ALICE);
        if (amount != 0) {
            engine.borrow(id, amount, ALICE);
            assertLe(engine.debt(id), engine.valuation(id).borrowPower);
        } // else a full borrow plus the interest since left no room
        vm.stopPrank();
    }

    function test_rate_at_is_the_engines_rate_and_refuses_the_past() public {
        uint256 id = _openVault(ALICE, address(weth), 10e18, 10_000e18);
        assertGt(id, 0);
        uint256 last = engine.lastDrip();
        vm.warp(block.timestamp + 400 days);
        assertEq(lens.rateAt(block.timestamp), engine.currentRate());
        vm.expectRevert(abi.encodeWithSelector(VaultLens.TimestampBeforeLastDrip.selector, last - 1, last));
        lens.rateAt(last - 1);
    }

    /// @notice What cannot borrow or withdraw gets 0 (or, without debt, the whole balance), never a revert.
    function test_max_amounts_when_restricted() public {
        uint256 id = _openVault(ALICE, address(weth), 10e18, 10_000e18);
        uint256 t = block.timestamp;
        assertEq(lens.maxBorrow(999, t), 0); // no such vault
        assertEq(lens.maxWithdraw(id, address(wbtc), t), 0); // not held
        uint256 free = _openVault(ALICE, address(wbtc), 1e8, 0);
        assertEq(lens.maxWithdraw(free, address(wbtc), t), 1e8); // no debt: everything
        engine.grantRole(engine.GUARDIAN_ROLE(), address(this));
        engine.setPaused(address(weth), true);
        assertEq(lens.maxBorrow(id, t), 0);
        assertEq(lens.maxWithdraw(id, address(weth), t), 0);
        engine.setPaused(address(weth), false);
        engine.setPaused(address(0), true); // the global pause
        assertEq(lens.maxBorrow(id, t), 0);
        engine.setPaused(address(0), false);
        // The debt ceiling binds: what is left under it, to the wei.
        engine.setDebtCeiling(engine.totalDebtRad() / 1e27 + 1_000e18);
        uint256 amount = lens.maxBorrow(id, t);
        vm.startPrank(ALICE);
        vm.expectRevert();
        engine.borrow(id, amount + 1, ALICE);
        engine.borrow(id, amount, ALICE);
        vm.stopPrank();
        // Under water after a fall: nothing may leave, nothing more may be borrowed.
        _setWethPrice(1_300e8); // borrow power 10,400 < debt ≈ 11,000
        assertEq(lens.maxBorrow(id, t), 0);
        assertEq(lens.maxWithdraw(id, address(weth), t), 0);
        // An unpriced collateral beside enough priced ones may leave whole.
        _setWethPrice(1_900e8); // within the feeds' 50 % deviation breaker of the last round
        vm.prank(ALICE);
        engine.deposit(id, address(wbtc), 1e8);
        for (uint256 i; i < 3; ++i) {
            wbtcFeeds[i].setBroken(true);
        }
        assertEq(lens.maxWithdraw(id, address(wbtc), t), 1e8);
    }

    /// @dev maxWithdraw of `token` is accepted now and one wei more is refused, and the engine's withdraw of the
    ///      maximum (type(uint256).max) takes exactly that amount; the state is restored after each.
    function _assertWithdrawExact(uint256 id, address token) internal {
        uint256 amount = lens.maxWithdraw(id, token, block.timestamp);
        uint256 snapshot = vm.snapshot();
        vm.startPrank(ALICE);
        if (amount < engine.collateralBalance(id, token)) {
            vm.expectRevert();
            engine.withdraw(id, token, amount + 1, ALICE);
        }
        if (amount != 0) engine.withdraw(id, token, amount, ALICE);
        vm.stopPrank();
        vm.revertTo(snapshot);
        vm.prank(ALICE);
        if (amount == 0) {
            vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NothingToWithdraw.selector, id, token));
            engine.withdraw(id, token, type(uint256).max, ALICE);
        } else {
            assertEq(engine.withdraw(id, token, type(uint256).max, ALICE), amount);
        }
        vm.revertTo(snapshot);
    }

    /// @dev After a warp, every feed reports again at its price (so that no price is stale).
    function _refreshFeeds() internal {
        _setWethPrice(2_000e8);
        for (uint256 i; i < 3; ++i) {
            wbtcFeeds[i].updateAnswer(40_000e8);
        }
    }
}
