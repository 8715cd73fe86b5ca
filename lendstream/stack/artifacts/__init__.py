"""Artifact bundles: one relocatable directory of jars per JVM component, resolved by Maven,
built on the controller for the single-machine stack and pushed to the cluster by the
`artifacts` role (docs/artifacts.md). One concern per module:

- ``catalogue``: how each JVM daemon and tool starts from its bundle (main class, classpath,
  arguments, JVM options with its configuration and log configuration files); the one
  description, read by :func:`daemon_command` and checked against the roles' launchers.
- ``maven``: the checked-in POMs under ``artifacts/<component>/`` and the Maven run that fills a
  bundle directory from each.
- ``jars``: what is done to the resolved jars (Storm's de-duplication, Hadoop's HDFS web
  applications) and the one-logging-backend-per-classpath check.
- ``files``: the checksum manifest, verification, and the reproducible tarball.
- ``bundles``: the cache, the rebuild rule and the build itself (:func:`bundle_path`).
- ``__main__``: ``lendstream artifacts build|verify|list`` (= ``python -m
  lendstream.stack.artifacts``).
"""

from lendstream.stack.artifacts.bundles import bundle_path
from lendstream.stack.artifacts.catalogue import daemon_command
from lendstream.stack.artifacts.errors import BundleError
from lendstream.stack.artifacts.files import verify

__all__ = ["BundleError", "bundle_path", "daemon_command", "verify"]
