"""One settings object for the whole product, read from ``FABMIND_*`` environment variables.

Modules never read the environment themselves: they take a :class:`Settings` (or the
values they need) as arguments. ``Settings()`` is cheap; build it once at the edge
(CLI, API start-up) and pass it down.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FABMIND_", env_file=None, extra="ignore")

    environment: str = Field("development", description="development | production")
    db_url: str = Field("sqlite:///fabmind-demo.db", description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://...")
    home: Path = Field(Path("fabmind-home"), description="folder for models, reports and artefacts")
    datasets: Path = Field(Path("../shared/datasets"), description="public data sets read by bench/")

    # large model (any OpenAI-compatible endpoint); empty base_url = built-in analyst
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_s: float = 30.0
    llm_max_steps: int = 8

    # live data
    mqtt_host: str = ""
    mqtt_port: int = 1883
    mqtt_topic_root: str = "fab"

    # scale-out
    dask_address: str = ""  # '' = in-process, 'local' = LocalCluster, 'tcp://host:8786'

    # service
    secret_key: SecretStr = SecretStr("")
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> "Settings":
        if self.environment == "production":
            key = self.secret_key.get_secret_value()
            if len(key) < 32 or key in {"changeme", "secret", "dev"}:
                raise ValueError("FABMIND_SECRET_KEY must be set to a random value of >= 32 characters in production")
        return self

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"
