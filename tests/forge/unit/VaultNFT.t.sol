// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC721Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";

/// @notice An ERC-20 without EIP-2612 whose fallback takes any call (as mainnet WETH9's does): a permit "succeeds"
///         and sets nothing.
contract FallbackToken is ERC20 {
    constructor() ERC20("Fallback", "FBK") {}

    fallback() external {}
}

/// @notice What an integrator relies on around a vault: the VaultNFT (who may manage a vault, enumeration,
///         metadata), a whole flow in one multicall, a deposit with an EIP-2612 permit, withdraw of the maximum, and
///         events that name their caller.
contract VaultNFTTest is ProtocolFixture {
    uint256 internal constant ALICE_KEY = 0xA11CE;
    address internal alice;
    address internal constant BOB = address(0xB0B);

    bytes32 internal constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    function setUp() public {
        _deployProtocol();
        alice = vm.addr(ALICE_KEY);
        _fund(alice);
        _fund(BOB);
    }

    // ---------------------------------------------------------------- the vault NFT

    function test_the_engine_mints_each_vault_and_nobody_else_can() public {
        assertEq(nft.engine(), address(engine));
        vm.expectRevert(abi.encodeWithSelector(IVaultNFT.OnlyVaultEngine.selector, address(this)));
        nft.mint(address(this), 1);
        uint256 id = _openVault(alice, address(weth), 1e18, 0);
        assertEq(nft.ownerOf(id), alice);
        assertEq(nft.totalSupply(), engine.vaultCount());
        assertEq(nft.name(), "Plimsoll Vault");
        assertEq(nft.symbol(), "PLMV");
    }

    /// @notice Enumeration follows every open and transfer; control of the vault follows the token.
    function test_enumeration_and_control_follow_the_token() public {
        uint256 a = _openVault(alice, address(weth), 1e18, 0);
        uint256 b = _openVault(BOB, address(weth), 1e18, 0);
        uint256 c = _openVault(alice, address(wbtc), 1e8, 0);
        assertEq(nft.balanceOf(alice), 2);
        assertEq(nft.tokenOfOwnerByIndex(alice, 0), a);
        assertEq(nft.tokenOfOwnerByIndex(alice, 1), c);
        assertEq(nft.tokenByIndex(1), b);

        vm.prank(alice);
        nft.transferFrom(alice, BOB, a);
        assertEq(nft.balanceOf(alice), 1);
        assertEq(nft.tokenOfOwnerByIndex(alice, 0), c); // swap-and-pop of OpenZeppelin's enumeration
        assertEq(nft.tokenOfOwnerByIndex(BOB, 1), a);
        assertTrue(nft.isAuthorized(a, BOB));
        assertFalse(nft.isAuthorized(a, alice));
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NotAuthorized.selector, a, alice));
        engine.withdraw(a, address(weth), 1, alice);
        vm.prank(BOB);
        engine.withdraw(a, address(weth), 1e18, BOB);

        // An approval hands over the vault: the approved address may withdraw (docs/integrating.md).
        vm.prank(alice);
        nft.approve(BOB, c);
        vm.prank(BOB);
        engine.withdraw(c, address(wbtc), 1e8, BOB);
        assertEq(wbtc.balanceOf(BOB), 1e9 * 1e8 + 1e8);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.VaultNotFound.selector, 99));
        engine.deposit(99, address(weth), 1);
    }

    function test_token_uri_is_on_chain_json_and_refuses_a_vault_that_does_not_exist() public {
        uint256 id = _openVault(alice, address(weth), 10e18, 10_000e18);
        string memory uri = nft.tokenURI(id);
        assertEq(_prefix(uri, 29), "data:application/json;base64,");
        assertGt(bytes(uri).length, 1_000);
        vm.expectRevert(abi.encodeWithSelector(IERC721Errors.ERC721NonexistentToken.selector, 2));
        nft.tokenURI(2);
        // A feed that fails does not break the metadata: the collateral shows unpriced.
        for (uint256 i; i < 2; ++i) {
            wethFeeds[i].setBroken(true);
        }
        assertGt(bytes(nft.tokenURI(id)).length, 1_000);
    }

    // ---------------------------------------------------------------- one transaction: multicall and permit

    /// @notice Open with a permit instead of an approval, add a second collateral and borrow: one transaction.
    function test_multicall_opens_with_a_permit_deposits_and_borrows_in_one_transaction() public {
        vm.prank(alice);
        weth.approve(address(engine), 0);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(address(weth), 10e18, deadline);
        bytes[] memory calls = new bytes[](4);
        calls[0] = abi.encodeCall(IVaultEngine.permitCollateral, (address(weth), 10e18, deadline, v, r, s));
        calls[1] = abi.encodeCall(IVaultEngine.open, (address(weth), 10e18));
        calls[2] = abi.encodeCall(IVaultEngine.deposit, (1, address(wbtc), 1e8));
        calls[3] = abi.encodeCall(IVaultEngine.borrow, (1, 20_000e18, alice));
        vm.prank(alice);
        bytes[] memory results = engine.multicall(calls);
        assertEq(abi.decode(results[1], (uint256)), 1);
        assertEq(nft.ownerOf(1), alice);
        assertEq(engine.collateralBalance(1, address(weth)), 10e18);
        assertEq(engine.collateralBalance(1, address(wbtc)), 1e8);
        assertEq(engine.debt(1), 20_000e18);
        assertEq(weth.allowance(alice, address(engine)), 0); // the permit's 10 WETH, all spent

        // The first failure reverts everything before it: no vault 2, no deposit, no allowance left behind.
        (v, r, s) = _permit(address(weth), 1e18, deadline);
        calls[0] = abi.encodeCall(IVaultEngine.permitCollateral, (address(weth), 1e18, deadline, v, r, s));
        calls[1] = abi.encodeCall(IVaultEngine.open, (address(weth), 1e18));
        calls[2] = abi.encodeCall(IVaultEngine.borrow, (2, 1_000_000e18, alice));
        bytes[] memory two = new bytes[](3);
        (two[0], two[1], two[2]) = (calls[0], calls[1], calls[2]);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.InsufficientMargin.selector, 2, 1_000_000e18, 1_600e18));
        engine.multicall(two);
        assertEq(engine.vaultCount(), 1);
        assertEq(weth.allowance(alice, address(engine)), 0);
    }

    function test_a_permit_that_fails_surfaces_the_tokens_error_unless_the_allowance_is_already_there() public {
        vm.prank(alice);
        weth.approve(address(engine), 0);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(address(weth), 5e18, deadline);
        // Someone submits alice's signed permit first (it is public once in the mempool): hers still goes through.
        IERC20Permit(address(weth)).permit(alice, address(engine), 5e18, deadline, v, r, s);
        vm.prank(alice);
        engine.permitCollateral(address(weth), 5e18, deadline, v, r, s);
        assertEq(weth.allowance(alice, address(engine)), 5e18);
        // A stale or foreign signature with no allowance behind it fails with the token's own error.
        vm.warp(deadline + 1);
        (v, r, s) = _permit(address(weth), 6e18, deadline);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        engine.permitCollateral(address(weth), 6e18, deadline, v, r, s);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.UnknownCollateral.selector, address(pusd)));
        engine.permitCollateral(address(pusd), 1, deadline, v, r, s);
    }

    /// @notice Anyone may open the id a batch predicted and approve its sender for it: without `requireOwner` the
    ///         batch's deposit and borrow then land in that stranger's vault; with it the whole batch reverts.
    function test_a_batch_on_a_predicted_id_needs_the_owner_guard() public {
        address mallory = address(0x3A11);
        uint256 predicted = engine.vaultCount() + 1;
        bytes[] memory calls = new bytes[](4);
        calls[0] = abi.encodeCall(IVaultEngine.open, (address(weth), 10e18));
        calls[1] = abi.encodeCall(IVaultEngine.requireOwner, (predicted));
        calls[2] = abi.encodeCall(IVaultEngine.deposit, (predicted, address(wbtc), 1e8));
        calls[3] = abi.encodeCall(IVaultEngine.borrow, (predicted, 1_000e18, alice));
        // Mallory front-runs: takes the predicted id with an empty vault and approves alice for all her vaults.
        vm.startPrank(mallory);
        assertEq(engine.open(address(weth), 0), predicted);
        nft.setApprovalForAll(alice, true);
        vm.stopPrank();
        uint256 snapshot = vm.snapshot();

        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NotVaultOwner.selector, predicted, alice, mallory));
        engine.multicall(calls);
        assertEq(engine.vaultCount(), predicted); // nothing of alice's batch happened

        // The hazard the guard closes: the same batch without it deposits alice's WBTC into mallory's vault.
        bytes[] memory unguarded = new bytes[](3);
        (unguarded[0], unguarded[1], unguarded[2]) = (calls[0], calls[2], calls[3]);
        vm.prank(alice);
        engine.multicall(unguarded);
        assertEq(engine.collateralBalance(predicted, address(wbtc)), 1e8);
        assertEq(nft.ownerOf(predicted), mallory);
        vm.revertTo(snapshot);

        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NotVaultOwner.selector, 99, address(this), address(0)));
        engine.requireOwner(99);
    }

    function test_a_token_that_takes_the_permit_call_without_a_permit_is_refused_by_name() public {
        FallbackToken token = new FallbackToken();
        engine.addCollateral(address(token), stableOracle, 0.5e18, 0.6e18, 1.05e18, 1e30);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.PermitNotSupported.selector, address(token)));
        engine.permitCollateral(address(token), 1e18, block.timestamp + 1, 27, bytes32(0), bytes32(0));
    }

    /// @notice A collateral whose symbol() answers a bytes32 (MKR's), garbage or a revert still renders.
    function test_token_uri_survives_any_symbol_answer() public {
        uint256 id = _openVault(alice, address(weth), 10e18, 10_000e18);
        string memory normal = nft.tokenURI(id);
        bytes memory symbolCall = abi.encodeCall(IERC20Metadata.symbol, ());
        vm.mockCall(address(weth), symbolCall, abi.encode(bytes32("MKR")));
        string memory mkr = nft.tokenURI(id);
        vm.mockCall(address(weth), symbolCall, abi.encode(uint256(64), uint256(1e30)));
        string memory garbage = nft.tokenURI(id);
        vm.mockCallRevert(address(weth), symbolCall, "no symbol");
        string memory reverted = nft.tokenURI(id);
        vm.clearMockedCalls();
        // "WETH", "MKR" and "?" differ, and base64 grows by 4 characters per 3 bytes: each rendering is its own
        assertTrue(keccak256(bytes(normal)) != keccak256(bytes(mkr)));
        assertEq(keccak256(bytes(garbage)), keccak256(bytes(reverted))); // both "?"
        assertTrue(keccak256(bytes(mkr)) != keccak256(bytes(reverted)));
    }

    // ---------------------------------------------------------------- withdraw of the maximum

    function test_withdraw_of_the_maximum() public {
        uint256 id = _openVault(alice, address(weth), 10e18, 0);
        vm.startPrank(alice);
        engine.deposit(id, address(wbtc), 1e8);
        // Without debt: everything.
        assertEq(engine.withdraw(id, address(wbtc), type(uint256).max, alice), 1e8);
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NothingToWithdraw.selector, id, address(wbtc)));
        engine.withdraw(id, address(wbtc), type(uint256).max, alice);
        // With debt: 16,000 − 12,000 = 4,000 of borrow power to spare is 4,000 / (2,000 × 0.80) = 2.5 WETH.
        engine.borrow(id, 12_000e18, alice);
        vm.expectEmit(address(engine));
        emit IVaultEngine.Withdraw(id, address(weth), alice, BOB, 2.5e18);
        assertEq(engine.withdraw(id, address(weth), type(uint256).max, BOB), 2.5e18);
        assertEq(engine.valuation(id).borrowPower, engine.debt(id)); // exactly at the initial margin
        vm.expectRevert(abi.encodeWithSelector(IVaultEngine.NothingToWithdraw.selector, id, address(weth)));
        engine.withdraw(id, address(weth), type(uint256).max, alice);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- events name their caller

    function test_borrow_seize_and_margin_mode_events_name_their_caller() public {
        uint256 id = _openVault(alice, address(weth), 10e18, 0);
        vm.prank(alice);
        nft.approve(BOB, id);
        vm.expectEmit(address(engine));
        emit IVaultEngine.Borrow(id, BOB, alice, 15_000e18, 15_000e18);
        vm.prank(BOB);
        engine.borrow(id, 15_000e18, alice);

        vm.expectEmit(address(engine));
        emit IVaultEngine.MarginModeSet(id, BOB, false);
        vm.prank(BOB);
        engine.setPortfolioMargin(id, false);

        _setWethPrice(1_700e8); // maintenance 14,450 < 15,000: liquidatable
        address keeper = address(0x4EE9E4);
        _fund(keeper);
        uint256 k = _openVault(keeper, address(stable), 1_000_000e18, 100_000e18);
        assertGt(k, id);
        vm.expectEmit(true, true, false, false, address(engine)); // the vault and the liquidator (its topics)
        emit IVaultEngine.Seize(id, keeper, 0);
        vm.prank(keeper);
        liquidation.liquidate(id);
    }

    // ---------------------------------------------------------------- helpers

    function _permit(address token, uint256 amount, uint256 deadline) internal view returns (uint8, bytes32, bytes32) {
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                IERC20Permit(token).DOMAIN_SEPARATOR(),
                keccak256(
                    abi.encode(PERMIT_TYPEHASH, alice, address(engine), amount, IERC20Permit(token).nonces(alice), deadline)
                )
            )
        );
        return vm.sign(ALICE_KEY, digest);
    }

    function _prefix(string memory s, uint256 n) internal pure returns (string memory) {
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            out[i] = bytes(s)[i];
        }
        return string(out);
    }
}
