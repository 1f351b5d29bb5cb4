"""Environment for tests of live pricing: no real credentials, fast retries, local endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

CLOUD_VARS = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_PRICING", "AWS_ENDPOINT_URL_EC2", "AWS_REGION",
    "AWS_DEFAULT_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT", "LLMPLAN_GCP_PROJECT", "LLMPLAN_GCP_BILLING_ENDPOINT",
    "LLMPLAN_GCP_COMPUTE_ENDPOINT", "LLMPLAN_AZURE_PRICES_URL", "LLMPLAN_AZURE_LIVE",
    "LLMPLAN_AZURE_ARM_ENDPOINT", "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "LLMPLAN_CACHE_MAX_AGE_DAYS", "XDG_CACHE_HOME",
)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """Hide the developer's own cloud configuration so the SDK chains find only what we set."""
    for name in CLOUD_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp / "no-gcloud"))
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # google-auth: do not probe a metadata server
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:9")
    monkeypatch.setenv("GCE_METADATA_DETECT_RETRIES", "1")
    monkeypatch.setenv("LLMPLAN_RETRY_BASE_SECONDS", "0.01")


def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "fake/secret/key")
