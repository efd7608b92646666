// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20FlashMint} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20FlashMint.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {IPUSD} from "@plimsoll/interfaces/IPUSD.sol";

/// @title PUSD — the Plimsoll dollar
/// @notice ERC-20 with EIP-2612 permit and an ERC-3156 flash mint, 18 decimals. Created by the VaultEngine, which
///         alone mints and burns; the engine's risk admins set the flash-mint fee and maximum. No owner, no upgrade.
contract PUSD is ERC20, ERC20Permit, ERC20FlashMint, IPUSD {
    /// @inheritdoc IPUSD
    uint256 public constant MAX_FLASH_FEE = 0.01e18;
    /// @inheritdoc IPUSD
    bytes32 public constant RISK_ADMIN_ROLE = keccak256("RISK_ADMIN_ROLE");
    uint256 internal constant WAD = 1e18;

    /// @inheritdoc IPUSD
    address public immutable engine;
    /// @inheritdoc IPUSD
    uint256 public flashFeeRate; // WAD share of the amount
    /// @inheritdoc IPUSD
    uint256 public maxFlashMint; // WAD pUSD per loan
    /// @dev pUSD flash-minted and not yet burned back, WAD: non-zero only inside a flash loan.
    uint256 internal transient _flashMinted;

    /// @notice Deployed by the VaultEngine's constructor; the deployer becomes the only minter and burner. Flash
    ///         minting starts off (maximum 0) until a risk admin sets its terms.
    constructor() ERC20("Plimsoll USD", "pUSD") ERC20Permit("Plimsoll USD") {
        engine = msg.sender;
    }

    modifier onlyEngine() {
        if (msg.sender != engine) revert OnlyEngine(msg.sender);
        _;
    }

    /// @inheritdoc IPUSD
    function mint(address to, uint256 amount) external onlyEngine {
        _mint(to, amount);
    }

    /// @inheritdoc IPUSD
    /// @dev No allowance: the engine burns only from the caller of repay, or from a liquidator through the
    ///      liquidation engine, each of whom asked for it.
    function burn(address from, uint256 amount) external onlyEngine {
        _burn(from, amount);
    }

    /// @inheritdoc IPUSD
    function setFlashTerms(uint256 feeRate, uint256 maxMint) external {
        if (!IAccessControl(engine).hasRole(RISK_ADMIN_ROLE, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, RISK_ADMIN_ROLE);
        }
        if (feeRate > MAX_FLASH_FEE) revert InvalidFlashTerms(feeRate, maxMint);
        (flashFeeRate, maxFlashMint) = (feeRate, maxMint);
        emit FlashTermsSet(feeRate, maxMint);
    }

    /// @inheritdoc IPUSD
    function backedSupply() external view returns (uint256) {
        return totalSupply() - _flashMinted;
    }

    /// @notice The most pUSD one flash loan may mint now, WAD: maxFlashMint, less what would overflow the supply.
    /// @param token must be this contract (0 for any other token)
    /// @return the maximum loan, WAD
    function maxFlashLoan(address token) public view override(ERC20FlashMint, IERC3156FlashLender) returns (uint256) {
        return Math.min(maxFlashMint, super.maxFlashLoan(token));
    }

    /// @notice Flash-mint `value` pUSD to `receiver`, call its `onFlashLoan`, then burn `value` plus the fee from it
    ///         (it must approve this contract for both). The fee is burned too, which is what adds it to the
    ///         VaultEngine's surplus (docs/math.md, "Surplus").
    /// @dev ERC-3156. Reverts ERC3156UnsupportedToken, ERC3156ExceededMaxLoan, ERC3156InvalidReceiver,
    ///      ERC20InsufficientAllowance, ERC20InsufficientBalance.
    /// @param receiver the borrower
    /// @param token must be this contract
    /// @param value WAD pUSD
    /// @param data passed to the receiver
    /// @return true
    function flashLoan(IERC3156FlashBorrower receiver, address token, uint256 value, bytes calldata data)
        public
        override(ERC20FlashMint, IERC3156FlashLender)
        returns (bool)
    {
        // Counted out of backedSupply while it is out, so the engine's surplus never sees unbacked pUSD.
        _flashMinted += value;
        super.flashLoan(receiver, token, value, data);
        _flashMinted -= value;
        return true;
    }

    /// @dev amount·flashFeeRate, rounded up (in the protocol's favour).
    function _flashFee(address, uint256 value) internal view override returns (uint256) {
        return Math.mulDiv(value, flashFeeRate, WAD, Math.Rounding.Ceil);
    }
}
