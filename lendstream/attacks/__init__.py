"""The attack suite on a deployed simulated cluster (issue 11): attacks from a stranger on the
cluster's network and from a cluster member (:mod:`.suite`, the clients in :mod:`.clients`), and a
packet capture on the bridge that looks for applicant data in clear text (:mod:`.capture`).
``python -m lendstream.attacks --layout ci`` runs them (:mod:`.runner`) and prints the tables."""
