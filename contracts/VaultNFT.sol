// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IVaultNFT} from "@plimsoll/interfaces/IVaultNFT.sol";
import {IVaultRenderer} from "@plimsoll/interfaces/IVaultRenderer.sol";

/// @title VaultNFT
/// @notice The vaults as ERC-721 tokens, with OpenZeppelin's enumeration (an owner's vaults by index). Created by the
///         VaultEngine, which mints one token per vault and asks `isAuthorized` before every borrow, withdrawal,
///         deposit and margin-mode switch. Nothing here can touch a liquidation: the engine liquidates without it.
/// @dev One job: ownership. Metadata is the renderer's (`tokenURI`), fixed at creation like every wiring of the
///      protocol.
contract VaultNFT is IVaultNFT, ERC721Enumerable {
    /// @inheritdoc IVaultNFT
    address public immutable engine;
    /// @inheritdoc IVaultNFT
    IVaultRenderer public immutable renderer;

    /// @notice Deployed by the VaultEngine's constructor (the deployer is the engine).
    /// @param renderer_ renders tokenURI
    constructor(IVaultRenderer renderer_) ERC721("Plimsoll Vault", "PLMV") {
        engine = msg.sender;
        renderer = renderer_;
    }

    /// @inheritdoc IVaultNFT
    function mint(address owner, uint256 vaultId) external {
        if (msg.sender != engine) revert OnlyVaultEngine(msg.sender);
        _mint(owner, vaultId);
    }

    /// @inheritdoc IVaultNFT
    function isAuthorized(uint256 vaultId, address account) external view returns (bool) {
        address owner = _ownerOf(vaultId);
        return owner != address(0) && _isAuthorized(owner, account, vaultId);
    }

    /// @notice ERC-721 metadata: on-chain JSON with an SVG of the vault's collateral, debt and health factor, read
    ///         from the engine at call time (IVaultRenderer.tokenURI).
    /// @param vaultId the vault
    /// @dev Reverts ERC721NonexistentToken.
    /// @return uri a data:application/json;base64 URI
    function tokenURI(uint256 vaultId) public view override(ERC721) returns (string memory uri) {
        _requireOwned(vaultId);
        return renderer.tokenURI(IVaultEngine(engine), vaultId);
    }

    /// @notice ERC-165: ERC-721, its metadata and enumeration extensions, and ERC-165 itself.
    /// @param interfaceId the interface id
    /// @return supported whether this contract implements it
    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC721Enumerable, IERC165)
        returns (bool supported)
    {
        return super.supportsInterface(interfaceId);
    }
}
