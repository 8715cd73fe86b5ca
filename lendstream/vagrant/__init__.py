"""Vagrant on libvirt: the local box, the host's daemons and networks, the KVM probe, the smoke."""
