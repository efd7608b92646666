// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {Handler} from "./Handler.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";

/// @notice DESIGN invariants 1-9 (docs/invariants.md) under random operation sequences, forge's invariant mode.
/// @dev foundry.toml's [invariant] section sets runs x depth for each of the two campaigns below
///      (ProtocolInvariantTest, ProtocolInvariantRotatedTest); `make test` runs 500,000 handler calls in all.
///      Invariants 1-3 are read off the chain after every call; 4-9 are post-conditions the handler records in
///      ghost counters around each operation (a handler's own assert would only count as a skipped revert).
abstract contract ProtocolInvariantBase is ProtocolFixture {
    Handler internal handler;
    address internal constant LIQUIDATOR = address(0x11D);

    function setUp() public {
        _deployProtocol();
        handler = new Handler(
            Handler.System({
                engine: engine,
                liquidation: liquidation,
                pusd: pusd,
                weth: weth,
                wbtc: wbtc,
                adv: adv,
                stable: stable,
                wethFeed0: wethFeeds[0],
                wethFeed1: wethFeeds[1],
                wbtcFeed0: wbtcFeeds[0],
                wbtcFeed1: wbtcFeeds[1],
                wbtcFeed2: wbtcFeeds[2],
                advFeed: advFeed,
                sequencer: sequencer,
                admin: address(this),
                liquidator: LIQUIDATOR
            })
        );
        engine.grantRole(engine.GUARDIAN_ROLE(), address(this)); // the handler pauses as the guardian
        _fund(LIQUIDATOR);
        _fund(address(0xA11CE));
        _fund(address(0xB0B));
        _fund(address(0xCA401));
        // The liquidator's pUSD inventory, against collateral whose price never moves.
        _openVault(LIQUIDATOR, address(stable), 2e9 * WAD, 1e9 * WAD);
        // The adversarial token's admin switches are open to anyone: let the handler flip them.
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](40);
        selectors[0] = Handler.open.selector;
        selectors[1] = Handler.open.selector; // opening twice as often keeps vaults coming
        selectors[2] = Handler.deposit.selector;
        selectors[3] = Handler.withdraw.selector;
        selectors[4] = Handler.borrow.selector;
        selectors[5] = Handler.repay.selector;
        selectors[6] = Handler.repayAll.selector;
        selectors[7] = Handler.transferVault.selector;
        selectors[8] = Handler.stranger.selector;
        selectors[9] = Handler.liquidate.selector;
        selectors[10] = Handler.liquidateWorst.selector;
        selectors[11] = Handler.liquidateBatch.selector;
        selectors[12] = Handler.claim.selector;
        selectors[13] = Handler.movePrice.selector;
        selectors[14] = Handler.movePrice.selector;
        selectors[15] = Handler.failFeed.selector;
        selectors[16] = Handler.sequencerStatus.selector;
        selectors[17] = Handler.tokenMisbehaves.selector;
        selectors[18] = Handler.warp.selector;
        selectors[19] = Handler.warpFar.selector;
        selectors[20] = Handler.drip.selector;
        selectors[21] = Handler.setRiskParameters.selector;
        selectors[22] = Handler.setLiquidationParameters.selector;
        selectors[23] = Handler.setStabilityFee.selector;
        selectors[24] = Handler.setDust.selector;
        selectors[25] = Handler.setDebtCeiling.selector;
        selectors[26] = Handler.heal.selector;
        selectors[27] = Handler.setMarginMode.selector;
        selectors[28] = Handler.setMarginMode.selector;
        selectors[29] = Handler.setScenarioGrids.selector;
        selectors[30] = Handler.setBonusCurve.selector;
        selectors[31] = Handler.setLiquidationCap.selector;
        selectors[32] = Handler.marginCall.selector;
        selectors[33] = Handler.marginCallBatch.selector;
        selectors[34] = Handler.cure.selector;
        selectors[35] = Handler.setMarginCallTerms.selector;
        selectors[36] = Handler.pause.selector;
        selectors[37] = Handler.burnBadDebt.selector;
        selectors[38] = Handler.withdrawSurplus.selector;
        selectors[39] = Handler.liquidateAfterGrace.selector;
        // forge draws both campaigns from one random stream: a different order of the same operations makes the
        // second campaign explore different sequences instead of repeating the first.
        uint256 shift = _rotation();
        bytes4[] memory rotated = new bytes4[](selectors.length);
        for (uint256 i; i < selectors.length; ++i) {
            rotated[i] = selectors[(i + shift) % selectors.length];
        }
        targetSelector(FuzzSelector({addr: address(handler), selectors: rotated}));
    }

    /// @dev How far this campaign rotates the selector list.
    function _rotation() internal pure virtual returns (uint256);

    function _assertAll() internal view {
        _debtAddsUp();
        _surplusKept();
        _collateralConserved();
        _borrowAndWithdrawKeepInitialMargin();
        _liquidationRaisesHealth();
        _onlyAuthorizedManageVaults();
        _noBadDebtWhileSolvent();
        _liquidationCannotBeBlocked();
        _nothingBricks();
        _marginCallFlagAgrees();
    }

    /// @notice 1. Σ vault normalized debt == totalNormalizedDebt.
    function _debtAddsUp() internal view {
        uint256 sum;
        uint256 n = engine.vaultCount();
        for (uint256 id = 1; id <= n; ++id) {
            sum += engine.normalizedDebt(id);
        }
        assertEq(sum, engine.totalNormalizedDebt(), "sum of vault debt != total");
    }

    /// @notice 2. The surplus (derived: totalNormalizedDebt·rate + badDebt − pUSD supply·RAY, RAD) is never negative,
    ///         and no call lowers it by more than its heals, surplus withdrawals and write-offs (Handler.surplusKept).
    function _surplusKept() internal view {
        engine.surplusRad(); // reverts (underflow) if the surplus were negative
        assertEq(handler.brokenSurplus(), 0, "the surplus fell where nothing may lower it");
    }

    /// @notice 3. Per collateral: Σ vault balances == totalDeposited, and the engine holds totalDeposited plus what
    ///         waits to be claimed: no loss, no creation.
    function _collateralConserved() internal view {
        address[4] memory tokens = [address(weth), address(wbtc), address(adv), address(stable)];
        uint256 n = engine.vaultCount();
        for (uint256 t; t < 4; ++t) {
            uint256 booked;
            for (uint256 id = 1; id <= n; ++id) {
                booked += engine.collateralBalance(id, tokens[t]);
            }
            uint256 deposited = engine.collateralType(tokens[t]).totalDeposited;
            assertEq(booked, deposited, "sum of vault balances != totalDeposited");
            assertEq(IERC20(tokens[t]).balanceOf(address(engine)), deposited + engine.totalClaimable(tokens[t]),
                "engine balance != deposited + claimable");
        }
    }

    /// @notice 1 (ceiling) and 4. A successful borrow or withdraw leaves the vault at the initial margin and the
    ///         system within the debt ceiling; a withdrawal of the maximum leaves nothing more that may leave.
    function _borrowAndWithdrawKeepInitialMargin() internal view {
        assertEq(handler.brokenMargin(), 0, "borrow/withdraw left a vault below the initial margin");
        assertEq(handler.brokenMaxWithdraw(), 0, "withdraw of the maximum left some that could still leave");
        assertEq(handler.brokenCeiling(), 0, "borrow beyond the debt ceiling");
    }

    /// @notice 5. A partial liquidation never lowers health, and no liquidation pays out more than the vault held.
    function _liquidationRaisesHealth() internal view {
        assertEq(handler.brokenLiquidationHealth(), 0, "liquidation lowered health or overpaid");
    }

    /// @notice 6. Only the owner or its operators raise a vault's debt or move its collateral out.
    function _onlyAuthorizedManageVaults() internal view {
        assertEq(handler.brokenAuthorization(), 0, "a stranger managed a vault");
    }

    /// @notice 7. No bad debt while the vault's collateral covers its debt.
    function _noBadDebtWhileSolvent() internal view {
        assertEq(handler.brokenSolventBadDebt(), 0, "bad debt booked on a solvent vault");
    }

    /// @notice 8. A liquidatable vault is liquidated by any third party that can pay, alone and in a batch.
    function _liquidationCannotBeBlocked() internal view {
        assertEq(handler.brokenLiquidation(), 0, "a liquidation, batch or valuation reverted where it must not");
    }

    /// @notice 9. drip and an affordable full repay never revert, whatever the parameters and elapsed time.
    function _nothingBricks() internal view {
        assertEq(handler.brokenLiveness(), 0, "drip or repay reverted");
    }

    /// @notice 10. A vault's margin-call flag in the engine (what its valuation reports, and what liquidations trust
    ///         to skip reading the LiquidationEngine's record) agrees with that record after every call, cure and
    ///         liquidation of it.
    function _marginCallFlagAgrees() internal view {
        assertEq(handler.brokenCallFlag(), 0, "margin-call flag in the engine != the liquidation engine's record");
    }
}

