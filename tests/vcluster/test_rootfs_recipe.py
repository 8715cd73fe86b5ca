"""The base root filesystem is keyed by its recipe: what goes in changes the key, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from lendstream.vcluster import rootfs


def test_key_is_stable() -> None:
    assert rootfs.recipe_key() == rootfs.recipe_key()


def test_key_changes_with_the_package_list(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rootfs.recipe_key()
    monkeypatch.setattr(rootfs, "PACKAGES", (*rootfs.PACKAGES, "less"))
    assert rootfs.recipe_key() != before


def test_key_changes_with_the_files_written_into_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    before = rootfs.recipe_key()
    monkeypatch.setattr(rootfs, "APT_CONF", rootfs.APT_CONF + 'Acquire::Retries "3";\n')
    assert rootfs.recipe_key() != before


def test_base_lives_in_the_shared_cache_under_its_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LENDSTREAM_CACHE_DIR", str(tmp_path))
    assert str(rootfs.base_dir()) == f"{tmp_path}/vcluster/rootfs/bookworm-{rootfs.recipe_key()}"
