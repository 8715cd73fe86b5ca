"""The HTML overview: one server-side Jinja template, no JavaScript.

Kept as Python strings (not a templates/ folder) so the page ships with the code in every
install, editable or not.
"""

from __future__ import annotations

_STYLE = """
  body { font-family: system-ui, sans-serif; margin: 1.5rem 2rem; color: #1f2328; }
  h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
  h2 { font-size: 1.15rem; margin-top: 1.8rem; border-bottom: 1px solid #d0d7de; }
  h3 { font-size: 1rem; margin: 1rem 0 0.3rem; }
  .subtitle { color: #59636e; margin-top: 0; }
  table { border-collapse: collapse; margin: 0.4rem 0 0.8rem; font-size: 0.9rem; }
  th, td { border: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: right; }
  th { background: #f6f8fa; }
  td.text, th.text { text-align: left; }
  .status-ACTIVE, .status-Leader { color: #1a7f37; font-weight: 600; }
  .status-Offline, .status-KILLED { color: #cf222e; font-weight: 600; }
  .error { color: #cf222e; max-width: 40rem; text-align: left; font-size: 0.8rem; }
  .empty { color: #59636e; font-style: italic; }
"""

OVERVIEW_TEMPLATE = (
    """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="30">
<title>Storm UI — lendstream</title>
<style>"""
    + _STYLE
    + """</style>
</head>
<body>
<h1>Storm cluster</h1>
<p class="subtitle">lendstream Storm UI · Storm {{ cluster.stormVersion }} · read from nimbus
{{ nimbus_address }} · refreshes every 30 s · <a href="/api/v1/cluster/summary">JSON API</a></p>

<h2>Cluster summary</h2>
<table>
<tr><th>Version</th><th>Supervisors</th><th>Topologies</th><th>Used slots</th>
<th>Free slots</th><th>Total slots</th><th>Executors</th><th>Tasks</th></tr>
<tr><td>{{ cluster.stormVersion }}</td><td>{{ cluster.supervisors }}</td>
<td>{{ cluster.topologies }}</td><td>{{ cluster.slotsUsed }}</td><td>{{ cluster.slotsFree }}</td>
<td>{{ cluster.slotsTotal }}</td><td>{{ cluster.executorsTotal }}</td>
<td>{{ cluster.tasksTotal }}</td></tr>
</table>

<h2>Nimbus</h2>
<table>
<tr><th class="text">Host</th><th>Port</th><th class="text">Status</th>
<th class="text">Version</th><th>Uptime</th></tr>
{% for nimbus in nimbuses %}
<tr><td class="text">{{ nimbus.host }}</td><td>{{ nimbus.port }}</td>
<td class="text status-{{ nimbus.status }}">{{ nimbus.status }}</td>
<td class="text">{{ nimbus.version }}</td><td>{{ nimbus.nimbusUpTime }}</td></tr>
{% endfor %}
</table>

<h2>Supervisors</h2>
{% if supervisors %}
<table>
<tr><th class="text">Host</th><th class="text">Id</th><th>Uptime</th><th>Slots</th>
<th>Used slots</th><th>Memory (MB)</th><th>CPU (%)</th><th class="text">Version</th></tr>
{% for supervisor in supervisors %}
<tr><td class="text">{{ supervisor.host }}</td><td class="text">{{ supervisor.id }}</td>
<td>{{ supervisor.uptime }}</td><td>{{ supervisor.slotsTotal }}</td>
<td>{{ supervisor.slotsUsed }}</td><td>{{ "%.0f"|format(supervisor.totalMem) }}</td>
<td>{{ "%.0f"|format(supervisor.totalCpu) }}</td>
<td class="text">{{ supervisor.version }}</td></tr>
{% endfor %}
</table>
{% else %}
<p class="empty">No supervisor is registered with nimbus.</p>
{% endif %}

<h2>Topologies</h2>
{% if not topologies %}<p class="empty">No topology is running.</p>{% endif %}
{% for topology in topologies %}
<h3>{{ topology.name }}
<span class="status-{{ topology.status }}">{{ topology.status }}</span></h3>
<table>
<tr><th class="text">Id</th><th>Uptime</th><th>Workers</th><th>Executors</th><th>Tasks</th>
<th>Message timeout (s)</th><th>Emitted</th><th>Acked</th><th>Failed</th>
<th>Complete latency (ms)</th></tr>
{% set totals = topology.topologyStats[-1] %}
<tr><td class="text"><a href="/api/v1/topology/{{ topology.id|urlencode }}">{{ topology.id }}</a>
</td><td>{{ topology.uptime }}</td><td>{{ topology.workersTotal }}</td>
<td>{{ topology.executorsTotal }}</td><td>{{ topology.tasksTotal }}</td>
<td>{{ topology.msgTimeout if topology.msgTimeout is not none else "" }}</td>
<td>{{ totals.emitted }}</td><td>{{ totals.acked }}</td><td>{{ totals.failed }}</td>
<td>{{ totals.completeLatency }}</td></tr>
</table>
<table>
<tr><th class="text">Spout</th><th>Executors</th><th>Tasks</th><th>Emitted</th>
<th>Transferred</th><th>Complete latency (ms)</th><th>Acked</th><th>Failed</th>
<th class="text">Last error</th></tr>
{% for spout in topology.spouts %}
<tr><td class="text">{{ spout.spoutId }}</td><td>{{ spout.executors }}</td>
<td>{{ spout.tasks }}</td><td>{{ spout.emitted }}</td><td>{{ spout.transferred }}</td>
<td>{{ spout.completeLatency }}</td><td>{{ spout.acked }}</td><td>{{ spout.failed }}</td>
<td class="error" title="{{ spout.lastError }}">{{ spout.lastError|truncate(160) }}</td></tr>
{% endfor %}
</table>
<table>
<tr><th class="text">Bolt</th><th>Executors</th><th>Tasks</th><th>Emitted</th>
<th>Transferred</th><th>Capacity</th><th>Execute latency (ms)</th><th>Executed</th>
<th>Process latency (ms)</th><th>Acked</th><th>Failed</th><th class="text">Last error</th></tr>
{% for bolt in topology.bolts %}
<tr><td class="text">{{ bolt.boltId }}</td><td>{{ bolt.executors }}</td>
<td>{{ bolt.tasks }}</td><td>{{ bolt.emitted }}</td><td>{{ bolt.transferred }}</td>
<td>{{ bolt.capacity }}</td><td>{{ bolt.executeLatency }}</td><td>{{ bolt.executed }}</td>
<td>{{ bolt.processLatency }}</td><td>{{ bolt.acked }}</td><td>{{ bolt.failed }}</td>
<td class="error" title="{{ bolt.lastError }}">{{ bolt.lastError|truncate(160) }}</td></tr>
{% endfor %}
</table>
{% endfor %}
</body>
</html>
"""
)

UNAVAILABLE_TEMPLATE = (
    """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="15">
<title>Storm UI — nimbus unavailable</title><style>"""
    + _STYLE
    + """</style></head>
<body>
<h1>Nimbus is unavailable</h1>
<p>None of the nimbus seeds ({{ seeds }}) answered.</p>
<p class="error">{{ reason }}</p>
<p class="subtitle">This page retries every 15 s.</p>
</body>
</html>
"""
)
