"""Ansible's linear strategy over Mitogen: one SSH connection and one persistent Python per node
for the whole run, modules cached there, instead of a new interpreter and a module upload per
task. Same tasks, same order, same results; less overhead per task.

The strategy is the mitogen package's (pinned in pyproject.toml); this file makes it findable
from ansible.cfg without naming a virtualenv path, and keeps each play's ``vars_files`` parsed
once per run (below).

Why the ``vars_files`` cache: ansible-core 2.19 reads a play's ``vars_files`` again for every
task and host (``VariableManager.get_vars`` asks the loader with ``cache='vaulted'``: only
encrypted files are kept, to spare forked workers the memory of large plain files). site.yml's
plays name the shared parameter files in ``playbooks/vars/`` (about 500 lines in all), so a rerun
on the ci layout parsed YAML some 1,500 times per play file list: about 20 s of the controller's
single dispatching process, a fifth of a rerun with nothing to change (docs/ansible.md, "Rerun
speed"). Those files do not change during a run, so this strategy's loader keeps every file it
parses, as it already does for encrypted ones: the same data, read once.
"""

from __future__ import annotations

from typing import Any

from ansible.parsing.dataloader import DataLoader
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule as MitogenLinear

__all__ = ["StrategyModule", "keep_parsed_vars_files"]


def keep_parsed_vars_files(loader: DataLoader) -> None:
    """Make ``loader`` keep the play ``vars_files`` it parses (``cache='vaulted'`` read as
    ``'all'``) for the rest of the run. Idempotent: a strategy is made once per play."""
    if getattr(loader, "_lendstream_keeps_vars_files", False):
        return
    load_from_file = loader.load_from_file

    def load_keeping_vars_files(file_name: str, cache: str = "all", **options: Any) -> Any:
        return load_from_file(file_name, cache="all" if cache == "vaulted" else cache, **options)

    loader.load_from_file = load_keeping_vars_files  # type: ignore[method-assign]
    loader._lendstream_keeps_vars_files = True  # type: ignore[attr-defined]


class StrategyModule(MitogenLinear):
    def __init__(self, tqm: Any) -> None:
        super().__init__(tqm)
        keep_parsed_vars_files(self._loader)
