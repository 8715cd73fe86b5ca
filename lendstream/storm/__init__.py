"""Storm from the controller's side, for the single-machine stack and the cluster alike.

- ``nimbus``: the one Thrift client of nimbus (bounded connect, closed after use, the leader
  found among the seeds); the Storm UI reads through it too;
- ``jar``: the topology jar, written without Leiningen, and ``sparse submit`` of it;
- ``deployment``: what runs on nimbus, and replacing a running topology safely;
- ``inventory``: the cluster target an Ansible inventory describes;
- ``__main__``: ``python -m lendstream.storm build|deploy|kill|status`` (docs/topology.md).

The single-machine stack's settings and nimbus are lendstream.stack.topology.
"""
