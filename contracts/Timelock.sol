// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title Timelock
/// @notice Plimsoll's governance admin: OpenZeppelin's TimelockController, unchanged. It holds DEFAULT_ADMIN_ROLE and
///         RISK_ADMIN_ROLE in the VaultEngine and DEFAULT_ADMIN_ROLE in the RiskSteward, so every change beyond the
///         steward's bounds waits `minDelay` seconds in public (docs/governance.md).
contract Timelock is TimelockController {
    /// @param minDelay seconds between scheduling and executing an operation (short on local networks)
    /// @param proposers may schedule and cancel operations
    /// @param executors may execute ready operations (the zero address: anyone)
    /// @param admin optional extra admin of the timelock's own roles (the zero address: none, the usual choice)
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors, address admin)
        TimelockController(minDelay, proposers, executors, admin)
    {}
}
