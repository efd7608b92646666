// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

import {VaultEngine} from "contracts/VaultEngine.sol";
import {LiquidationEngine} from "contracts/LiquidationEngine.sol";
import {PUSD} from "contracts/PUSD.sol";
import {MockERC20} from "contracts/mocks/MockERC20.sol";
import {MockAdversarialERC20} from "contracts/mocks/MockAdversarialERC20.sol";
import {MockAggregator} from "contracts/mocks/MockAggregator.sol";
import {IPortfolioMargin} from "@plimsoll/interfaces/IPortfolioMargin.sol";
import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";

/// @notice Drives the protocol through random operations for the invariant suite: vault operations by owners,
///         strangers and the liquidator, liquidations single and batched, price moves, failing feeds, a pausing
///         and blocklisting fee-on-transfer token, sequencer outages, time, and parameter changes within bounds.
/// @dev With fail_on_revert = false a revert inside a handler is skipped, so every post-condition that must
///      hold is recorded in a ghost counter (`broken*`) and asserted by the invariant functions. Expected
///      rejections (margin, dust, ...) are caught with try/catch so that calls are rarely wasted.
contract Handler is Test {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    uint256 internal constant MAX_VAULTS = 40;

    struct System {
        VaultEngine engine;
        LiquidationEngine liquidation;
        PUSD pusd;
        MockERC20 weth;
        MockERC20 wbtc;
        MockAdversarialERC20 adv;
        MockERC20 stable;
        MockAggregator wethFeed0;
        MockAggregator wethFeed1;
        MockAggregator wbtcFeed0;
        MockAggregator wbtcFeed1;
        MockAggregator wbtcFeed2;
        MockAggregator advFeed;
        MockAggregator sequencer;
        address admin;
        address liquidator;
    }

    VaultEngine internal engine;
    IVaultNFT internal nft;
    LiquidationEngine internal liquidation;
    PUSD internal pusd;
    address internal admin;
    address internal liquidator;
    address[3] internal owners = [address(0xA11CE), address(0xB0B), address(0xCA401)];
    address internal constant STRANGER = address(0x5757);

    address[3] internal movable; // WETH, WBTC, ADV: the tokens whose price moves
    MockAggregator[][3] internal feedsOf;
    int256[3] internal price8; // current price of each movable token, 8 decimals
    MockAdversarialERC20 internal adv;
    MockAggregator internal sequencer;
    uint256 internal farWarps;

    uint256[] public vaults;

    // ---------------------------------------------------------------- ghost post-conditions (must stay 0)
    /// @notice A borrow or withdraw succeeded but left the vault below the initial margin (invariant 4).
    uint256 public brokenMargin;
    /// @notice A withdrawal of the maximum (type(uint256).max) left some of the token that one wei more would still
    ///         have been allowed to take (invariant 4: the maximum is exact).
    uint256 public brokenMaxWithdraw;
    /// @notice A borrow succeeded beyond the debt ceiling (invariant 1).
    uint256 public brokenCeiling;
    /// @notice A partial liquidation lowered health, or paid more collateral than the vault held (invariant 5).
    uint256 public brokenLiquidationHealth;
    /// @notice A stranger changed a vault's debt or moved its collateral (invariant 6).
    uint256 public brokenAuthorization;
    /// @notice Bad debt was booked while the vault's priced collateral covered its debt (invariant 7).
    uint256 public brokenSolventBadDebt;
    /// @notice A liquidatable vault whose liquidator could pay was not liquidated, alone or in a batch, or a
    ///         valuation, health or preview read reverted (they never may) (invariant 8).
    uint256 public brokenLiquidation;
    /// @notice Vaults whose margin-call flag in the engine disagreed with the LiquidationEngine's record (10).
    uint256 public brokenCallFlag;
    /// @notice drip, or a full repay that the payer can afford, reverted (invariant 9).
    uint256 public brokenLiveness;
    /// @dev Invariant 2: the surplus went negative, or fell by more than the heals, surplus withdrawals and
    ///      write-offs of the call say (the only three things that may lower it).
    uint256 public brokenSurplus;

    // ---------------------------------------------------------------- what ran (for the summary)
    mapping(bytes32 => uint256) public calls;
    /// @notice How often each error selector refused a borrow.
    mapping(bytes4 => uint256) public refusals;

    constructor(System memory s) {
        engine = s.engine;
        nft = s.engine.vaultNFT();
        liquidation = s.liquidation;
        pusd = s.pusd;
        admin = s.admin;
        liquidator = s.liquidator;
        adv = s.adv;
        sequencer = s.sequencer;
        movable = [address(s.weth), address(s.wbtc), address(s.adv)];
        feedsOf[0].push(s.wethFeed0);
        feedsOf[0].push(s.wethFeed1);
        feedsOf[1].push(s.wbtcFeed0);
        feedsOf[1].push(s.wbtcFeed1);
        feedsOf[1].push(s.wbtcFeed2);
        feedsOf[2].push(s.advFeed);
        price8 = [int256(2_000e8), int256(40_000e8), int256(1e8)];
    }

    /// @dev Invariant 2 around every call: the derived surplus (totalNormalizedDebt·rate + badDebt − supply·RAY, RAD)
    ///      stays non-negative and falls by at most what the call's Heal, SurplusWithdrawn and BadDebtWrittenOff events
    ///      take out of it. A path that mints pUSD without debt, or drops a rounding residue, makes it fall.
    modifier surplusKept() {
        int256 before = _surplus();
        vm.recordLogs();
        _;
        Vm.Log[] memory logs = vm.getRecordedLogs();
        int256 allowed;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(engine)) continue;
            bytes32 topic = logs[i].topics[0];
            if (topic == IVaultEngine.Heal.selector) {
                allowed += int256(abi.decode(logs[i].data, (uint256)));
            } else if (topic == IVaultEngine.SurplusWithdrawn.selector) {
                allowed += int256(abi.decode(logs[i].data, (uint256)) * RAY);
            } else if (topic == IVaultEngine.BadDebtWrittenOff.selector) {
                (, uint256 covered) = abi.decode(logs[i].data, (uint256, uint256));
                allowed += int256(covered);
            }
        }
        int256 afterwards = _surplus();
        if (afterwards < 0 || afterwards < before - allowed) ++brokenSurplus;
    }

    function _surplus() internal view returns (int256) {
        return int256(engine.totalNormalizedDebt() * engine.currentRate() + engine.badDebtRad())
            - int256(pusd.totalSupply() * RAY);
    }

    function vaultCount() external view returns (uint256) {
        return vaults.length;
    }

    // ================================================================== vault operations

    /// @notice An owner opens a vault with one collateral and borrows `leverage` % of its borrow power.
    function open(uint256 ownerSeed, uint256 tokenSeed, uint256 amountSeed, uint256 leverage) external surplusKept {
        if (vaults.length >= MAX_VAULTS) return;
        address who = owners[ownerSeed % 3];
        address token = movable[tokenSeed % 3];
        uint256 amount = _amount(token, amountSeed);
        vm.prank(who);
        try engine.open(token, amount) returns (uint256 id) {
            vaults.push(id);
            ++calls["open"];
            _borrow(id, who, _bound(leverage, 10, 100));
        } catch {}
    }

    function deposit(uint256 vaultSeed, uint256 tokenSeed, uint256 amountSeed) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        address token = movable[tokenSeed % 3];
        uint256 amount = _amount(token, amountSeed);
        vm.prank(owner);
        try engine.deposit(id, token, amount) {
            ++calls["deposit"];
        } catch {}
    }

    /// @notice A share of one collateral, or (one call in eight) the maximum: type(uint256).max.
    function withdraw(uint256 vaultSeed, uint256 tokenSeed, uint256 share) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        address token = movable[tokenSeed % 3];
        bool max = share % 8 == 0;
        uint256 amount = max ? type(uint256).max : engine.collateralBalance(id, token) * _bound(share, 1, 100) / 100;
        if (amount == 0) return;
        vm.prank(owner);
        try engine.withdraw(id, token, amount, owner) {
            ++calls[max ? bytes32("withdraw max") : bytes32("withdraw")];
            _checkMargin(id);
            if (max) _checkNothingMoreMayLeave(id, token, owner);
        } catch {
            ++calls["withdraw refused"];
        }
    }

    /// @dev After a withdrawal of the maximum, one more wei of the token must be refused (state restored after; the
    ///      ghost counts after the restore, which would undo it too).
    function _checkNothingMoreMayLeave(uint256 id, address token, address owner) internal {
        if (engine.collateralBalance(id, token) == 0) return;
        uint256 snapshot = vm.snapshot();
        bool more;
        vm.prank(owner);
        try engine.withdraw(id, token, 1, owner) {
            more = true;
        } catch {}
        vm.revertTo(snapshot);
        if (more) ++brokenMaxWithdraw;
    }

    function borrow(uint256 vaultSeed, uint256 share) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        _borrow(id, owner, _bound(share, 1, 110));
    }

    function repay(uint256 vaultSeed, uint256 share, bool byLiquidator) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        address payer = byLiquidator ? liquidator : owner;
        uint256 amount = engine.debt(id) * _bound(share, 1, 120) / 100;
        amount = amount > pusd.balanceOf(payer) ? pusd.balanceOf(payer) : amount;
        if (amount == 0) return;
        vm.prank(payer);
        try engine.repay(id, amount) {
            ++calls["repay"];
        } catch {}
    }

    /// @notice Anyone who can afford it repays a vault in full: must always work (invariant 9).
    function repayAll(uint256 vaultSeed) external surplusKept {
        (uint256 id,) = _vault(vaultSeed);
        if (id == 0 || engine.normalizedDebt(id) == 0 || engine.debt(id) > pusd.balanceOf(liquidator)) return;
        vm.prank(liquidator);
        try engine.repay(id, type(uint256).max) {
            ++calls["repay all"];
            if (engine.normalizedDebt(id) != 0) ++brokenLiveness;
        } catch {
            ++brokenLiveness;
        }
    }

    function transferVault(uint256 vaultSeed, uint256 toSeed, bool approveOnly) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        address to = toSeed % 4 == 3 ? liquidator : owners[toSeed % 3];
        vm.prank(owner);
        if (approveOnly) nft.approve(to, id);
        else nft.transferFrom(owner, to, id);
        ++calls["transfer or approve"];
    }

    /// @notice A stranger tries to borrow against, withdraw from and deposit into someone's vault (invariant 6).
    function stranger(uint256 vaultSeed, uint256 tokenSeed) external surplusKept {
        (uint256 id,) = _vault(vaultSeed);
        if (id == 0 || nft.isAuthorized(id, STRANGER)) return;
        address token = movable[tokenSeed % 3];
        uint256 art = engine.normalizedDebt(id);
        uint256 balance = engine.collateralBalance(id, token);
        vm.startPrank(STRANGER);
        try engine.borrow(id, 100 * WAD, STRANGER) {
            ++brokenAuthorization;
        } catch {}
        if (balance != 0) {
            try engine.withdraw(id, token, 1, STRANGER) {
                ++brokenAuthorization;
            } catch {}
        }
        vm.stopPrank();
        if (engine.normalizedDebt(id) != art || engine.collateralBalance(id, token) != balance) ++brokenAuthorization;
        ++calls["stranger"];
    }

    // ================================================================== liquidation

    function liquidate(uint256 vaultSeed) external surplusKept {
        (uint256 id,) = _vault(vaultSeed);
        if (id == 0) return;
        _liquidateChecked(id);
        _checkCallFlag(id);
    }

    /// @notice The unhealthiest vault, the one a keeper would pick first.
    function liquidateWorst() external surplusKept {
        uint256 worst;
        uint256 worstHealth = type(uint256).max;
        for (uint256 i; i < vaults.length; ++i) {
            try engine.healthFactor(vaults[i]) returns (uint256 h) {
                if (h < worstHealth) (worst, worstHealth) = (vaults[i], h);
            } catch {
                ++brokenLiquidation;
            }
        }
        if (worst != 0) {
            _liquidateChecked(worst);
            _checkCallFlag(worst);
        }
    }

    /// @notice Up to five distinct vaults in one batch (ascending), with a pUSD budget that may run out part way.
    function liquidateBatch(uint256 startSeed, uint256 count, uint256 budgetSeed) external surplusKept {
        uint256 n = vaults.length;
        if (n == 0) return;
        count = _bound(count, 1, n < 5 ? n : 5);
        uint256[] memory ids = new uint256[](count);
        uint256 start = startSeed % n;
        for (uint256 i; i < count; ++i) {
            ids[i] = vaults[(start + i) % n];
        }
        // liquidateBatch takes strictly ascending ids (distinct here: count <= n): insertion sort.
        for (uint256 i = 1; i < count; ++i) {
            for (uint256 j = i; j > 0 && ids[j - 1] > ids[j]; --j) {
                (ids[j - 1], ids[j]) = (ids[j], ids[j - 1]);
            }
        }
        // A second liquidator with a random budget, taken from the main one.
        address keeper = address(0xBA7C4);
        uint256 budget = _bound(budgetSeed, 0, 2_000_000 * WAD);
        if (budget > pusd.balanceOf(liquidator)) return;
        vm.prank(liquidator);
        pusd.transfer(keeper, budget);
        // What the batch must do: what the same liquidations one by one would do (each sees the volume caps
        // the previous ones used), in a snapshot that is thrown away.
        uint256 expected;
        uint256 snapshot = vm.snapshot();
        for (uint256 i; i < count; ++i) {
            vm.prank(keeper);
            try liquidation.liquidate(ids[i]) {
                ++expected;
            } catch {}
        }
        vm.revertTo(snapshot);
        vm.prank(keeper);
        try liquidation.liquidateBatch(ids) returns (uint256 liquidated, uint256) {
            if (liquidated != expected) ++brokenLiquidation;
            calls["batch liquidations"] += liquidated;
        } catch {
            ++brokenLiquidation;
        }
        for (uint256 i; i < count; ++i) {
            _checkCallFlag(ids[i]);
        }
        uint256 rest = pusd.balanceOf(keeper); // read before the prank: an argument's call would consume it
        vm.prank(keeper);
        pusd.transfer(liquidator, rest);
    }

    function claim() external surplusKept {
        uint256 amount = engine.claimable(address(adv), liquidator);
        if (amount == 0 || adv.paused() || adv.blocked(liquidator)) return;
        vm.prank(liquidator);
        engine.claim(address(adv), liquidator);
        ++calls["claim"];
    }

    // ================================================================== market and time

    /// @notice Move a token's price by `pct` % (−30 … +15) on all its feeds.
    function movePrice(uint256 tokenSeed, int256 pct) external surplusKept {
        uint256 t = tokenSeed % 3;
        pct = _bound(pct, -30, 15);
        int256 p = price8[t] * (100 + pct) / 100;
        if (p < 1e6) p = 1e6; // stay above every adapter's minimum price
        price8[t] = p;
        _refresh(t);
        ++calls["price"];
    }

    /// @notice Make one feed of a token fail: stale, reverting, or (WBTC) spiking alone; or restore them all.
    function failFeed(uint256 tokenSeed, uint256 kind) external surplusKept {
        uint256 t = tokenSeed % 3;
        MockAggregator[] storage f = feedsOf[t];
        kind = kind % 4;
        vm.startPrank(admin);
        if (kind == 0) {
            f[0].setRoundData(price8[t], block.timestamp > 10_000 ? block.timestamp - 10_000 : 0);
        } else if (kind == 1) {
            f[f.length - 1].setBroken(true);
        } else if (kind == 2) {
            f[0].updateAnswer(price8[t] * 13 / 10);
        } else {
            for (uint256 i; i < f.length; ++i) {
                f[i].setBroken(false);
            }
            vm.stopPrank();
            _refresh(t);
            return;
        }
        vm.stopPrank();
        ++calls["feed failure"];
    }

    /// @notice The L2 sequencer goes down, or comes back up now (its grace period starts).
    function sequencerStatus(bool down) external surplusKept {
        vm.prank(admin);
        sequencer.setRoundData(down ? int256(1) : int256(0), block.timestamp);
        ++calls["sequencer"];
    }

    /// @notice The adversarial token pauses, blocks the liquidator, or charges a fee (up to 5 %).
    function tokenMisbehaves(uint256 kind, uint256 feeBps) external surplusKept {
        kind = kind % 4;
        if (kind == 0) adv.setPaused(!adv.paused());
        else if (kind == 1) adv.setBlocked(liquidator, !adv.blocked(liquidator));
        else if (kind == 2) adv.setFeeBps(_bound(feeBps, 0, 500));
        else {
            adv.setPaused(false);
            adv.setBlocked(liquidator, false);
        }
        ++calls["token"];
    }

    /// @notice Time passes (up to 10 days); the feeds that work report again, as their heartbeat would.
    function warp(uint256 seconds_) external surplusKept {
        vm.warp(block.timestamp + _bound(seconds_, 1, 10 days));
        _afterWarp();
    }

    /// @notice Decades pass, once a run and late in it (when every vault is open): up to two centuries, so that
    ///         at a high fee the rate accumulator reaches its cap, where it must saturate, not brick. Earlier in a
    ///         run it would leave the rest of the run unable to borrow under the ceiling.
    function warpFar(uint256 years_) external surplusKept {
        if (farWarps >= 1 || vaults.length < MAX_VAULTS) return;
        ++farWarps;
        vm.warp(block.timestamp + _bound(years_, 1, 200) * 365 days);
        _afterWarp();
        ++calls["far warp"];
        if (engine.rate() == engine.MAX_RATE()) ++calls["rate saturated"];
    }

    function drip() external surplusKept {
        try engine.drip() {
            ++calls["drip"];
        } catch {
            ++brokenLiveness;
        }
    }

    function heal() external surplusKept {
        engine.heal();
        ++calls["heal"];
    }

    /// @notice The guardian pauses or resumes, globally or one type. Liquidations must go on regardless.
    function pause(uint256 seed) external surplusKept {
        address[] memory tokens = engine.collateralTokens();
        address token = seed % 5 == 4 ? address(0) : tokens[seed % 4];
        vm.prank(admin);
        engine.setPaused(token, (seed >> 8) % 3 == 0); // paused a third of the time
        ++calls["pause"];
    }

    /// @notice The liquidator burns part of its pUSD against recorded bad debt.
    function burnBadDebt(uint256 amount) external surplusKept {
        if (engine.badDebtRad() == 0) return;
        amount = _bound(amount, 1, pusd.balanceOf(liquidator) / 10 + 1);
        vm.prank(liquidator);
        try engine.burnBadDebt(amount) {
            ++calls["burn bad debt"];
        } catch {}
    }

    /// @notice Governance withdraws part of the surplus above the buffer, to the liquidator.
    function withdrawSurplus(uint256 share) external surplusKept {
        uint256 amount = engine.withdrawableSurplus() * _bound(share, 1, 100) / 100;
        if (amount == 0) return;
        vm.prank(admin);
        engine.withdrawSurplus(liquidator, amount);
        ++calls["surplus withdrawal"];
    }

    /// @notice Anyone calls a random vault; it must succeed on a callable vault (below maintenance, above the floor,
    ///         every collateral offering calls, not already called).
    function marginCall(uint256 vaultSeed) external surplusKept {
        // Start at a random vault and take the first one below maintenance, as a keeper would.
        uint256 id;
        for (uint256 i; i < vaults.length && id == 0; ++i) {
            uint256 candidate = vaults[(vaultSeed + i) % vaults.length];
            try engine.healthFactor(candidate) returns (uint256 h) {
                if (h < WAD && !engine.inMarginCall(candidate)) id = candidate;
            } catch {}
        }
        if (id == 0) return;
        try liquidation.marginCall(id) {
            ++calls["margin call"];
            if (!engine.inMarginCall(id)) ++brokenLiquidation;
        } catch {}
        _checkCallFlag(id);
    }

    /// @notice Anyone calls three vaults from a random start in one batch, the first listed again at the end: the count
    ///         it returns must be the vaults newly in a call, and every call flag must agree with its call.
    function marginCallBatch(uint256 vaultSeed) external surplusKept {
        if (vaults.length < 3) return; // three distinct vaults, then the first again
        uint256[] memory ids = new uint256[](4);
        bool[] memory before = new bool[](3);
        for (uint256 i; i < 3; ++i) {
            ids[i] = vaults[(vaultSeed + i) % vaults.length];
            before[i] = engine.inMarginCall(ids[i]);
        }
        ids[3] = ids[0];
        try liquidation.marginCallBatch(ids) returns (uint256 called) {
            ++calls["margin call batch"];
            uint256 opened;
            for (uint256 i; i < 3; ++i) {
                if (!before[i] && engine.inMarginCall(ids[i])) ++opened;
                _checkCallFlag(ids[i]);
            }
            if (opened != called) ++brokenLiquidation;
        } catch {}
    }

    /// @notice The owner repays what restores the initial margin, then cures.
    function cure(uint256 vaultSeed) external surplusKept {
        uint256 id = _calledVault(vaultSeed);
        if (id == 0) return;
        address owner = nft.ownerOf(id);
        IVaultEngine.Valuation memory v = engine.valuation(id);
        uint256 need = v.debt + liquidation.pendingPremium(id);
        if (need > v.borrowPower) {
            uint256 pay = need - v.borrowPower + need / 100;
            if (pay > pusd.balanceOf(liquidator)) return;
            vm.prank(liquidator);
            pusd.transfer(owner, pay);
            vm.prank(owner);
            try engine.repay(id, pay) {} catch {}
        }
        try liquidation.cure(id) {
            ++calls["cure"];
            if (engine.inMarginCall(id)) ++brokenLiquidation;
        } catch {}
        _checkCallFlag(id);
    }

    /// @notice A called vault's grace window runs out (time jumps to its deadline), then the liquidator tries it:
    ///         invariants 8 and 10 around the liquidation that ends the call.
    function liquidateAfterGrace(uint256 vaultSeed) external surplusKept {
        uint256 id = _calledVault(vaultSeed);
        if (id == 0) return;
        uint256 deadline = liquidation.marginCallOf(id).deadline;
        if (block.timestamp < deadline) {
            vm.warp(deadline);
            _afterWarp();
        }
        _liquidateChecked(id);
        if (!engine.inMarginCall(id)) ++calls["liquidation after grace"];
        _checkCallFlag(id);
    }

    /// @dev The first vault in a margin call, searching from `vaultSeed`; 0 when none is.
    function _calledVault(uint256 vaultSeed) internal view returns (uint256) {
        for (uint256 i; i < vaults.length; ++i) {
            uint256 candidate = vaults[(vaultSeed + i) % vaults.length];
            if (engine.inMarginCall(candidate)) return candidate;
        }
        return 0;
    }

    /// @dev Invariant 10, after every operation that may start or end a margin call (call, cure, liquidations).
    function _checkCallFlag(uint256 id) internal {
        if (engine.inMarginCall(id) != (liquidation.marginCallOf(id).deadline != 0)) ++brokenCallFlag;
    }

    function setMarginCallTerms(uint256 tokenSeed, uint256 graceSeed, uint256 floorSeed, uint256 premiumSeed) external surplusKept {
        uint256 grace = graceSeed % 4 == 0 ? 0 : _bound(graceSeed, 1, 3 days);
        uint256 floor_ = grace == 0 ? 0 : _bound(floorSeed, 0.9e18, 0.99e18);
        uint256 premium = grace == 0 ? 0 : _bound(premiumSeed, RAY, liquidation.MAX_PREMIUM());
        vm.prank(admin); // after computing the arguments: a call among them would consume the prank
        liquidation.setMarginCallTerms(movable[tokenSeed % 3], grace, floor_, premium);
        ++calls["margin call terms"];
    }

    /// @notice The owner switches a vault's margin mode; with debt, the switch must leave it at its initial margin.
    function setMarginMode(uint256 vaultSeed, bool portfolio) external surplusKept {
        (uint256 id, address owner) = _vault(vaultSeed);
        if (id == 0) return;
        vm.prank(owner);
        try engine.setPortfolioMargin(id, portfolio) {
            ++calls[portfolio ? bytes32("to portfolio margin") : bytes32("to standard margin")];
            if (engine.normalizedDebt(id) != 0) _checkMargin(id);
        } catch {}
    }

    // ================================================================== governance within bounds

    function setRiskParameters(uint256 tokenSeed, uint256 ltvSeed, uint256 gapSeed, uint256 bonusSeed) external surplusKept {
        uint256 ltv = _bound(ltvSeed, 0.30e18, 0.85e18);
        uint256 lt = ltv + _bound(gapSeed, 0.01e18, 0.10e18);
        uint256 bonus = _bound(bonusSeed, 1.01e18, 1.15e18);
        vm.prank(admin);
        try engine.setRiskParameters(movable[tokenSeed % 3], ltv, lt, bonus) {
            ++calls["risk parameters"];
        } catch {}
    }

    function setLiquidationParameters(uint256 targetSeed, uint256 fullSeed, uint256 shareSeed) external surplusKept {
        vm.prank(admin);
        liquidation.setLiquidationParameters(
            _bound(targetSeed, 1.01e18, 1.5e18), _bound(fullSeed, 0.5e18, 1e18), _bound(shareSeed, 0, 0.5e18)
        );
        ++calls["liquidation parameters"];
    }

    /// @notice Random grids of 1 to 4 scenarios over the four listed types, within the engine's rules: each type's
    ///         worst maintenance shock at least its haircut, the initial grid a fixed margin harsher.
    function setScenarioGrids(uint256 seed) external surplusKept {
        address[] memory tokens = engine.collateralTokens();
        uint256 n = seed % 4 + 1;
        int256[][] memory initial = new int256[][](n);
        int256[][] memory maintenance = new int256[][](n);
        for (uint256 s; s < n; ++s) {
            initial[s] = new int256[](tokens.length);
            maintenance[s] = new int256[](tokens.length);
            for (uint256 j; j < tokens.length; ++j) {
                IVaultEngine.CollateralType memory c = engine.collateralType(tokens[j]);
                int256 haircut = -int256((WAD - uint256(c.liquidationThreshold) + 1e14 - 1) / 1e14);
                int256 bps = -int256(_bound(uint256(keccak256(abi.encode(seed, s, j))), 0, 6_000));
                if (s == j % n && bps > haircut) bps = haircut; // this scenario carries the type's worst shock
                int256 gap = int256((uint256(c.liquidationThreshold) - c.ltv + 1e14 - 1) / 1e14);
                maintenance[s][j] = bps * 1e14;
                initial[s][j] = (bps - gap < -10_000 ? -10_000 : bps - gap) * 1e14;
            }
        }
        IPortfolioMargin portfolio = engine.portfolio();
        vm.prank(admin);
        try portfolio.setScenarioGrids(initial, maintenance) {
            ++calls["scenario grids"];
        } catch {}
    }

    function setBonusCurve(uint256 floorSeed, uint256 healthSeed) external surplusKept {
        vm.prank(admin);
        liquidation.setBonusCurve(_bound(floorSeed, 1.01e18, 2e18), _bound(healthSeed, 0, 0.99e18));
        ++calls["bonus curve"];
    }

    /// @notice No cap, or a cap from the minimum to ten million dollars per window.
    function setLiquidationCap(uint256 tokenSeed, uint256 capSeed) external surplusKept {
        uint256 cap = capSeed % 3 == 0 ? 0 : _bound(capSeed, 100_000e18, 10_000_000e18);
        vm.prank(admin);
        liquidation.setLiquidationCap(movable[tokenSeed % 3], cap);
        ++calls["liquidation cap"];
    }

    function setStabilityFee(uint256 feeSeed) external surplusKept {
        uint256 fee = _bound(feeSeed, RAY, engine.MAX_STABILITY_FEE());
        vm.prank(admin);
        engine.setStabilityFee(fee);
        ++calls["stability fee"];
    }

    function setDust(uint256 dustSeed) external surplusKept {
        vm.prank(admin);
        engine.setDust(_bound(dustSeed, 0, 10_000 * WAD));
        ++calls["dust"];
    }

    /// @notice Anywhere from a million pUSD (below what is borrowed: new borrows stop) to the maximum.
    function setDebtCeiling(uint256 ceilingSeed) external surplusKept {
        uint256 ceiling = _bound(ceilingSeed, 1e6 * WAD, engine.MAX_DEBT_CEILING());
        vm.prank(admin);
        engine.setDebtCeiling(ceiling);
        ++calls["debt ceiling"];
    }

    // ================================================================== internals

    function _vault(uint256 seed) internal view returns (uint256 id, address owner) {
        if (vaults.length == 0) return (0, address(0));
        id = vaults[seed % vaults.length];
        owner = nft.ownerOf(id);
    }

    /// @dev $100 to $2,000,000 worth of `token` at its current price.
    function _amount(address token, uint256 seed) internal view returns (uint256) {
        uint256 t = token == movable[0] ? 0 : token == movable[1] ? 1 : 2;
        uint256 usd = _bound(seed, 100, 2_000_000);
        uint256 unit = 10 ** MockERC20(token).decimals();
        return usd * unit * 1e8 / uint256(price8[t]) + 1;
    }

    function _borrow(uint256 id, address owner, uint256 pct) internal {
        IVaultEngine.Valuation memory v = engine.valuation(id);
        if (v.borrowPower <= v.debt) return;
        uint256 amount = (v.borrowPower - v.debt) * pct / 100;
        if (amount == 0) return;
        bool called = engine.inMarginCall(id);
        vm.prank(owner);
        try engine.borrow(id, amount, owner) {
            ++calls["borrow"];
            if (called) ++brokenMargin; // a vault in a margin call may not borrow
            _checkMargin(id);
            uint256 total = engine.totalNormalizedDebt() * engine.currentRate();
            if (total > engine.debtCeiling() * RAY) ++brokenCeiling;
        } catch (bytes memory err) {
            ++calls["borrow refused"];
            ++refusals[bytes4(err)];
        }
    }

    function _checkMargin(uint256 id) internal {
        IVaultEngine.Valuation memory v = engine.valuation(id);
        if (v.debt > v.borrowPower) ++brokenMargin;
    }

    struct Before {
        IVaultEngine.Valuation v;
        uint256 badDebt;
        uint256 surplus;
        uint256[3] held;
        uint256[3] got;
    }

    /// @dev Liquidate `id` as the liquidator and check invariants 5, 7 and 8 around it.
    function _liquidateChecked(uint256 id) internal {
        Before memory b;
        try engine.valuation(id) returns (IVaultEngine.Valuation memory v) {
            b.v = v;
            b.v.debt += liquidation.pendingPremium(id); // what liquidate() books before it plans
        } catch {
            ++brokenLiquidation; // a valuation never reverts, whatever the oracles do
            return;
        }
        b.badDebt = engine.badDebtRad();
        b.surplus = engine.surplusRad();
        for (uint256 i; i < 3; ++i) {
            b.held[i] = engine.collateralBalance(id, movable[i]);
            b.got[i] = MockERC20(movable[i]).balanceOf(liquidator) + engine.claimable(movable[i], liquidator);
        }
        bool liquidatable = b.v.debt != 0 && b.v.maintenance < b.v.debt && b.v.collateralValue != 0;
        uint256 cost;
        if (liquidatable) {
            try liquidation.previewLiquidation(id) returns (ILiquidationEngine.Plan memory p) {
                cost = p.repay + p.protocolFee;
            } catch (bytes memory err) {
                // Only a partial liquidation may wait for a volume cap to refill, and a called vault in its window.
                if (!_capWait(err, b.v) && !_graceWait(err, id)) ++brokenLiquidation;
                return;
            }
        }
        vm.prank(liquidator);
        try liquidation.liquidate(id) returns (ILiquidationEngine.Plan memory plan) {
            ++calls[plan.full ? bytes32("liquidation full") : bytes32("liquidation partial")];
            _checkAfter(id, b, plan.full);
        } catch {
            // Invariant 8: refusing is only allowed when the vault is not liquidatable or the caller cannot pay.
            if (liquidatable && cost <= pusd.balanceOf(liquidator)) ++brokenLiquidation;
        }
    }

    /// @dev The refusal is MarginCallGracePeriod for a vault inside its window and at or above its hard floor, or
    ///      MarginCallRequired for a vault that can then be called.
    function _graceWait(bytes memory err, uint256 id) internal returns (bool) {
        if (bytes4(err) == ILiquidationEngine.MarginCallRequired.selector) {
            // Due a call: the call must then succeed (it is made here, as a keeper would).
            try liquidation.marginCall(id) returns (uint256) {
                return true;
            } catch {
                return false;
            }
        }
        if (bytes4(err) != ILiquidationEngine.MarginCallGracePeriod.selector) return false;
        ILiquidationEngine.MarginCallState memory call = liquidation.marginCallOf(id);
        IVaultEngine.Valuation memory v = engine.valuation(id);
        uint256 debt = v.debt + liquidation.pendingPremium(id);
        return block.timestamp < call.deadline && v.maintenance * WAD / debt >= call.hardFloor;
    }

    /// @dev The refusal is LiquidationCapReached for a vault at or above fullLiquidationHealth (a partial plan).
    function _capWait(bytes memory err, IVaultEngine.Valuation memory v) internal view returns (bool) {
        return bytes4(err) == ILiquidationEngine.LiquidationCapReached.selector
            && v.maintenance * WAD / v.debt >= liquidation.fullLiquidationHealth();
    }

    function _checkAfter(uint256 id, Before memory b, bool full) internal {
        for (uint256 i; i < 3; ++i) {
            uint256 got = MockERC20(movable[i]).balanceOf(liquidator) + engine.claimable(movable[i], liquidator);
            // A fee-on-transfer token delivers less, never more, than was seized.
            if (got - b.got[i] > b.held[i]) ++brokenLiquidationHealth;
        }
        IVaultEngine.Valuation memory a = engine.valuation(id);
        if (!full && a.maintenance * b.v.debt < b.v.maintenance * a.debt) ++brokenLiquidationHealth;
        // Invariant 7: no bad debt, and no write-off against the surplus, while the collateral covered the debt.
        if (b.v.collateralValue >= b.v.debt && (engine.badDebtRad() != b.badDebt || engine.surplusRad() < b.surplus)) {
            ++brokenSolventBadDebt;
        }
    }

    /// @dev After time passes: the working feeds report again, and drip must still work (invariant 9).
    function _afterWarp() internal {
        for (uint256 t; t < 3; ++t) {
            _refresh(t);
        }
        try engine.drip() {} catch {
            ++brokenLiveness;
        }
        ++calls["warp"];
    }

    /// @dev Every working feed of token `t` reports its current price now.
    function _refresh(uint256 t) internal {
        MockAggregator[] storage f = feedsOf[t];
        vm.startPrank(admin);
        for (uint256 i; i < f.length; ++i) {
            if (!f[i].broken()) f[i].updateAnswer(price8[t]);
        }
        vm.stopPrank();
    }
}
