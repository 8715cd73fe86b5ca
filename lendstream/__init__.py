"""lendstream: a Cloudera-style cluster by Ansible and a realtime loan-application risk pipeline."""
