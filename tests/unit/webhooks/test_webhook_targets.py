"""Which webhook URLs the hub calls: public addresses always, internal ones only when listed,
judged on the address actually connected to."""

from __future__ import annotations

import pytest

from hugbox.webhooks import targets

ALLOW = targets.AllowList.parse(["127.0.0.1", "ci.internal", "10.1.0.0/16", " "])


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost:9/x?secret=1", "http://10.1.2.3/",
     "https://8.8.8.8/x", "http://[::ffff:127.0.0.1]:80/"],
)  # fmt: skip
def test_public_and_listed_targets_are_called(url: str) -> None:
    target = targets.resolve(url, ALLOW)
    assert str(target.address) in str(target.url)  # the checked address is the one dialled


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.2/", "http://169.254.169.254/latest/meta-data", "http://10.2.0.1/",
     "http://192.168.1.1/", "http://[::1]/", "http://[fe80::1]/", "http://0.0.0.0/",
     "http://[::ffff:169.254.169.254]/", "http://224.0.0.1/", "file:///etc/passwd",
     "gopher://x/", "http:///nohost", "http://no-such-host.invalid/"],
)  # fmt: skip
def test_internal_and_unresolvable_targets_are_refused(url: str) -> None:
    with pytest.raises(targets.TargetRefused):
        targets.resolve(url, ALLOW)


def test_the_host_is_kept_for_the_server_to_see() -> None:
    target = targets.resolve("http://localhost:8000/x", ALLOW)
    assert target.host == "localhost:8000" and target.url.host == "127.0.0.1"


def test_creation_refuses_only_what_is_sure_to_be_refused() -> None:
    assert targets.check_url("https://no-such-host.invalid/x", ALLOW).host == "no-such-host.invalid"
    with pytest.raises(targets.TargetRefused):
        targets.check_url("http://127.0.0.5/", ALLOW)
    with pytest.raises(targets.TargetRefused):
        targets.check_url("http://[::1]/", targets.AllowList.parse([]))
