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

    /// @inheritdoc IVaultRenderer
    function tokenURI(IVaultEngine engine, uint256 vaultId) external view returns (string memory uri) {
        IVaultEngine.Valuation memory v = engine.valuation(vaultId);
        (, uint256[] memory amounts) = engine.vaultCollateral(vaultId);
        string memory health = v.debt == 0 ? "no debt" : _decimal(Math.mulDiv(v.maintenance, WAD, v.debt), 18, 2);
        string memory mode = engine.portfolioMargin(vaultId) ? "portfolio" : "standard";
        string memory debt = _decimal(v.debt, 18, 2);

        string memory rows;
        string memory attributes;
        for (uint256 i; i < v.tokens.length; ++i) {
            string memory symbol = _symbol(v.tokens[i]);
            string memory amount = _decimal(amounts[i], engine.collateralType(v.tokens[i]).decimals, 4);
            bool priced = v.unpricedMask & (1 << i) == 0;
            rows = string.concat(
                rows,
                _text(150 + 24 * i, 14, "#e8eef7", string.concat(amount, " ", symbol), false),
                _text(150 + 24 * i, 14, "#8fa3bf", priced ? string.concat("$", _decimal(v.values[i], 18, 2)) : "unpriced", true)
            );
            attributes = string.concat(attributes, ',{"trait_type":"', symbol, '","value":"', amount, '"}');
        }
        string memory svg = string.concat(
            '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="360" viewBox="0 0 360 360" font-family="monospace">',
            '<rect width="360" height="360" rx="18" fill="#0f1b2d"/>',
            // the Plimsoll mark: a ring crossed by a load line
            '<circle cx="310" cy="48" r="22" fill="none" stroke="#f5c542" stroke-width="4"/>',
            '<line x1="280" y1="48" x2="340" y2="48" stroke="#f5c542" stroke-width="4"/>',
            _text(52, 20, "#ffffff", string.concat("Plimsoll Vault #", vaultId.toString()), false),
            _text(80, 13, "#8fa3bf", string.concat(mode, " margin", v.inMarginCall ? ", in a margin call" : ""), false),
            _text(120, 13, "#8fa3bf", "COLLATERAL", false),
            rows
        );
        svg = string.concat(
            svg,
            _text(290, 16, "#e8eef7", string.concat("Debt ", debt, " pUSD"), false),
            _text(318, 16, _healthColour(v.debt, v.maintenance), string.concat("Health factor ", health), false),
            "</svg>"
        );
        string memory json = string.concat(
            '{"name":"Plimsoll Vault #', vaultId.toString(),
            '","description":"A Plimsoll vault: collateral locked against a pUSD debt. Whoever holds or is approved for',
            ' this token manages the vault: approving it hands over the collateral.","image":"data:image/svg+xml;base64,',
            Base64.encode(bytes(svg)),
            '","attributes":[{"trait_type":"Debt (pUSD)","value":"', debt,
            '"},{"trait_type":"Health factor","value":"', health,
            '"},{"trait_type":"Margin","value":"', mode, '"}', attributes, "]}"
        );
        return string.concat("data:application/json;base64,", Base64.encode(bytes(json)));
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

    /// @dev The token's symbol, reduced to safe characters; "?" when it has none or the call fails.
    function _symbol(address token) internal view returns (string memory) {
        try IERC20Metadata(token).symbol() returns (string memory raw) {
            bytes memory b = bytes(raw);
            uint256 n = b.length < SYMBOL_CHARS ? b.length : SYMBOL_CHARS;
            bytes memory out = new bytes(n);
            for (uint256 i; i < n; ++i) {
                bytes1 c = b[i];
                bool safe = (c >= "0" && c <= "9") || (c >= "A" && c <= "Z") || (c >= "a" && c <= "z") || c == "."
                    || c == "-" || c == "_";
                out[i] = safe ? c : bytes1("_");
            }
            return n == 0 ? "?" : string(out);
        } catch {
            return "?";
        }
    }
}
