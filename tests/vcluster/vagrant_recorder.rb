# frozen_string_literal: true

# Loads a Vagrantfile against a recording stand-in for Vagrant's configuration DSL and prints, as
# JSON, what it configured: machines, addresses, memory/CPUs per provider, provisioners. Used by
# test_agreement.py to compare the Vagrantfile with cluster.yml without a hypervisor.
# Usage: ruby vagrant_recorder.rb path/to/Vagrantfile

require "json"

# Settings of a provider or provisioner block: records every `x.key = value`.
class Settings
  attr_reader :values

  def initialize
    @values = {}
  end

  def method_missing(name, *args)
    key = name.to_s
    return super unless key.end_with?("=")

    @values[key.chomp("=")] = args.first
  end

  def respond_to_missing?(name, include_private = false)
    name.to_s.end_with?("=") || super
  end
end

# `config.trigger`: records which actions have triggers (their blocks are not run).
class TriggerSettings
  attr_reader :recorded

  def initialize
    @recorded = []
  end

  def before(*actions)
    @recorded << ["before", actions.flatten.map(&:to_s)]
  end

  def after(*actions)
    @recorded << ["after", actions.flatten.map(&:to_s)]
  end
end

# The `vm` namespace of a (machine) configuration.
class VmSettings
  attr_accessor :box, :hostname, :boot_timeout
  attr_reader :machines, :networks, :providers, :provisioners, :synced_folders

  def initialize
    @machines = []
    @networks = []
    @providers = {}
    @provisioners = []
    @synced_folders = []
  end

  def define(name, **_options)
    machine = MachineConfig.new
    yield machine
    @machines << [name.to_s, machine]
  end

  def network(type, **options)
    @networks << options.transform_keys(&:to_s).merge("type" => type.to_s)
  end

  def provider(name)
    settings = (@providers[name.to_s] ||= Settings.new)
    yield settings
  end

  # `provision "ansible" do ...` or `provision "name", type: "shell", path: ..., args: [...]`.
  def provision(name, **options)
    settings = Settings.new
    options.each { |key, value| settings.values[key.to_s] = value }
    settings.values["name"] = name.to_s if options.key?(:type)
    yield settings if block_given?
    @provisioners << [(options[:type] || name).to_s, settings]
  end

  def synced_folder(source, target, **options)
    @synced_folders << { "source" => source, "target" => target }.merge(options.transform_keys(&:to_s))
  end
end

# A configuration: the top-level one, or one machine's.
class MachineConfig
  attr_reader :vm, :trigger

  def initialize
    @vm = VmSettings.new
    @trigger = TriggerSettings.new
  end

  def to_h
    {
      "box" => vm.box,
      "boot_timeout" => vm.boot_timeout,
      "triggers" => trigger.recorded,
      "hostname" => vm.hostname,
      "networks" => vm.networks,
      "providers" => vm.providers.transform_values(&:values),
      "provisioners" => vm.provisioners.map { |type, s| s.values.merge("type" => type) },
      "synced_folders" => vm.synced_folders,
      "machines" => vm.machines.map { |name, machine| machine.to_h.merge("name" => name) }
    }
  end
end

module Vagrant
  def self.configure(_version)
    config = MachineConfig.new
    yield config
    puts JSON.pretty_generate(config.to_h)
  end
end

load ARGV.fetch(0)
