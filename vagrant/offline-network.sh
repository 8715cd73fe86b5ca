#!/bin/sh
# Shell provisioner of every machine when LENDSTREAM_VAGRANT_OFFLINE=1 (see the Vagrantfile):
# the machine reaches nothing but the host. Debian comes through the host's apt proxy, and the
# default route goes to the host's address on the private network (the host forwards nothing),
# so facts such as ansible_default_ipv4 are the machine's cluster address, as on the simulated
# cluster. Idempotent.
#   offline-network.sh <cluster address> <host address> <apt proxy URL>
set -eu
address=$1
host=$2
proxy=$3

device=$(ip -o -4 addr show | awk -v a="$address" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }')
if [ -z "$device" ]; then
  echo "offline-network: no interface has $address" >&2
  exit 1
fi
# systemd-networkd (the lendstream box): a drop-in beside Vagrant's own file for the interface.
if [ -f "/etc/systemd/network/50-vagrant-$device.network" ]; then
  mkdir -p "/etc/systemd/network/50-vagrant-$device.network.d"
  printf '[Network]\nGateway=%s\n' "$host" >"/etc/systemd/network/50-vagrant-$device.network.d/lendstream-gateway.conf"
fi
ip route replace default via "$host" dev "$device"

# Debian through the proxy only.
if [ -f /etc/apt/sources.list ]; then
  echo "# see /etc/apt/sources.list.d/lendstream.sources" >/etc/apt/sources.list
fi
find /etc/apt/sources.list.d -name '*.list' -o -name '*.sources' ! -name lendstream.sources | xargs -r rm -f
cat >/etc/apt/sources.list.d/lendstream.sources <<SOURCES
# Vagrant machine, offline: Debian through the apt proxy on the host (lendstream.vagrant).
Types: deb
URIs: $proxy/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $proxy/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
echo "offline-network: $address on $device, default route via $host, apt through $proxy"
