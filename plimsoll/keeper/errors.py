"""The keeper's typed errors: each ends the process with exit code 1 and its message."""


class KeeperError(RuntimeError):
    """The keeper cannot start or go on (bad key, unreachable or lost node, manifest for another chain)."""


class StateError(KeeperError):
    """The keeper's state database cannot be opened, or belongs to another deployment."""
