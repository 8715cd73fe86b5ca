# frozen_string_literal: true

# Reads cluster.yml for the Vagrantfile: the layout's nodes (name, address, roles, memory, CPUs)
# and its Ansible groups. It mirrors lendstream/cluster.py (the reference loader);
# tests/vcluster/test_agreement.py fails if the two ever disagree.

require "ipaddr"
require "socket"
require "yaml"

module LendstreamCluster
  # The box make vagrant-box builds (lendstream/vagrant/box.py BOX_NAME).
  LOCAL_BOX = "lendstream/bookworm64"
  # The host's apt proxy port on the private network (lendstream/vcluster/aptproxy.py PROXY_PORT).
  APT_PROXY_PORT = 3149
  ROLE_GROUPS = { "master" => "masters", "worker" => "workers" }.freeze
  SELECTOR = /\A(masters|workers)(?:\.([1-9][0-9]*))?\z/.freeze

  Node = Struct.new(:name, :address, :roles, :memory_mib, :cpus, :fqdn, keyword_init: true)
  Layout = Struct.new(:name, :network, :host_address, :nodes, :groups, keyword_init: true)

  def self.load(path, layout_name)
    description = YAML.safe_load(File.read(path))
    layouts = description.fetch("layouts")
    unless layouts.key?(layout_name)
      raise ArgumentError, "no layout #{layout_name.inspect} in #{path} " \
                           "(known: #{layouts.keys.sort.join(', ')})"
    end
    body = layouts.fetch(layout_name)
    sizes = body.fetch("sizes")
    nodes = body.fetch("nodes").map do |entry|
      first_role = sizes.fetch(entry.fetch("roles").first)
      Node.new(
        name: entry.fetch("name"),
        address: entry.fetch("address"),
        roles: entry.fetch("roles"),
        memory_mib: entry.fetch("memory_mib", first_role.fetch("memory_mib")),
        cpus: entry.fetch("cpus", first_role.fetch("cpus")),
        fqdn: "#{entry.fetch('name')}.#{description.fetch('domain')}"
      )
    end
    network = IPAddr.new(body.fetch("network"))
    Layout.new(
      name: layout_name,
      network: body.fetch("network"),
      host_address: network.succ.to_s,
      nodes: nodes,
      groups: groups(nodes, description.fetch("groups"))
    )
  end

  # The layout with its private /24 moved to another one: each node keeps its host part
  # (LENDSTREAM_VAGRANT_NETWORK; lendstream/vagrant/host.py node_address does the same).
  def self.relocate(layout, network_text)
    network = IPAddr.new(network_text)
    old = IPAddr.new(layout.network)
    raise ArgumentError, "#{network_text}: give a /24" unless network.prefix == 24

    nodes = layout.nodes.map do |node|
      moved = IPAddr.new(network.to_i + (IPAddr.new(node.address).to_i - old.to_i), Socket::AF_INET)
      node.dup.tap { |n| n.address = moved.to_s }
    end
    Layout.new(name: layout.name, network: "#{network}/24", host_address: network.succ.to_s,
               nodes: nodes, groups: layout.groups)
  end

  # libvirt's management network: four /24s below the private one (host.py management_network).
  def self.management_network(network_text)
    network = IPAddr.new(network_text)
    "#{IPAddr.new(network.to_i - 4 * 256, Socket::AF_INET)}/24"
  end

  def self.groups(nodes, placements)
    result = {}
    ROLE_GROUPS.each do |role, group|
      result[group] = nodes.select { |n| n.roles.include?(role) }.map(&:name)
    end
    placements.each do |group, body|
      members = []
      body.fetch("hosts").each do |selector|
        select(nodes, selector, group).each { |name| members << name unless members.include?(name) }
      end
      result[group] = members
    end
    result
  end

  def self.select(nodes, selector, group)
    match = SELECTOR.match(selector)
    raise ArgumentError, "group #{group}: bad selector #{selector.inspect}" if match.nil?

    role = match[1] == "masters" ? "master" : "worker"
    candidates = nodes.select { |n| n.roles.include?(role) }
    return candidates.map(&:name) if match[2].nil?

    index = match[2].to_i
    raise ArgumentError, "group #{group}: #{selector} names no node" if index > candidates.size

    [candidates[index - 1].name]
  end
end
