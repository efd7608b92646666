// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {VaultEngine} from "contracts/VaultEngine.sol";

/// @notice Smoke test of the forge set-up (foundry.toml): the contracts compile with the project's solc and
///         remappings, and unit, fuzz and invariant tests run with forge-std's cheatcodes.
contract SmokeTest is Test {
    VaultEngine internal engine;

    function setUp() public {
        engine = new VaultEngine(address(this));
    }

    function test_deploys_with_no_vault() public view {
        assertEq(engine.vaultCount(), 0);
        assertEq(engine.rate(), 1e27);
        assertEq(engine.owner(), address(this));
    }

    function testFuzz_only_owner_sets_the_fee(address caller) public {
        vm.assume(caller != address(this));
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        engine.setStabilityFee(1e27);
    }
}

/// @notice Invariant handler: moves time forward and drips the stability-fee accumulator.
/// @dev With `fail_on_revert = false` a failing assert inside a handler only counts as a revert: record what
///      the handler sees in ghost variables and assert them in the invariant_ functions.
contract DripHandler is Test {
    VaultEngine internal immutable engine;
    uint256 public lastRate;
    bool public rateWentDown;

    constructor(VaultEngine engine_) {
        engine = engine_;
        lastRate = engine_.rate();
    }

    function warpAndDrip(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 0, 30 days));
        engine.drip();
        uint256 rate = engine.rate();
        if (rate < lastRate) rateWentDown = true;
        lastRate = rate;
    }
}

contract SmokeInvariantTest is Test {
    VaultEngine internal engine;
    DripHandler internal handler;

    function setUp() public {
        engine = new VaultEngine(address(this));
        engine.setStabilityFee(engine.MAX_STABILITY_FEE());
        handler = new DripHandler(engine);
        bytes4[] memory selectors = new bytes4[](1);
        selectors[0] = DripHandler.warpAndDrip.selector;
        targetSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: selectors}));
        targetContract(address(handler));
    }

    function invariant_rate_at_least_one_ray() public view {
        assertGe(engine.rate(), 1e27);
        assertEq(engine.rate(), handler.lastRate());
        assertFalse(handler.rateWentDown(), "rate went down");
    }
}