/// @notice Campaign A: every invariant after every call, plus the fixed-sequence non-vacuity test.
contract ProtocolInvariantTest is ProtocolInvariantBase {
    function _rotation() internal pure override returns (uint256) {
        return 0;
    }

    /// @notice Every invariant, after every call of this campaign.
    function invariant_all() public view {
        _assertAll();
    }

    /// @notice The handler is not vacuous: a fixed pseudo-random sequence of 1,200 calls reaches every kind of
    ///         operation, liquidations partial, full and batched included, with every invariant holding after each.
    function test_handler_exercises_every_operation() public {
        // Every movable collateral offers margin calls at first (a vault is callable only if all its types do).
        for (uint256 t; t < 3; ++t) {
            handler.setMarginCallTerms(t, 3_601, 0, 0);
        }
        for (uint256 i; i < 1_200; ++i) {
            uint256 r = uint256(keccak256(abi.encode(i, 3)));
            uint256 a = uint256(keccak256(abi.encode(r, 1)));
            uint256 b = uint256(keccak256(abi.encode(r, 2)));
            uint256 c = uint256(keccak256(abi.encode(r, 3)));
            _dispatch(r % 42, a, b, c);
            _assertAll();
        }
        // (claim needs a rare coincidence, a paused token during a liquidation of a vault holding it, then an
        // unpause: the unit tests cover it directly.)
        string[27] memory expected = [
            "open", "borrow", "withdraw", "withdraw max", "repay", "repay all", "stranger", "liquidation partial", "liquidation full",
            "batch liquidations", "feed failure", "sequencer", "far warp", "risk parameters", "heal",
            "scenario grids", "to portfolio margin", "to standard margin", "bonus curve", "liquidation cap",
            "margin call", "cure", "margin call terms", "pause", "surplus withdrawal", "burn bad debt",
            "liquidation after grace"
        ];
        string memory summary = string.concat(
            "refused=", vm.toString(handler.calls("borrow refused")),
            " margin=", vm.toString(handler.refusals(IVaultEngine.InsufficientMargin.selector)),
            " dust=", vm.toString(handler.refusals(IVaultEngine.DebtBelowDust.selector)),
            " ceiling=", vm.toString(handler.refusals(IVaultEngine.DebtCeilingExceeded.selector)), " "
        );
        for (uint256 i; i < expected.length; ++i) {
            summary = string.concat(summary, expected[i], "=", vm.toString(handler.calls(bytes32(bytes(expected[i])))), " ");
        }
        for (uint256 i; i < expected.length; ++i) {
            assertGt(handler.calls(bytes32(bytes(expected[i]))), 0, string.concat(expected[i], " never ran: ", summary));
        }
    }

    function _dispatch(uint256 k, uint256 a, uint256 b, uint256 c) internal {
        if (k < 3) handler.open(a, b, c, a >> 128);
        else if (k == 3) handler.deposit(a, b, c);
        else if (k == 4) handler.withdraw(a, b, c);
        else if (k == 5) handler.borrow(a, b);
        else if (k == 6) handler.repay(a, b, c % 2 == 0);
        else if (k == 7) handler.repayAll(a);
        else if (k == 8) handler.transferVault(a, b, c % 2 == 0);
        else if (k == 9) handler.stranger(a, b);
        else if (k == 10) handler.liquidate(a);
        else if (k == 11) handler.liquidateWorst();
        else if (k == 12) handler.liquidateBatch(a, b, c);
        else if (k == 13) handler.claim();
        else if (k < 17) handler.movePrice(a, int256(b % 46) - 30); // crashes are what liquidations need
        else if (k == 17) handler.failFeed(a, b);
        else if (k == 18) handler.sequencerStatus(a % 3 == 0);
        else if (k == 19) handler.tokenMisbehaves(a, b);
        else if (k == 20) handler.warp(a % 1 days);
        else if (k == 21) handler.warpFar(a);
        else if (k == 22) handler.drip();
        else if (k == 23) handler.setRiskParameters(a, b, c, a >> 64);
        else if (k == 24) handler.setLiquidationParameters(a, b, c);
        else if (k == 25) handler.setDust(a);
        else if (k == 26) handler.setDebtCeiling(a % 4 == 0 ? a : type(uint256).max); // mostly left high
        else if (k == 27) handler.heal();
        else if (k == 28) handler.setStabilityFee(a % 2 == 0 ? 1e27 : a);
        else if (k < 31) handler.setMarginMode(a, b % 3 != 0);
        else if (k == 31) handler.setScenarioGrids(a);
        else if (k == 32) handler.setBonusCurve(a, b);
        else if (k == 33) handler.setLiquidationCap(a, b);
        else if (k < 36) handler.marginCall(a);
        else if (k == 36) handler.cure(a);
        else if (k == 37) handler.setMarginCallTerms(a, b, c, a >> 64);
        else if (k == 38) handler.pause(a);
        else if (k == 39) handler.burnBadDebt(a);
        else if (k == 40) handler.liquidateAfterGrace(a);
        else handler.withdrawSurplus(a);
    }
}

/// @notice Campaign B: the same invariants over differently ordered operations (different sequences).
contract ProtocolInvariantRotatedTest is ProtocolInvariantBase {
    function _rotation() internal pure override returns (uint256) {
        return 13;
    }

    /// @notice Every invariant, after every call of this campaign.
    function invariant_all() public view {
        _assertAll();
    }
}
