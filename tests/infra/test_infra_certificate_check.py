"""The certificate check on every node (role node_exporter): its timer is enabled and waiting, its
last run succeeded as its unprivileged user, and the textfile it wrote has a series per
certificate of every listed file (role pki's CA and node certificates, Kafka's keystore with
lendstream_tls), each with the certificate's real notAfter, in the future; no listed file fails."""

from __future__ import annotations

import datetime
import time
from typing import Any

from infra_cluster import variables
from prometheus_client.parser import text_string_to_metric_families

from lendstream import pki

testinfra_hosts = ["ansible://all"]

UNIT = "lendstream-certificate-check"
# Role node_exporter's defaults (an inventory may set them).
TEXTFILE = "/var/lib/prometheus/node-exporter/certificates.prom"
LISTS_DIR = "/etc/lendstream/certificates.d"
CHECK_USER = "lendstream-certcheck"
# The timer runs the check hourly (and each deployment once): the file is never older than that
# by much.
MAX_AGE_S = 2 * 3600
TLS_DIR = "/etc/lendstream/tls"  # role pki's pki_dir
KAFKA_KEYSTORE = "/etc/lendstream/kafka/tls/keystore.pem"  # kafka_conf_dir/tls/keystore.pem
KAFKA_GROUPS = ("kafka_controller", "kafka_broker")


def _expected_files(host: Any) -> set[str]:
    facts = variables(host)
    files = {f"{TLS_DIR}/ca.crt", f"{TLS_DIR}/node.crt"}
    name = facts["inventory_hostname"]
    in_kafka = any(name in facts["groups"].get(group, []) for group in KAFKA_GROUPS)
    if in_kafka and facts.get("lendstream_tls", False):
        files.add(KAFKA_KEYSTORE)
    return files


def _samples(host: Any) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = host.file(TEXTFILE).content_string
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_the_timer_is_enabled_and_the_last_run_succeeded_unprivileged(host: Any) -> None:
    timer = host.service(f"{UNIT}.timer")
    assert timer.is_enabled
    assert timer.is_running
    show = host.run(f"systemctl show {UNIT}.service -p Result -p User -p Type")
    assert show.rc == 0, show.stderr
    properties = dict(line.split("=", 1) for line in show.stdout.splitlines())
    assert properties == {"Result": "success", "User": CHECK_USER, "Type": "oneshot"}


def test_every_listed_file_is_read_and_fresh(host: Any) -> None:
    listed = host.run(f"cat {LISTS_DIR}/*.list")
    assert listed.rc == 0, listed.stderr
    paths = {line.strip() for line in listed.stdout.splitlines()} - {""}
    paths = {path for path in paths if not path.startswith("#")}
    assert paths == _expected_files(host)
    textfile = host.file(TEXTFILE)
    assert textfile.mode == 0o644, oct(textfile.mode)
    age_s = time.time() - textfile.mtime.timestamp()
    assert age_s < MAX_AGE_S, f"{TEXTFILE} is {age_s:.0f} s old"
    samples = _samples(host)
    assert samples["lendstream_certificate_check_errors"] == [({}, 0.0)]
    ok = {labels["path"]: value for labels, value in samples["lendstream_certificate_file_ok"]}
    assert ok == dict.fromkeys(paths, 1.0)


def test_each_certificate_has_its_real_expiry_in_the_future(host: Any) -> None:
    expiry = _samples(host)["lendstream_certificate_expiry_timestamp_seconds"]
    by_path: dict[str, dict[str, float]] = {}
    for labels, value in expiry:
        by_path.setdefault(labels["path"], {})[labels["subject"]] = value
    assert set(by_path) == _expected_files(host)
    now = time.time()
    assert all(value > now for subjects in by_path.values() for value in subjects.values())
    # The node's certificate, read here: the check's figure is its notAfter, to the second.
    cert = pki.load_certificate(host.file(f"{TLS_DIR}/node.crt").content_string)
    subject = cert.subject.rfc4514_string()
    not_after = cert.not_valid_after_utc.timestamp()
    assert by_path[f"{TLS_DIR}/node.crt"] == {subject: not_after}
    # Kafka's keystore holds the same certificate (the kafka role assembles it from role pki's).
    if KAFKA_KEYSTORE in by_path:
        assert by_path[KAFKA_KEYSTORE] == {subject: not_after}
    assert not_after - now > datetime.timedelta(days=30).total_seconds()
