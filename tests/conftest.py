from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never read or write the developer's real price cache from tests.
    monkeypatch.setenv("LLMPLAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("LLMPLAN_DEBUG", raising=False)


def shared_path(*parts: str) -> Path:
    return SHARED.joinpath(*parts)


os.environ.setdefault("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
