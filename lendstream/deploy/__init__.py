"""What the controller prepares for a cluster deployment: the Python wheelhouse, the DDL."""
