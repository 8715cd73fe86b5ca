"""`lendstream status`: one screen of a deployed cluster's health, and a verdict.

Each service on each node (its systemd units, through one bounded Ansible call), the quorum and
leader states the roles' health gates (``tasks/health.yml``) call healthy, the pipeline's consumer
lag, dead-letter rate and risk-service p99, and Alertmanager's firing alerts when one answers.
The last line is ``HEALTHY`` or ``UNHEALTHY: <what>``; the exit status 0, 1, or 2 when the status
cannot be read at all (no inventory).

- :mod:`lendstream.status.readings`: the pure parts (``srvr``, JMX, Prometheus text, unit lists,
  Ansible's JSON) → :class:`~lendstream.status.report.Component` rows.
- :mod:`lendstream.status.report`: the report, its verdict and its text and JSON forms.
- :mod:`lendstream.status.collect`: the probes, every one bounded, run at once.
- :mod:`lendstream.status.node_probe`: what only a cluster node can read (Kafka, whose brokers
  advertise names only the nodes resolve; ports the firewall opens to the cluster only), run there
  with the node's virtualenv by Ansible's ``script`` module.
- :mod:`lendstream.status.cli`: the command line.
"""
