"""The datanode-volume-failed fault's configuration change, on the hdfs role's own hdfs-site.xml."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from lendstream.chaos import faults
from lendstream.chaos.cluster import ChaosError

HDFS_SITE = """<?xml version="1.0"?>
<!-- Ansible managed -->
<configuration>
  <property>
    <name>dfs.datanode.data.dir</name>
    <value>file:///var/lib/lendstream/hdfs/datanode</value>
  </property>
  <property>
    <name>dfs.replication</name>
    <value>3</value>
  </property>
</configuration>
"""


def properties(text: str) -> dict[str, str]:
    return {
        prop.findtext("name", ""): prop.findtext("value", "")
        for prop in ElementTree.fromstring(text).iter("property")
    }


def test_the_volume_joins_the_data_directories_with_one_failure_tolerated() -> None:
    changed = faults.with_an_unwritable_volume(HDFS_SITE, "/var/lib/chaos")
    values = properties(changed)
    assert values["dfs.datanode.data.dir"] == (
        "file:///var/lib/lendstream/hdfs/datanode,file:///var/lib/chaos"
    )
    assert values["dfs.datanode.failed.volumes.tolerated"] == "1"
    assert values["dfs.replication"] == "3"
    assert "Ansible managed" in changed


def test_a_tolerance_already_set_is_replaced_not_repeated() -> None:
    with_tolerance = HDFS_SITE.replace(
        "</configuration>",
        "<property><name>dfs.datanode.failed.volumes.tolerated</name><value>0</value>"
        "</property></configuration>",
    )
    changed = faults.with_an_unwritable_volume(with_tolerance, "/v")
    assert changed.count("dfs.datanode.failed.volumes.tolerated") == 1
    assert properties(changed)["dfs.datanode.failed.volumes.tolerated"] == "1"


def test_a_configuration_without_data_directories_is_refused() -> None:
    with pytest.raises(ChaosError, match=r"dfs\.datanode\.data\.dir"):
        faults.with_an_unwritable_volume("<configuration/>", "/v")
