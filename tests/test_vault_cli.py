"""`plimsoll vault` against a fresh deployment on Anvil: one account's whole flow with exact maxima, a refusal that
is decoded and not sent, and bad input that changes nothing (exit 2)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from plimsoll.cli import main
from plimsoll.sdk.vaults import AmountError, parse_amount

WAD = 10**18


def test_amounts_parse_exactly():
    assert parse_amount("1.5", 18) == 15 * 10**17
    assert parse_amount("0.00000001", 8) == 1
    assert parse_amount("2500", 18) == 2500 * WAD
    assert parse_amount("max", 18, ("max",)) == "max"
    for bad, decimals in (("0.000000001", 8), ("-1", 18), ("0", 18), ("1e", 18), ("max", 18), ("nan", 18)):
        with pytest.raises(AmountError):
            parse_amount(bad, decimals)


@pytest.fixture
def vault_cli(deployment, chain, tmp_path):
    """Runs `plimsoll vault --network <ape's Anvil> --manifest <the deployment> --account TEST::6 ARGS…`."""
    manifest = deployment.save(tmp_path / "local.json")

    def run(*args: str):
        return CliRunner().invoke(main, ["vault", "--network", chain.provider.uri, "--manifest", str(manifest),
                                         "--account", "TEST::6", *args])
    return run


def test_one_accounts_whole_flow(vault_cli, accounts, engine, pusd, weth, wbtc, alice, alice_vault):
    me = accounts[6]
    assert vault_cli("faucet", "WETH", "10").exit_code == 0
    assert vault_cli("faucet", "WBTC", "0.5").exit_code == 0
    opened = vault_cli("open", "WETH", "10")
    assert opened.exit_code == 0, opened.output
    vault = int(opened.output.split("vault ")[1].split()[0])
    assert vault_cli("deposit", str(vault), "WBTC", "0.5").exit_code == 0
    assert engine.collateralBalance(vault, wbtc) == 5 * 10**7

    borrowed = vault_cli("borrow", str(vault), "max")
    assert borrowed.exit_code == 0, borrowed.output
    assert "borrowed 30,999.999999999999999999 pUSD" in borrowed.output  # the power less the debt's rounding
    assert engine.debt(vault) == 31_000 * WAD and pusd.balanceOf(me) == 31_000 * WAD - 1

    nonce = me.nonce
    refused = vault_cli("borrow", str(vault), "0.000000000000000001")
    assert refused.exit_code == 1
    assert (f"borrow: InsufficientMargin(vaultId={vault}, debt=31000000000000000000001, "
            "borrowPower=31000000000000000000000)") in refused.output
    assert me.nonce == nonce  # simulated, not sent

    pusd.transfer(me, 10 * WAD, sender=alice)  # repaying all takes the fee accrued since the borrow
    assert vault_cli("repay", str(vault), "all").exit_code == 0
    assert engine.debt(vault) == 0
    for symbol in ("WETH", "WBTC"):
        assert vault_cli("withdraw", str(vault), symbol, "max").exit_code == 0
    assert engine.collateralBalance(vault, weth) == 0 and weth.balanceOf(me) == 10 * WAD
    listed = vault_cli("list")
    assert listed.exit_code == 0 and f"│ {vault} " in listed.output and f"│ {alice_vault} " not in listed.output
    status = vault_cli("status", str(vault))
    assert status.exit_code == 0 and "no debt" in status.output and me.address in status.output


def test_bad_input_exits_2_and_sends_nothing(vault_cli, accounts, engine, weth):
    me = accounts[6]
    nonce = me.nonce
    for args, message in ((("open", "WETH", "10"), "the account holds 0 WETH"),  # no approval left behind
                          (("open", "DOGE", "1"), "no collateral 'DOGE'"),
                          (("faucet", "WBTC", "0.000000001"), "more than 8 decimal places"),
                          (("status", "999"), "no vault 999"),
                          (("borrow", "1", "lots"), "'lots' is not an amount")):
        result = vault_cli(*args)
        assert result.exit_code == 2 and message in result.output, (args, result.output)
    assert me.nonce == nonce and weth.allowance(me, engine) == 0


def test_list_reads_the_owners_vaults_a_page_at_a_time(deployment, project, accounts, engine, nft, weth):
    """`vault list` pages through PositionLens.positionsOfPage (an account can be sent any number of empty vaults):
    three vaults in pages of two come back whole and in the VaultNFT's order."""
    from conftest import open_vault

    from plimsoll.sdk.vaults import Vaults

    me = accounts[7]
    weth.mint(me, 3 * WAD, sender=me)
    weth.approve(engine, 3 * WAD, sender=me)
    ids = [open_vault(engine, me, weth, WAD) for _ in range(3)]
    cards = Vaults(deployment, me, project).owned(me.address, page=2)
    assert [c.vaultId for c in cards] == ids == [nft.tokenOfOwnerByIndex(me, i) for i in range(3)]
    assert [c.collateral[0].amount for c in cards] == [WAD] * 3
