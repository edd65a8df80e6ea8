"""The encryption and blind-index keys from the settings, or local keys for a single process."""

from __future__ import annotations

from bot.config import ConfigError, Settings
from storage import crypto


def build_crypto(settings: Settings) -> crypto.Crypto:
    keys = [key.get_secret_value() for key in settings.security.encryption_keys]
    hmac_key = settings.security.hmac_key.get_secret_value() if settings.security.hmac_key else ""
    if not keys and not hmac_key:
        keys, hmac_key = crypto.load_or_create_local_keys(settings.data_dir)
    elif not keys or not hmac_key:
        missing = "security.encryption_keys" if not keys else "security.hmac_key"
        raise ConfigError(
            f"{missing}: set both encryption keys and the HMAC key, or neither (for local keys)"
        )
    try:
        return crypto.Crypto.from_keys(keys, hmac_key)
    except crypto.CryptoKeyError as error:
        raise ConfigError(str(error)) from None
