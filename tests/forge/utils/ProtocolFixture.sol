// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Test} from "forge-std/Test.sol";
import {AggregatorV3Interface} from "@chainlink/contracts/src/v0.8/shared/interfaces/AggregatorV3Interface.sol";

import {VaultEngine} from "contracts/VaultEngine.sol";
import {PortfolioMargin} from "contracts/PortfolioMargin.sol";
import {LiquidationEngine} from "contracts/LiquidationEngine.sol";
import {OracleAdapter} from "contracts/OracleAdapter.sol";
import {PUSD} from "contracts/PUSD.sol";
import {VaultLens} from "contracts/periphery/VaultLens.sol";
import {VaultRenderer} from "contracts/periphery/VaultRenderer.sol";
import {VaultNFT} from "contracts/VaultNFT.sol";
import {MockERC20} from "contracts/mocks/MockERC20.sol";
import {MockAdversarialERC20} from "contracts/mocks/MockAdversarialERC20.sol";
import {MockAggregator} from "contracts/mocks/MockAggregator.sol";
import {IOracleAdapter} from "@plimsoll/interfaces/IOracleAdapter.sol";
import {IPriceOracle} from "@plimsoll/interfaces/IPriceOracle.sol";
import {ILiquidationEngine} from "@plimsoll/interfaces/ILiquidationEngine.sol";

