"""tests/log_bounds.py tells a bounded logging configuration from an unbounded one, in each of the
four formats the daemons use (the render and testinfra checks rely on it)."""

from __future__ import annotations

from log_bounds import (
    Appender,
    is_journald_size,
    journald_limits,
    log4j2_properties_appenders,
    log4j2_xml_appenders,
    log4j_properties_appenders,
    logback_appenders,
)


def bounded_by_name(appenders: list[Appender]) -> dict[str, bool]:
    return {appender.name: appender.bounded for appender in appenders}


def test_log4j2_xml_needs_a_size_policy_and_a_backup_count() -> None:
    text = """<Configuration><Appenders>
      <Console name="console"/>
      <File name="plain" fileName="a.log"/>
      <RollingFile name="no-max" fileName="b.log" filePattern="b.%i">
        <Policies><SizeBasedTriggeringPolicy size="1 MB"/></Policies>
      </RollingFile>
      <RollingFile name="capped" fileName="c.log" filePattern="c.%i">
        <Policies><SizeBasedTriggeringPolicy size="1 MB"/></Policies>
        <DefaultRolloverStrategy max="3"/>
      </RollingFile>
    </Appenders></Configuration>"""
    assert bounded_by_name(log4j2_xml_appenders(text)) == {
        "console": True,
        "plain": False,
        "no-max": False,
        "capped": True,
    }


def test_log4j2_properties_needs_a_size_policy_and_a_backup_count() -> None:
    text = "\n".join(
        [
            "appender.console.type = Console",
            "appender.plain.type = File",
            "appender.r.type = RollingFile",
            "appender.r.policies.type = Policies",
            "appender.r.policies.size.type = SizeBasedTriggeringPolicy",
            "appender.r.policies.size.size = 10MB",
            "appender.r.strategy.type = DefaultRolloverStrategy",
            "appender.r.strategy.max = 5",
            "appender.t.type = RollingFile",
            "appender.t.policies.time.type = TimeBasedTriggeringPolicy",
        ]
    )
    assert bounded_by_name(log4j2_properties_appenders(text)) == {
        "console": True,
        "plain": False,
        "r": True,
        "t": False,
    }


def test_log4j_properties_needs_max_file_size_and_backup_index() -> None:
    text = "\n".join(
        [
            "log4j.appender.console=org.apache.log4j.ConsoleAppender",
            "log4j.appender.console.target=System.err",
            "log4j.appender.daily=org.apache.log4j.DailyRollingFileAppender",
            "log4j.appender.RFA=org.apache.log4j.RollingFileAppender",
            "log4j.appender.RFA.MaxFileSize=256MB",
            "log4j.appender.RFA.MaxBackupIndex=20",
            "log4j.appender.half=org.apache.log4j.RollingFileAppender",
            "log4j.appender.half.MaxFileSize=256MB",
        ]
    )
    assert bounded_by_name(log4j_properties_appenders(text)) == {
        "console": True,
        "daily": False,
        "RFA": True,
        "half": False,
    }


def test_logback_needs_a_total_size_cap() -> None:
    rolling = "ch.qos.logback.core.rolling"
    text = f"""<configuration>
      <appender name="console" class="ch.qos.logback.core.ConsoleAppender"/>
      <appender name="plain" class="ch.qos.logback.core.FileAppender"/>
      <appender name="capped" class="{rolling}.RollingFileAppender">
        <rollingPolicy class="{rolling}.SizeAndTimeBasedRollingPolicy">
          <maxFileSize>10MB</maxFileSize><totalSizeCap>1GB</totalSizeCap>
        </rollingPolicy>
      </appender>
      <appender name="uncapped" class="{rolling}.RollingFileAppender">
        <rollingPolicy class="{rolling}.SizeAndTimeBasedRollingPolicy">
          <maxFileSize>10MB</maxFileSize>
        </rollingPolicy>
      </appender>
    </configuration>"""
    assert bounded_by_name(logback_appenders(text)) == {
        "console": True,
        "plain": False,
        "capped": True,
        "uncapped": False,
    }


def test_journald_limits_and_sizes() -> None:
    text = "#\n# Ansible managed\n#\n[Journal]\nSystemMaxUse=1G\nRuntimeMaxUse=64M\n"
    assert journald_limits(text) == {"SystemMaxUse": "1G", "RuntimeMaxUse": "64M"}
    assert is_journald_size("1G")
    assert is_journald_size("65536")
    assert not is_journald_size("1 GB")
    assert not is_journald_size("")
