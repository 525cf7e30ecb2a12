"""Settings are validated at start with messages naming the variable."""

import pytest

from functions.common.platform.config import ConfigError, get_settings, reset_settings


@pytest.fixture
def clean_settings(monkeypatch):
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_bad_values_name_the_environment_variable(clean_settings):
    clean_settings.setenv("MCC_ACCESS_TOKEN_TTL", "5")
    clean_settings.setenv("MCC_OAUTH_PROVIDERS", "{not json")
    with pytest.raises(ConfigError) as err:
        get_settings()
    message = str(err.value)
    assert "MCC_ACCESS_TOKEN_TTL" in message
    assert "MCC_OAUTH_PROVIDERS" in message and "not valid JSON" in message


def test_public_url_must_be_an_origin(clean_settings):
    clean_settings.setenv("MCC_PUBLIC_URL", "localhost:8443")
    with pytest.raises(ConfigError, match="MCC_PUBLIC_URL"):
        get_settings()


def test_defaults_are_safe_for_local_use(clean_settings):
    for var in ("MCC_PUBLIC_URL", "MCC_COOKIE_SECURE", "MCC_ACCESS_TOKEN_TTL"):
        clean_settings.delenv(var, raising=False)
    s = get_settings()
    assert s.public_url.startswith("https://")
    assert s.cookie_secure is True
    assert s.access_token_ttl <= 600
