"""Ansible's linear strategy over Mitogen: one SSH connection and one persistent Python per node
for the whole run, modules cached there, instead of a new interpreter and a module upload per
task. Same tasks, same order, same results; less overhead per task.

The strategy is the mitogen package's (pinned in pyproject.toml); this file only makes it
findable from ansible.cfg without naming a virtualenv path."""

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
