"""Whether a daemon's logging configuration keeps its logs bounded: every appender either writes to
the console (standard output or error, which the journal keeps within the common role's journald
limits) or to a file that rolls over at a size and keeps a fixed number of backups. Read by the
offline render tests (tests/ansible/test_logging.py) and by testinfra on the nodes
(tests/infra/test_infra_logs.py), so both judge a configuration the same way.

Each reader takes the file's text and returns its appenders; ``unbounded`` names those that are not.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass
from xml.etree import ElementTree


@dataclass(frozen=True)
class Appender:
    name: str
    kind: str  # the appender's type or class, as the configuration names it
    bounded: bool


def unbounded(appenders: list[Appender]) -> list[Appender]:
    return [appender for appender in appenders if not appender.bounded]


# ---- log4j2, XML (Kafka, Storm) --------------------------------------------------------------
LOG4J2_CONSOLE = {"Console"}
LOG4J2_ROLLING = {"RollingFile", "RollingRandomAccessFile"}


def log4j2_xml_appenders(text: str) -> list[Appender]:
    root = ElementTree.fromstring(text)
    section = root.find("Appenders")
    if section is None:
        return []
    return [
        Appender(element.get("name", ""), element.tag, _log4j2_xml_bounded(element))
        for element in section
    ]


def _log4j2_xml_bounded(element: ElementTree.Element) -> bool:
    if element.tag in LOG4J2_CONSOLE:
        return True
    if element.tag not in LOG4J2_ROLLING:
        return False
    size = element.find("Policies/SizeBasedTriggeringPolicy")
    strategy = element.find("DefaultRolloverStrategy")
    return (
        size is not None
        and _is_size(size.get("size", ""))
        and strategy is not None
        and strategy.get("max", "").isdigit()
    )


# ---- log4j2, properties (HBase) --------------------------------------------------------------
def log4j2_properties_appenders(text: str) -> list[Appender]:
    properties = java_properties(text)
    names = sorted(
        {key.split(".")[1] for key in properties if re.fullmatch(r"appender\.[^.]+\.type", key)}
    )
    appenders = []
    for name in names:
        kind = properties[f"appender.{name}.type"]
        own = {k: v for k, v in properties.items() if k.startswith(f"appender.{name}.")}
        if kind in LOG4J2_CONSOLE:
            bounded = True
        elif kind in LOG4J2_ROLLING:
            sizes = [
                own.get(key.removesuffix(".type") + ".size", "")
                for key, value in own.items()
                if key.endswith(".type") and value == "SizeBasedTriggeringPolicy"
            ]
            bounded = (
                any(_is_size(size) for size in sizes)
                and own.get(f"appender.{name}.strategy.max", "").isdigit()
            )
        else:
            bounded = False
        appenders.append(Appender(name, kind, bounded))
    return appenders


# ---- log4j 1 / reload4j, properties (Hadoop HDFS and YARN) -----------------------------------
LOG4J_CONSOLE = {"org.apache.log4j.ConsoleAppender", "org.apache.log4j.varia.NullAppender"}


def log4j_properties_appenders(text: str) -> list[Appender]:
    properties = java_properties(text)
    appenders = []
    for key, kind in sorted(properties.items()):
        match = re.fullmatch(r"log4j\.appender\.([^.]+)", key)
        if not match:
            continue
        name = match.group(1)
        if kind in LOG4J_CONSOLE:
            bounded = True
        elif kind == "org.apache.log4j.RollingFileAppender":
            bounded = (
                _is_size(properties.get(f"{key}.MaxFileSize", ""))
                and properties.get(f"{key}.MaxBackupIndex", "").isdigit()
            )
        else:
            bounded = False
        appenders.append(Appender(name, kind, bounded))
    return appenders


# ---- logback (ZooKeeper) ---------------------------------------------------------------------
LOGBACK_CONSOLE = {"ch.qos.logback.core.ConsoleAppender"}


def logback_appenders(text: str) -> list[Appender]:
    root = ElementTree.fromstring(text)
    return [
        Appender(element.get("name", ""), element.get("class", ""), _logback_bounded(element))
        for element in root.iter("appender")
    ]


def _logback_bounded(element: ElementTree.Element) -> bool:
    kind = element.get("class", "")
    if kind in LOGBACK_CONSOLE:
        return True
    if kind != "ch.qos.logback.core.rolling.RollingFileAppender":
        return False
    policy = element.find("rollingPolicy")
    if policy is None:
        return False
    if policy.get("class", "").endswith(".SizeAndTimeBasedRollingPolicy"):
        return all(_is_size(policy.findtext(key, "")) for key in ("maxFileSize", "totalSizeCap"))
    trigger = element.find("triggeringPolicy")
    return (
        policy.get("class", "").endswith(".FixedWindowRollingPolicy")
        and trigger is not None
        and _is_size(trigger.findtext("maxFileSize", ""))
    )


# ---- journald drop-in (common) ---------------------------------------------------------------
JOURNALD_LIMITS = ("SystemMaxUse", "SystemMaxFileSize", "RuntimeMaxUse")


def journald_limits(text: str) -> dict[str, str]:
    """The [Journal] settings of a journald.conf drop-in."""
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return dict(parser["Journal"]) if parser.has_section("Journal") else {}


def is_journald_size(value: str) -> bool:
    """A size as journald reads it: bytes, or a number with K, M, G, T, P or E (base 1024)."""
    return re.fullmatch(r"[1-9][0-9]*[KMGTPE]?", value.strip()) is not None


# ---- shared ----------------------------------------------------------------------------------
def java_properties(text: str) -> dict[str, str]:
    """key = value and key: value lines (no continuation lines: the templates use none)."""
    properties = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        parts = re.split(r"\s*[=:]\s*", line, maxsplit=1)
        if len(parts) == 2:
            properties[parts[0]] = parts[1]
    return properties


def _is_size(value: str) -> bool:
    """A file size as log4j, log4j2 and logback read it: "100 MB", "10MB", "512KB", "1GB"."""
    return re.fullmatch(r"[1-9][0-9]*\s*[KMG]B", value.strip(), re.IGNORECASE) is not None


APPENDER_READERS = {
    "logback.xml": logback_appenders,
    "log4j2.xml": log4j2_xml_appenders,
    "cluster.xml": log4j2_xml_appenders,
    "worker.xml": log4j2_xml_appenders,
    "log4j2.properties": log4j2_properties_appenders,
    "log4j.properties": log4j_properties_appenders,
}
