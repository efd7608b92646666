"""Chain access and the exact-integer math mirror, shared by the keeper, the demo and the tests."""
