// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Strings} from "@openzeppelin/contracts/utils/Strings.sol";

import {IVaultEngine} from "@plimsoll/interfaces/IVaultEngine.sol";
import {IVaultRenderer} from "@plimsoll/interfaces/IVaultRenderer.sol";

/// @title VaultRenderer
/// @notice The vault NFT's on-chain metadata (IVaultRenderer): a JSON document with an SVG card of the vault, built
///         from the engine's own views at call time. Stateless; read by VaultNFT.tokenURI, never by the protocol.
/// @dev Token symbols come from the collateral tokens and are reduced to letters, digits, '.', '-' and '_' (at most
///      12) before they enter the JSON or the SVG, so that no token can inject markup.
contract VaultRenderer is IVaultRenderer {
    using Strings for uint256;

    uint256 internal constant WAD = 1e18;
    /// @dev Longest symbol shown.
    uint256 internal constant SYMBOL_CHARS = 12;

    /// @dev What the card shows, as text: debt, health factor, margin mode, its colour, a row per collateral (SVG) and
    ///      an attribute per collateral (JSON).
    struct Card {
        string debt;
        string health;
        string mode;
        string healthColour;
        string rows;
        string attributes;
    }

    /// @inheritdoc IVaultRenderer
    function tokenURI(IVaultEngine engine, uint256 vaultId) external view returns (string memory uri) {
        Card memory card = _card(engine, vaultId);
        return string.concat("data:application/json;base64,", Base64.encode(bytes(_json(vaultId, card))));
    }

    /// @dev The vault's figures, read from the engine's valuation (the health factor as the engine computes it).
    function _card(IVaultEngine engine, uint256 vaultId) internal view returns (Card memory c) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        c.debt = _decimal(v.debt, 18, 2);
        c.health = v.debt == 0 ? "no debt" : _decimal(Math.mulDiv(v.maintenance, WAD, v.debt), 18, 2);
        c.mode = string.concat(
            engine.portfolioMargin(vaultId) ? "portfolio" : "standard",
            v.inMarginCall ? " margin, in a margin call" : " margin"
        );
        c.healthColour = _healthColour(v.debt, v.maintenance);
        (, uint256[] memory amounts) = engine.vaultCollateral(vaultId);
        for (uint256 i; i < v.tokens.length; ++i) {
            string memory symbol = _symbol(v.tokens[i]);
            string memory amount = _decimal(amounts[i], engine.collateralType(v.tokens[i]).decimals, 4);
            string memory value =
                v.unpricedMask & (1 << i) == 0 ? string.concat("$", _decimal(v.values[i], 18, 2)) : "unpriced";
            c.rows = string.concat(
                c.rows,
                _text(150 + 24 * i, 14, "#e8eef7", string.concat(amount, " ", symbol), false),
                _text(150 + 24 * i, 14, "#8fa3bf", value, true)
            );
            c.attributes = string.concat(c.attributes, ',{"trait_type":"', symbol, '","value":"', amount, '"}');
        }
    }

    /// @dev The card as an SVG of 360 x 360 px.
    function _svg(uint256 vaultId, Card memory c) internal pure returns (string memory) {
        return string.concat(
            '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="360" viewBox="0 0 360 360" font-family="monospace">',
            '<rect width="360" height="360" rx="18" fill="#0f1b2d"/>',
            // the Plimsoll mark: a ring crossed by a load line
            '<circle cx="310" cy="48" r="22" fill="none" stroke="#f5c542" stroke-width="4"/>',
            '<line x1="280" y1="48" x2="340" y2="48" stroke="#f5c542" stroke-width="4"/>',
            _text(52, 20, "#ffffff", string.concat("Plimsoll Vault #", vaultId.toString()), false),
            _text(80, 13, "#8fa3bf", c.mode, false),
            _text(120, 13, "#8fa3bf", "COLLATERAL", false),
            c.rows,
            _text(290, 16, "#e8eef7", string.concat("Debt ", c.debt, " pUSD"), false),
            _text(318, 16, c.healthColour, string.concat("Health factor ", c.health), false),
            "</svg>"
        );
    }

    /// @dev The ERC-721 metadata JSON, the SVG inside it as a base64 data URI.
    function _json(uint256 vaultId, Card memory c) internal pure returns (string memory) {
        return string.concat(
            '{"name":"Plimsoll Vault #', vaultId.toString(),
            '","description":"A Plimsoll vault: collateral locked against a pUSD debt. Whoever holds or is approved for',
            ' this token manages the vault: approving it hands over the collateral.","image":"data:image/svg+xml;base64,',
            Base64.encode(bytes(_svg(vaultId, c))),
            '","attributes":[{"trait_type":"Debt (pUSD)","value":"', c.debt,
            '"},{"trait_type":"Health factor","value":"', c.health,
            '"},{"trait_type":"Margin","value":"', c.mode, '"}', c.attributes, "]}"
        );
    }

    /// @dev One SVG text line at height `y` (px): left-aligned at x = 24, or right-aligned at x = 336 (`right`).
    function _text(uint256 y, uint256 size, string memory colour, string memory body, bool right)
        internal
        pure
        returns (string memory)
    {
        return string.concat(
            '<text x="', right ? "336" : "24", '" y="', y.toString(), '" font-size="', size.toString(), '" fill="',
            colour, right ? '" text-anchor="end">' : '">', body, "</text>"
        );
    }

    /// @dev Green at health 1.5 and above (or no debt), amber from 1 to 1.5, red below 1 (liquidatable).
    function _healthColour(uint256 debt, uint256 maintenance) internal pure returns (string memory) {
        if (debt == 0 || maintenance * 2 >= debt * 3) return "#4cd08a";
        return maintenance >= debt ? "#f5c542" : "#ff5c5c";
    }

    /// @dev `amount` (with `decimals` decimals) as a decimal string with exactly `places` digits after the point,
    ///      rounded down.
    function _decimal(uint256 amount, uint256 decimals, uint256 places) internal pure returns (string memory) {
        uint256 unit = 10 ** decimals;
        uint256 fraction = amount % unit;
        fraction = decimals >= places ? fraction / 10 ** (decimals - places) : fraction * 10 ** (places - decimals);
        string memory digits = fraction.toString();
        while (bytes(digits).length < places) digits = string.concat("0", digits);
        return places == 0 ? (amount / unit).toString() : string.concat((amount / unit).toString(), ".", digits);
    }

    /// @dev The token's symbol, reduced to safe characters and at most SYMBOL_CHARS; "?" when it has none or the call
    ///      fails. Read with a low-level call so that neither a revert nor an answer that is not an ABI string (MKR's
    ///      bytes32 symbol, or garbage) can make tokenURI revert: a bytes32 is read up to its first zero byte.
    function _symbol(address token) internal view returns (string memory) {
        (bool ok, bytes memory data) = token.staticcall(abi.encodeCall(IERC20Metadata.symbol, ()));
        if (!ok || data.length < 32) return "?";
        uint256 offset;
        uint256 length;
        assembly ("memory-safe") {
            offset := mload(add(data, 32))
        }
        if (data.length >= 64 && offset == 32) {
            assembly ("memory-safe") {
                length := mload(add(data, 64))
            }
            if (length > data.length - 64) return "?";
            offset = 64; // the string's bytes start after the offset and length words
        } else {
            while (length < 32 && data[length] != 0) ++length; // bytes32: up to the first zero byte
            offset = 0;
        }
        uint256 n = length < SYMBOL_CHARS ? length : SYMBOL_CHARS;
        bytes memory out = new bytes(n);
        for (uint256 i; i < n; ++i) {
            bytes1 c = data[offset + i];
            bool safe = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c == "."
                || c == "-" || c == "_";
            out[i] = safe ? c : bytes1("_");
        }
        return n == 0 ? "?" : string(out);
    }
}
