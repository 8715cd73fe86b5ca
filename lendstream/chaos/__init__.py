"""The fault suite: faults injected into a deployed simulated cluster under a steady load.

While applicants stream from MariaDB through the producer, Kafka, the topology and the risk
service into HBase, each fault of :mod:`lendstream.chaos.faults` is injected, held, healed, and the
pipeline is then checked with ``lendstream.reconcile``: every applicant published is stored
exactly once or dead-lettered for its own defect. ``python -m lendstream.chaos --layout ci``
(``make chaos``) prints one row per fault (docs/faults.md).

Modules: ``cluster`` (reaching the nodes, playbooks, reconcile), ``load`` (the steady loader),
``faults`` (the catalogue), ``probe`` (run on a node: topic size, end-to-end delays read back from
HBase), ``report`` (recovery time and the table), ``runner`` (one fault after another).
"""
