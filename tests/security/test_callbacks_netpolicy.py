"""The address policy on its own (bot/netpolicy.py): every spelling of an internal address is read as
the system resolver would read it, and only public addresses pass by default."""

from __future__ import annotations

from ipaddress import IPv4Address, ip_address

import pytest

from bot.netpolicy import CallbackAllow, Refused, check_callback_url, is_public, legacy_ipv4, parse_target

LOOPBACK = IPv4Address("127.0.0.1")


@pytest.mark.parametrize(
    "host",
    [
        "2130706433",
        "0x7f000001",
        "0x7F000001",
        "0177.0.0.1",
        "0177.0000.0000.01",
        "127.1",
        "127.0.1",
        "0x7f.1",
        "0x7f.0.0.1",
        "017700000001",
        "127.0.0.1",
    ],
)
def test_every_inet_aton_spelling_of_loopback_is_read_as_loopback(host: str) -> None:
    assert legacy_ipv4(host) == LOOPBACK


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254"),
    ],
)
def test_short_and_numeric_forms(host: str, address: str) -> None:
    assert legacy_ipv4(host) == ip_address(address)


@pytest.mark.parametrize("host", ["08.0.0.1", "1.2.3.4.5", "4294967296", "256.0.0.1", "1.2.65536", "0xg"])
def test_numeric_hosts_that_are_no_address_are_refused(host: str) -> None:
    if host == "0xg":  # ends in a name, not a number: a name
        assert legacy_ipv4(host) is None
        return
    with pytest.raises(Refused):
        legacy_ipv4(host)


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]/",
        "http://[0:0:0:0:0:ffff:7f00:1]/",
        "http://LOCALHOST./",
        "http://public.com@127.0.0.1/",
        "http://%31%32%37.0.0.1/",
    ],
)
async def test_url_spellings_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        await check_callback_url(url, CallbackAllow())


def test_parse_target_names_what_aiohttp_dials() -> None:
    assert parse_target("http://LocalHost.:8080/x").host == "localhost"
    assert parse_target("https://[::FFFF:7F00:1]/").address == ip_address("::ffff:7f00:1")
    assert parse_target("https://Example.COM/").port == 443


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(ip_address(address))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "::7f00:1",
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "2001::1",
        "fe80::1",
        "fc00::1",
        "fd00::1",
        "ff02::1",
        "ff0e::1",
        "fec0::1",
        "2001:db8::1",
        "64:ff9b:1::1",
        "100::1",
    ],
)
def test_internal_addresses_do_not(address: str) -> None:
    assert not is_public(ip_address(address))


def test_allow_list_parsing() -> None:
    allow = CallbackAllow.parse(" *.Example.com , 10.0.0.0/8,127.0.0.1 ,[::1], fd00::/8,")
    assert allow.names == ("*.example.com",)
    assert [str(n) for n in allow.networks] == ["10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"]
    assert allow.name_trusted("hooks.example.com") and not allow.name_trusted("example.com.evil.net")
    assert allow.address_allowed(ip_address("::ffff:127.0.0.1"))  # mapped: judged by its IPv4 address
    assert not allow.address_allowed(ip_address("127.0.0.2"))
    for bad in ("10.0.0.0/33", "300.1.1.1/8", "http://x", "a b", "::1/200"):
        with pytest.raises(ValueError):
            CallbackAllow.parse(bad)


async def test_all_resolved_addresses_must_be_allowed() -> None:
    async def split_horizon(host: str, port: int) -> list:
        return [ip_address("8.8.8.8"), ip_address("127.0.0.1")]

    with pytest.raises(Refused):
        await check_callback_url("https://mixed.example/", CallbackAllow(), resolve=split_horizon)
    await check_callback_url("https://mixed.example/", CallbackAllow.parse("127.0.0.1"), resolve=split_horizon)