/// @notice The whole protocol, deployed the way scripts/deploy.py does, with every oracle shape and an adversarial
///         token, for the forge unit and invariant suites. The test contract is the owner of everything and the
///         operator of every mock feed.
/// @dev Collaterals (pairwise bonus x threshold < 1 holds for every pair):
///      WETH  18 dec, $2,000, LTV 0.80 / LT 0.85 / LB 1.05, fallback oracle over two feeds, 50 % breaker;
///      WBTC   8 dec, $40,000, 0.75 / 0.80 / 1.08, median of three feeds, 2 % spread;
///      ADV    6 dec, $1, 0.70 / 0.78 / 1.10, fee-on-transfer/pausable/blocklisting token, one feed with aggregator
///             clamp bounds, behind an L2 sequencer feed with a 1 h grace period;
///      STABLE 18 dec, $1, 0.85 / 0.90 / 1.04, never moves: it backs the liquidator's pUSD inventory.
abstract contract ProtocolFixture is Test {
    uint256 internal constant WAD = 1e18;
    uint256 internal constant RAY = 1e27;
    uint256 internal constant MAX_AGE = 4_500;

    bytes32 internal constant RISK_ADMIN = keccak256("RISK_ADMIN_ROLE");
    VaultEngine internal engine;
    PortfolioMargin internal portfolio;
    LiquidationEngine internal liquidation;
    PUSD internal pusd;
    VaultLens internal lens;
    VaultNFT internal nft;

    MockERC20 internal weth;
    MockERC20 internal wbtc;
    MockAdversarialERC20 internal adv;
    MockERC20 internal stable;

    MockAggregator[2] internal wethFeeds;
    MockAggregator[3] internal wbtcFeeds;
    MockAggregator internal advFeed;
    MockAggregator internal stableFeed;
    MockAggregator internal sequencer;
    OracleAdapter internal wethOracle;
    OracleAdapter internal wbtcOracle;
    OracleAdapter internal advOracle;
    OracleAdapter internal stableOracle;

    function _deployProtocol() internal {
        vm.warp(1_700_000_000);
        engine = new VaultEngine(address(this), new VaultRenderer());
        pusd = PUSD(address(engine.pusd()));
        nft = VaultNFT(address(engine.vaultNFT()));
        portfolio = PortfolioMargin(address(engine.portfolio()));
        liquidation = new LiquidationEngine(
            engine,
            ILiquidationEngine.InitialParameters({
                targetHealth: 1.10e18,
                fullLiquidationHealth: 0.95e18,
                protocolShare: 0.10e18,
                bonusFloor: 2e18, // no growing bonus unless a test sets the curve
                maxBonusHealth: 0,
                capWindow: 1 hours
            })
        );
        lens = new VaultLens(engine);
        engine.setLiquidationEngine(address(liquidation));
        engine.setDebtCeiling(engine.MAX_DEBT_CEILING());
        engine.setDust(100 * WAD);
        engine.setStabilityFee(1_000_000_000_627_937_192_491_029_810); // 2 % a year

        weth = new MockERC20("Wrapped Ether", "WETH", 18);
        wbtc = new MockERC20("Wrapped Bitcoin", "WBTC", 8);
        adv = new MockAdversarialERC20("Adversarial", "ADV", 6);
        stable = new MockERC20("Stable", "STBL", 18);

        wethFeeds[0] = new MockAggregator(8, "ETH / USD", 2_000e8);
        wethFeeds[1] = new MockAggregator(8, "ETH / USD fallback", 2_000e8);
        for (uint256 i; i < 3; ++i) {
            wbtcFeeds[i] = new MockAggregator(8, "BTC / USD", 40_000e8);
        }
        advFeed = new MockAggregator(8, "ADV / USD", 1e8);
        advFeed.setAggregatorBounds(0.01e8, 1_000e8);
        advFeed.updateAnswer(1e8);
        stableFeed = new MockAggregator(8, "STBL / USD", 1e8);
        sequencer = new MockAggregator(0, "L2 sequencer uptime", 0);
        sequencer.setRoundData(0, block.timestamp - 2 hours);

        wethOracle = _adapter(_feeds2(wethFeeds[0], wethFeeds[1]), IOracleAdapter.Mode.Fallback, 0.5e18, 0, address(0), 0);
        wbtcOracle = _adapter(_feeds3(), IOracleAdapter.Mode.Median, 0, 0.02e18, address(0), 0);
        advOracle = _adapter(_feeds1(advFeed), IOracleAdapter.Mode.Fallback, 0, 0, address(sequencer), 1 hours);
        stableOracle = _adapter(_feeds1(stableFeed), IOracleAdapter.Mode.Fallback, 0, 0, address(0), 0);

        engine.addCollateral(address(weth), wethOracle, 0.80e18, 0.85e18, 1.05e18, 1e30);
        engine.addCollateral(address(wbtc), wbtcOracle, 0.75e18, 0.80e18, 1.08e18, 1e30);
        engine.addCollateral(address(adv), advOracle, 0.70e18, 0.78e18, 1.10e18, 1e30);
        engine.addCollateral(address(stable), stableOracle, 0.85e18, 0.90e18, 1.04e18, 1e30);
    }

    /// @dev Give `who` plenty of every collateral and approve the engine for all of it.
    function _fund(address who) internal {
        weth.mint(who, 1e9 * WAD);
        wbtc.mint(who, 1e9 * 1e8);
        adv.mint(who, 1e15 * 1e6);
        stable.mint(who, 1e13 * WAD);
        vm.startPrank(who);
        weth.approve(address(engine), type(uint256).max);
        wbtc.approve(address(engine), type(uint256).max);
        adv.approve(address(engine), type(uint256).max);
        stable.approve(address(engine), type(uint256).max);
        vm.stopPrank();
    }

    function _adapter(
        IOracleAdapter.FeedConfig[] memory feeds,
        IOracleAdapter.Mode mode,
        uint256 maxDeviation,
        uint256 maxSpread,
        address seq,
        uint256 grace
    ) internal returns (OracleAdapter) {
        return new OracleAdapter(
            feeds, mode, 0.0001e18, 1e30, maxDeviation, maxSpread, AggregatorV3Interface(seq), grace
        );
    }

    function _feeds1(MockAggregator a) internal pure returns (IOracleAdapter.FeedConfig[] memory f) {
        f = new IOracleAdapter.FeedConfig[](1);
        f[0] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(a)), MAX_AGE);
    }

    function _feeds2(MockAggregator a, MockAggregator b) internal pure returns (IOracleAdapter.FeedConfig[] memory f) {
        f = new IOracleAdapter.FeedConfig[](2);
        f[0] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(a)), MAX_AGE);
        f[1] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(b)), MAX_AGE);
    }

    function _feeds3() internal view returns (IOracleAdapter.FeedConfig[] memory f) {
        f = new IOracleAdapter.FeedConfig[](3);
        for (uint256 i; i < 3; ++i) {
            f[i] = IOracleAdapter.FeedConfig(AggregatorV3Interface(address(wbtcFeeds[i])), MAX_AGE);
        }
    }

    /// @dev Open a vault for `who` with `amount` of `token`, and borrow `borrowAmount` pUSD against it.
    function _openVault(address who, address token, uint256 amount, uint256 borrowAmount) internal returns (uint256 id) {
        vm.startPrank(who);
        id = engine.open(token, amount);
        if (borrowAmount != 0) engine.borrow(id, borrowAmount, who);
        vm.stopPrank();
    }

    /// @dev A new round for both WETH feeds at `usd8` (8 decimals).
    function _setWethPrice(int256 usd8) internal {
        wethFeeds[0].updateAnswer(usd8);
        wethFeeds[1].updateAnswer(usd8);
    }

    /// @dev Scenario grids over the four listed types (WETH, WBTC, ADV, STBL). Two scenarios per grid: "ETH falls most" and "BTC falls most". Each type's worst shock equals its
    ///      haircut, so a one-collateral vault gets exactly standard margin.
    function _grids() internal pure returns (int256[][] memory initial, int256[][] memory maintenance) {
        initial = new int256[][](2);
        maintenance = new int256[][](2);
        initial[0] = _row(-0.20e18, -0.15e18, -0.30e18, -0.15e18);
        initial[1] = _row(-0.15e18, -0.25e18, -0.30e18, -0.15e18);
        maintenance[0] = _row(-0.15e18, -0.10e18, -0.22e18, -0.10e18);
        maintenance[1] = _row(-0.10e18, -0.20e18, -0.22e18, -0.10e18);
    }

    function _row(int256 a, int256 b, int256 c, int256 d) internal pure returns (int256[] memory r) {
        r = new int256[](4);
        (r[0], r[1], r[2], r[3]) = (a, b, c, d);
    }

    /// @dev The oracle of `token`, as the engine sees it.
    function _oracleOf(address token) internal view returns (IPriceOracle) {
        return engine.collateralType(token).oracle;
    }
}
