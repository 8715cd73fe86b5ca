"""The project's strategy (ansible/plugins/strategy/mitogen_linear.py) parses a play's
``vars_files`` once per run, where ansible-core's own linear strategy parses them again for every
task and host. Seen from a real ``ansible-playbook``: a play rewrites its own vars file halfway;
the tasks after it see the new value when the file is read again, the first one when it is kept."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

import yaml
from ansible.parsing.dataloader import DataLoader
from script_modules import load_script

from lendstream.chaos.cluster import ANSIBLE_DIR, ansible_environment, run_ansible

HOSTS = ("first", "second", "third")
RUN_TIMEOUT_S = 300


def _strategy_module() -> ModuleType:
    path = ANSIBLE_DIR / "plugins" / "strategy" / "mitogen_linear.py"
    return load_script("lendstream_mitogen_linear", path)


def _greetings_after_a_rewrite(tmp_path: Path, strategy: str | None) -> list[str]:
    """What each host's tasks read from the vars file, before and after a task rewrote it."""
    vars_file = tmp_path / "parameters.yml"
    vars_file.write_text("greeting: before\n")
    show = {"ansible.builtin.debug": {"msg": "greeting={{ greeting }}"}}
    play = {
        "name": "Read a vars file that changes during the play",
        "hosts": "all",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable},
        "vars_files": [str(vars_file)],
        "tasks": [
            {"name": "Read it", **show},
            {
                "name": "Rewrite it",
                "run_once": True,
                "ansible.builtin.copy": {"dest": str(vars_file), "content": "greeting: after\n"},
            },
            {"name": "Read it again", **show},
        ],
    }
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    settings = {} if strategy is None else {"ANSIBLE_STRATEGY": strategy}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", ",".join(HOSTS) + ","]
    environment = ansible_environment(None, **settings)
    result = run_ansible([*argv, str(playbook)], environment, RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return re.findall(r'"msg": "greeting=(\w+)"', result.stdout)


def test_ansible_core_alone_reads_a_plain_vars_file_again_for_every_task(tmp_path: Path) -> None:
    """The cost the project's strategy removes, on the pinned ansible-core: if this fails,
    ansible-core keeps plain vars files itself and the strategy's cache is no longer needed."""
    greetings = _greetings_after_a_rewrite(tmp_path, strategy="ansible.builtin.linear")
    assert greetings == ["before"] * len(HOSTS) + ["after"] * len(HOSTS)


def test_the_project_strategy_reads_a_vars_file_once_per_run(tmp_path: Path) -> None:
    greetings = _greetings_after_a_rewrite(tmp_path, strategy=None)
    assert greetings == ["before"] * 2 * len(HOSTS)


def test_keeping_vars_files_serves_the_first_parse(tmp_path: Path) -> None:
    """A kept file is not read again (a change during the run is not seen: site.yml's vars
    files do not change while it runs), and other cache choices are left as asked."""
    vars_file = tmp_path / "parameters.yml"
    vars_file.write_text("greeting: hello\n")
    loader = DataLoader()
    keep_parsed_vars_files = _strategy_module().keep_parsed_vars_files
    keep_parsed_vars_files(loader)
    keep_parsed_vars_files(loader)  # a second play's strategy: no double wrap
    kept = str(vars_file)
    assert loader.load_from_file(kept, cache="vaulted", unsafe=True) == {"greeting": "hello"}
    vars_file.write_text("greeting: changed\n")
    assert loader.load_from_file(kept, cache="vaulted", unsafe=True) == {"greeting": "hello"}
    assert loader.load_from_file(kept, cache="none") == {"greeting": "changed"}
