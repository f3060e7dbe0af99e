"""BlobStore on a plain-HTTP account URL (an emulator such as Azurite): Entra ID tokens go
over HTTPS only, so the store must refuse a token credential (or none, which would be
DefaultAzureCredential) when it is built, naming the argument and what to pass instead.
No server is needed: building a client makes no request."""

from __future__ import annotations

from typing import Any

import pytest

from failover.errors import ConfigError
from failover.providers.azure.blob import BlobStore
from failover.testing.servers import AZURITE_ACCOUNT, AZURITE_KEY

EMULATOR = f"http://127.0.0.1:10000/{AZURITE_ACCOUNT}"


class TokenCredential:
    """Looks like an azure-identity credential to the SDK: it has get_token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("no token may be asked for")


@pytest.fixture
def default_credentials_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every DefaultAzureCredential the adapter makes, recorded (none should be, over HTTP)."""
    made: list[object] = []

    class Recorded(TokenCredential):
        def __init__(self, **kwargs: Any) -> None:
            made.append(self)

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", Recorded)
    return made


def test_an_http_account_url_without_a_credential_names_the_credential_argument_and_the_emulator_fix(
    default_credentials_made: list[object],
) -> None:
    with pytest.raises(ConfigError) as caught:
        BlobStore(EMULATOR, container="reports")
    message = caught.value.message
    assert "credential argument" in message and "http://" in message
    assert "account key" in message and "connection_string" in message
    assert "DefaultAzureCredential" in message


def test_an_http_account_url_without_a_credential_makes_no_default_azure_credential(
    default_credentials_made: list[object],
) -> None:
    with pytest.raises(ConfigError):
        BlobStore(EMULATOR, container="reports")
    assert default_credentials_made == []


def test_an_http_account_url_with_a_token_credential_is_refused_naming_its_type() -> None:
    with pytest.raises(ConfigError, match=r"credential argument .* given TokenCredential"):
        BlobStore(EMULATOR, container="reports", credential=TokenCredential())


def test_an_http_account_url_with_the_account_key_builds_and_keeps_the_key_out_of_the_repr() -> None:
    store = BlobStore(
        EMULATOR, container="reports", credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    )
    assert store.account_url.startswith(EMULATOR) and AZURITE_KEY not in repr(store)


def test_an_https_account_url_without_a_credential_still_uses_default_azure_credential(
    default_credentials_made: list[object],
) -> None:
    store = BlobStore("https://example.blob.core.windows.net", container="reports")
    assert len(default_credentials_made) == 1 and store.container == "reports"


def test_a_sas_in_an_http_account_url_is_its_own_credential() -> None:
    store = BlobStore(f"{EMULATOR}?sv=2023-01-03&sig=abc", container="reports")
    assert store.container == "reports"
