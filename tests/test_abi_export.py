"""interfaces/abi (what integrators use) must equal what the contracts compile to."""

import json

from plimsoll.sdk.contracts import ABI_DIR, EXPORTED


def test_exported_abis_match_the_build(project):
    for name in EXPORTED:
        committed = json.loads((ABI_DIR / f"{name}.json").read_text())
        built = [a.model_dump(mode="json", by_alias=True, exclude_none=True) for a in project.get_contract(name).contract_type.abi]
        key = lambda a: json.dumps(a, sort_keys=True)
        assert sorted(map(key, committed)) == sorted(map(key, built)), f"{name}: run `plimsoll abi` after compiling"
