"""The lendstream Storm UI: a compatible subset of Storm UI's REST API and an HTML overview.

Storm's own UI (``org.apache.storm.daemon.ui.UIServer``) ships in the ``storm-webapp`` jar, which
the Maven registry reachable here does not serve; this package stands in for it, reading
everything from nimbus's Thrift API. See docs/storm-ui.md.
"""
