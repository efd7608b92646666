// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";
import {VaultLens} from "contracts/periphery/VaultLens.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice LiquidationEngine, VaultLens and pUSD unit tests: refusals, parameter bounds, the dust and empty-value
///         branches of the plan, the lens's batch reads.
contract LiquidationEngineTest is ProtocolFixture {
    address internal constant ALICE = address(0xA11CE);
    address internal constant KEEPER = address(0x11D);
    uint256 internal vault;

    function setUp() public {
        _deployProtocol();
        _fund(ALICE);
        _fund(KEEPER);
        vault = _openVault(ALICE, address(weth), 10 * WAD, 15_000 * WAD);
        _openVault(KEEPER, address(stable), 1e6 * WAD, 5e5 * WAD);
    }

    /// @notice A batch settles at its end, so a vault listed twice (or out of order) is refused before anything.
    function test_batch_ids_must_be_strictly_ascending() public {
        uint256 other = _openVault(ALICE, address(weth), 10 * WAD, 15_000 * WAD);
        _setWethPrice(1_700e8);
        uint256[] memory ids = new uint256[](2);
        (ids[0], ids[1]) = (other, vault);
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.BatchNotAscending.selector, 1));
        liquidation.liquidateBatch(ids);
        (ids[0], ids[1]) = (vault, vault);
        vm.prank(KEEPER);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.BatchNotAscending.selector, 1));
        liquidation.liquidateBatch(ids);
        (ids[0], ids[1]) = (vault, other);
        vm.prank(KEEPER);
        (uint256 liquidated,) = liquidation.liquidateBatch(ids);
        assertEq(liquidated, 2);
    }

    function test_refusals_name_the_reason() public {
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.NotLiquidatable.selector, vault, engine.healthFactor(vault)));
        liquidation.previewLiquidation(vault);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.NotLiquidatable.selector, 99, type(uint256).max));
        liquidation.liquidate(99);
        _setWethPrice(1_700e8);
        wethFeeds[0].setBroken(true);
        wethFeeds[1].setBroken(true);
        vm.expectRevert(abi.encodeWithSelector(ILiquidationEngine.NoPricedCollateral.selector, vault));
        liquidation.liquidate(vault);
    }

    function test_parameters_are_bounded_and_owner_only() public {
        uint256[3][4] memory bad =
            [[uint256(1e18), 0.95e18, 0.1e18], [uint256(2e18 + 1), 0.95e18, 0.1e18], [uint256(1.1e18), 1e18 + 1, 0.1e18], [uint256(1.1e18), 0.95e18, 0.5e18 + 1]];
        for (uint256 i; i < bad.length; ++i) {
            vm.expectRevert(
                abi.encodeWithSelector(ILiquidationEngine.InvalidLiquidationParameters.selector, bad[i][0], bad[i][1], bad[i][2])
            );
            liquidation.setLiquidationParameters(bad[i][0], bad[i][1], bad[i][2]);
        }
        vm.prank(ALICE);
        vm.expectRevert(abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, ALICE, RISK_ADMIN));
        liquidation.setLiquidationParameters(1.2e18, 0.9e18, 0);
        vm.expectEmit(address(liquidation));
        emit ILiquidationEngine.LiquidationParametersSet(1.2e18, 0.9e18, 0.5e18);
        liquidation.setLiquidationParameters(1.2e18, 0.9e18, 0.5e18);
        assertEq(liquidation.protocolShare(), 0.5e18);
        assertEq(address(liquidation.engine()), address(engine));
    }

    function test_partial_liquidation_that_would_leave_dust_takes_the_whole_debt() public {
        _setWethPrice(1_700e8); // HF 0.963: partial r* ≈ 9,879.5 would leave ≈ 5,120
        engine.setDust(6_000 * WAD);
        ILiquidationEngine.Plan memory p = liquidation.previewLiquidation(vault);
        assertTrue(p.full);
        assertEq(p.repay, 15_000 * WAD);
        vm.prank(KEEPER);
        liquidation.liquidate(vault);
        assertEq(engine.normalizedDebt(vault), 0);
    }

    function test_vault_whose_collateral_is_worth_nothing_is_written_off() public {
        engine.setDust(0);
        uint256 tiny = _openVault(ALICE, address(weth), 1_000, 1_000_000); // 1,000 wei of WETH, 1e6 wei of debt
        // Halve the price round by round (the 50 % breaker accepts each step) until 1,000 wei is worth 0.
        for (int256 p8 = 1_000e8; p8 >= 50_000; p8 /= 2) {
            _setWethPrice(p8);
        }
        IVaultEngine.Valuation memory v = engine.valuation(tiny);
        assertEq(v.collateralValue, 0);
        assertEq(v.unpricedMask, 0);
        ILiquidationEngine.Plan memory p = liquidation.previewLiquidation(tiny);
        assertEq(p.repay, 0);
        assertEq(p.fraction, WAD);
        assertTrue(p.full);
        vm.prank(KEEPER);
        liquidation.liquidate(tiny);
        assertEq(engine.normalizedDebt(tiny), 0);
        (address[] memory tokens,) = engine.vaultCollateral(tiny);
        assertEq(tokens.length, 0);
    }

    function test_lens_reads_many_vaults_at_one_block() public {
        VaultLens l = lens;
        uint256[] memory ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (vault, 2, 99);
        VaultLens.VaultState[] memory s = l.vaults(ids);
        assertEq(s[0].owner, ALICE);
        assertEq(s[0].normalizedDebt, engine.normalizedDebt(vault));
        assertEq(s[0].tokens[0], address(weth));
        assertEq(s[0].amounts[0], 10 * WAD);
        assertEq(s[1].owner, KEEPER);
        assertEq(s[2].owner, address(0));
        assertEq(s[2].tokens.length, 0);
        uint256[] memory hf = l.healthFactors(ids);
        assertEq(hf[0], engine.healthFactor(vault));
        assertEq(hf[2], type(uint256).max);
        assertEq(address(l.engine()), address(engine));
    }

    function test_only_the_engine_mints_and_burns_pusd() public {
        vm.expectRevert(abi.encodeWithSelector(IPUSD.OnlyEngine.selector, address(this)));
        pusd.mint(address(this), 1);
        vm.expectRevert(abi.encodeWithSelector(IPUSD.OnlyEngine.selector, address(this)));
        pusd.burn(ALICE, 1);
    }
}
