//! The drift rules: every kind of drift the checker can report, as data
//! (id, category, severity, what it means, why it matters, how it is
//! fixed), and the classification of a drift into exactly one rule.
//!
//! Rule ids are stable: waivers, JSON consumers and CI annotations refer
//! to them. Add rules; never rename or reuse one.

use abi_model::drift::{Category, Drift, FactPath, Severity};

/// One rule.
#[derive(Debug)]
pub struct Rule {
    /// Stable id, e.g. `aml-object-added`.
    pub id: &'static str,
    /// Category.
    pub category: Category,
    /// Default severity.
    pub severity: Severity,
    /// One line: what was observed.
    pub summary: &'static str,
    /// Why it matters to guests and to migration.
    pub why: &'static str,
    /// How such a change is usually made safe.
    pub fix: &'static str,
}

const COMPAT_FIX: &str = "If the change is intended for new machine types only, gate it behind a device or machine \
property and turn the old behaviour back on for older machine types through the hw_compat_X_Y / pc_compat_X_Y \
tables; if it is a bug fix that old guests must also see, record a reviewed waiver with the reason.";

/// Every rule, in report order within a category.
pub const RULES: &[Rule] = &[
    // ACPI
    Rule {
        id: "acpi-table-added",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An ACPI table appeared.",
        why: "Guest OSes enumerate tables at boot; a new table can change which drivers bind and what a guest \
              created on the old release sees after a reboot on the new one.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "acpi-table-removed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An ACPI table disappeared.",
        why: "Guests may depend on it (e.g. HPET, SRAT for NUMA); removing it changes the platform under them.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "acpi-table-revision",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An ACPI table's header revision changed.",
        why: "The revision selects which layout and which fields the OS parses (e.g. MADT revision 3 allows \
              Online Capable flags); an OS may behave differently for the same machine type.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "acpi-header-id",
        category: Category::Acpi,
        severity: Severity::Warn,
        summary: "An ACPI table's OEM or creator identification changed.",
        why: "Some OSes and licensing checks key on OEM ids; usually harmless, but visible to the guest.",
        fix: "Keep the ids stable for old machine types (QEMU exposes x-oem-id / x-oem-table-id machine \
              properties).",
    },
    Rule {
        id: "acpi-derived",
        category: Category::Acpi,
        severity: Severity::Info,
        summary: "An ACPI table's length or checksum changed as a consequence of another change.",
        why: "Not an ABI change on its own; the change that caused it is reported separately.",
        fix: "Nothing to do beyond the underlying change.",
    },
    Rule {
        id: "acpi-field-changed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "A field of a fixed-layout ACPI table (FADT, MADT, MCFG, HPET, SRAT, …) changed.",
        why: "The OS programs interrupt controllers, power management and timers from these fields.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "acpi-entry-added",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "A fixed-table entry or field appeared (e.g. a new MADT structure).",
        why: "The OS sees a new interrupt controller, processor or affinity entry.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "acpi-entry-removed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "A fixed-table entry or field disappeared.",
        why: "The OS no longer sees an interrupt controller, processor or affinity entry it saw before.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "aml-object-added",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An object appeared in the AML namespace (DSDT/SSDT).",
        why: "Guests evaluate AML objects: a new _SUN, _DSM or device changes NIC names, hot-plug and driver \
              binding (QEMU 6.0 broke Linux NIC names by adding _SUN to old i440fx types).",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "aml-object-removed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An object disappeared from the AML namespace.",
        why: "Guests that used it (device identification, hot-plug, power methods) lose it.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "aml-object-changed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An AML object kept its name but changed its value, resources or definition.",
        why: "A changed _CRS, _HID or _ADR moves or re-identifies a device for the guest.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "aml-method-changed",
        category: Category::Acpi,
        severity: Severity::Break,
        summary: "An AML method's argument count, flags or body changed.",
        why: "Guests call methods for hot-plug, _DSM queries and power management; different code can return \
              different answers (QEMU 6.0's _DSM function 7 broke localized Windows guests).",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "aml-scope-layout",
        category: Category::Acpi,
        severity: Severity::Info,
        summary: "A Scope () block of the AML came or went: how the objects are grouped in the table, not which exist.",
        why: "Scope (PATH) { ... } opens a namespace path that exists elsewhere to define objects there; it creates \
              nothing the guest can name or evaluate. QEMU regroups its objects into Scope blocks in refactors \
              (5.2 -> 7.2 moved the ISA devices out of Scope (\\_SB.PCI0.ISA) into the device, 8.0 gave each \
              hotplug slot a Scope of its own), and the namespace the guest loads is the same. Every object inside \
              a Scope is compared on its own, so nothing the guest sees is hidden.",
        fix: "Nothing: the objects inside are reported on their own.",
    },
    Rule {
        id: "aml-object-renamed",
        category: Category::Acpi,
        severity: Severity::Info,
        summary: "An AML object (with everything below it) got a new name but the same definition and contents.",
        why: "The definition the guest evaluates is unchanged; only the name differs. Names are visible (Windows \
              device instance paths include them), so look twice if the object is a device. Objects elsewhere \
              whose only change is the new name (a Field on a renamed region) follow the rename; objects the \
              renamed subtree gained (QEMU 7.1 made the ISA bridge a slot device with acpi-index objects) are \
              reported on their own.",
        fix: "Nothing, if the rename is intended.",
    },
    Rule {
        id: "acpi-undecoded",
        category: Category::Acpi,
        severity: Severity::Warn,
        summary: "Part of an ACPI table could not be decoded (unknown opcode, malformed data).",
        why: "machine-abi cannot tell what changed there; the bytes are compared, so nothing is missed, but the \
              report cannot name the object.",
        fix: "Look at the table with iasl (machine-abi diff --asl); report the unknown construct to machine-abi.",
    },
    // PCI
    Rule {
        id: "pci-function-added",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI function appeared.",
        why: "The guest enumerates a new device; slot numbering and device names can shift.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-function-removed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI function disappeared.",
        why: "The guest loses a device it had; migration of a VM that has it fails.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-id-changed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI function's vendor, device, subsystem, class or revision changed.",
        why: "Drivers bind on these ids; Windows re-detects hardware when they change.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-capability-changed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI capability or extended capability appeared, disappeared, moved or changed a field.",
        why: "Capabilities are migrated as config space; the destination must present the same layout and \
              masks (QEMU 8.0 changed the AER uncorrectable error mask and broke migration of pc-*-7.2).",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-bar-changed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI BAR changed size, type or prefetchability.",
        why: "The guest's resource allocation changes; migration fails on a BAR size mismatch.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-config-changed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI config space register changed.",
        why: "Config space is guest-visible and migrated; a different reset value is a different device.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "pci-topology-changed",
        category: Category::Pci,
        severity: Severity::Break,
        summary: "A PCI function moved in the bus hierarchy or a bridge window changed.",
        why: "Device paths and names in the guest depend on the topology.",
        fix: COMPAT_FIX,
    },
    // SMBIOS
    Rule {
        id: "smbios-structure-added",
        category: Category::Smbios,
        severity: Severity::Break,
        summary: "An SMBIOS structure appeared.",
        why: "Inventory and licensing software in the guest reads SMBIOS.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "smbios-structure-removed",
        category: Category::Smbios,
        severity: Severity::Break,
        summary: "An SMBIOS structure disappeared.",
        why: "Inventory and licensing software in the guest reads SMBIOS.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "smbios-field-changed",
        category: Category::Smbios,
        severity: Severity::Break,
        summary: "A field of an SMBIOS structure changed.",
        why: "Guests report and sometimes act on these values (processor family, memory layout, UUID \
              handling); Windows activation can key on them.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "smbios-firmware-string",
        category: Category::Smbios,
        severity: Severity::Warn,
        summary: "A BIOS Information string (vendor, version, release date) changed.",
        why: "These come from the firmware build, not from the machine type; they change with every SeaBIOS \
              update.",
        fix: "Nothing, unless the firmware was not meant to change.",
    },
    Rule {
        id: "smbios-entry-point",
        category: Category::Smbios,
        severity: Severity::Info,
        summary: "The SMBIOS entry point changed (table length, structure count, checksum).",
        why: "A consequence of structure changes, which are reported separately.",
        fix: "Nothing to do beyond the underlying change.",
    },
    Rule {
        id: "smbios-version",
        category: Category::Smbios,
        severity: Severity::Break,
        summary: "The SMBIOS version or entry point type (2.x / 3.x) changed.",
        why: "The guest parses a different layout; QEMU keeps it per machine type (smbios-entry-point-type).",
        fix: COMPAT_FIX,
    },
    // CPUID
    Rule {
        id: "cpuid-feature-changed",
        category: Category::Cpuid,
        severity: Severity::Break,
        summary: "A named CPUID feature bit changed.",
        why: "Guests pick code paths from CPUID at boot; a feature that disappears under a running guest (after \
              migration) crashes it, and a new one changes behaviour.",
        fix: "Keep the default CPU model of old machine types stable (compat properties on the CPU model).",
    },
    Rule {
        id: "cpuid-field-changed",
        category: Category::Cpuid,
        severity: Severity::Break,
        summary: "A multi-bit CPUID field (family, model, topology, cache or address sizes) changed.",
        why: "Guests size caches, count cores and pick microcode paths from these fields.",
        fix: "Keep the default CPU model of old machine types stable (compat properties on the CPU model).",
    },
    Rule {
        id: "cpuid-leaf-changed",
        category: Category::Cpuid,
        severity: Severity::Break,
        summary: "A CPUID leaf appeared, disappeared or changed where machine-abi has no names for the bits.",
        why: "Guests read CPUID; QEMU 2.1 changed leaf 0x40000000 without compat code.",
        fix: "Keep the default CPU model of old machine types stable (compat properties on the CPU model).",
    },
    // Memory map
    Rule {
        id: "memory-map-changed",
        category: Category::MemoryMap,
        severity: Severity::Break,
        summary: "The firmware memory map (e820) changed.",
        why: "Guests place kernels, reserve regions and size RAM from it; a moved hole breaks PCI hole sizing \
              and hibernation images.",
        fix: COMPAT_FIX,
    },
    // fw_cfg
    Rule {
        id: "fw_cfg-file-added",
        category: Category::FwCfg,
        severity: Severity::Break,
        summary: "A fw_cfg file appeared.",
        why: "Firmware reads fw_cfg files; the file directory is part of the machine and of its migration state.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "fw_cfg-file-removed",
        category: Category::FwCfg,
        severity: Severity::Break,
        summary: "A fw_cfg file disappeared.",
        why: "Firmware reads fw_cfg files; the file directory is part of the machine and of its migration state.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "fw_cfg-payload-file",
        category: Category::FwCfg,
        severity: Severity::Warn,
        summary: "A fw_cfg file of the direct kernel boot payload (etc/boot/*, the linuxboot/multiboot loader \
                  ROM, its bootorder entry) appeared, disappeared or changed.",
        why: "These exist because machine-abi boots its probe with -kernel; VMs that boot from disk have none of \
              them, and which loader ROM QEMU picks depends on the kind of image, not on the machine type.",
        fix: "Nothing for disk-booted guests; check that direct kernel boot still works.",
    },
    Rule {
        id: "fw_cfg-rom-content",
        category: Category::FwCfg,
        severity: Severity::Warn,
        summary: "The code of an option ROM QEMU loads through fw_cfg changed; its size did not.",
        why: "The ROM's size is part of the machine (its memory block is migrated, so a size change is \
              fw_cfg-content-changed); its code is rebuilt by every distribution toolchain from unchanged \
              source, and a guest sees the ROM's behaviour, not its bytes.",
        fix: "Look at the detail: same size and a valid checksum is a rebuild; a changed source of the ROM is a \
              change to review.",
    },
    Rule {
        id: "fw_cfg-selector-shift",
        category: Category::FwCfg,
        severity: Severity::Info,
        summary: "A fw_cfg file's selector moved because files were added or removed before it.",
        why: "Selectors are assigned in name order; the shift is explained by the added or removed files, which \
              are reported separately.",
        fix: "Nothing to do beyond the underlying change.",
    },
    Rule {
        id: "fw_cfg-selector-changed",
        category: Category::FwCfg,
        severity: Severity::Break,
        summary: "A fw_cfg file's selector changed without files being added or removed before it.",
        why: "fw_cfg order is migrated (QEMU keeps legacy ordering per machine type); a guest firmware reading \
              by selector after migration reads the wrong file.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "fw_cfg-content-changed",
        category: Category::FwCfg,
        severity: Severity::Break,
        summary: "A fw_cfg file's size or content, or a fw_cfg key, changed.",
        why: "Firmware configures the machine from it (e820, boot order, SMP count, feature control MSRs); the \
              RSDP's revision and OEM id are what an OS reads first; and the ACPI blobs (tables, loader, RSDP) \
              live in ROM blocks of guest memory that migrate, so their size must stay.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "fw_cfg-content-derived",
        category: Category::FwCfg,
        severity: Severity::Info,
        summary: "A fw_cfg file that carries ACPI or SMBIOS tables changed, or QEMU's e820 table in a way the guest's memory map shows.",
        why: "The guest sees these as ACPI tables and SMBIOS structures, which are decoded and reported \
              separately; the table loader's commands and the RSDP's checksums and addresses follow from \
              the tables' layout. etc/e820 is the input the firmware builds the guest's memory map from: \
              when every entry that came or went starts a range of the map that changed, the map's \
              findings name the change (an e820 change the map does not show stays fw_cfg-content-changed).",
        fix: "Nothing to do beyond the underlying change.",
    },
    // virtio
    Rule {
        id: "virtio-device-changed",
        category: Category::Virtio,
        severity: Severity::Break,
        summary: "A virtio device appeared, disappeared or changed its device id or transport.",
        why: "The guest binds a different driver or none.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "virtio-feature-changed",
        category: Category::Virtio,
        severity: Severity::Break,
        summary: "A virtio device offers a different set of feature bits.",
        why: "Features are negotiated once; a device that no longer offers a feature the guest acked fails \
              migration or loses function.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "virtio-queue-changed",
        category: Category::Virtio,
        severity: Severity::Break,
        summary: "A virtio device's queue count or queue size changed.",
        why: "Queue layout is negotiated and migrated.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "virtio-config-changed",
        category: Category::Virtio,
        severity: Severity::Break,
        summary: "A virtio device's device-specific config space changed.",
        why: "Guests read MAC addresses, disk geometry and queue limits from it.",
        fix: COMPAT_FIX,
    },
    // Host side
    // Device tree
    Rule {
        id: "dt-node-added",
        category: Category::DeviceTree,
        severity: Severity::Break,
        summary: "A device tree node appeared (with everything below it).",
        why: "A device-tree guest probes a driver for every node; a new node is a new device, bus or \
              description the guest did not see before (QEMU generates the tree for virt on every boot, so \
              every change of its generator reaches existing VMs).",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "dt-node-removed",
        category: Category::DeviceTree,
        severity: Severity::Break,
        summary: "A device tree node disappeared (with everything below it).",
        why: "A device-tree guest loses the device or description the node gave it.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "dt-property-changed",
        category: Category::DeviceTree,
        severity: Severity::Break,
        summary: "A device tree property appeared, disappeared or changed (phandle renumbering excepted), or the \
                  order of a node's children or the tree's header changed.",
        why: "Drivers read their registers, interrupts, clocks and quirks from properties; the node order is the \
              order Linux probes devices in, and so how it names them.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "dt-boot-payload",
        category: Category::DeviceTree,
        severity: Severity::Info,
        summary: "A /chosen property that carries the boot payload (command line, initrd addresses, the EFI \
                  stub's memory map and system table, seeds) changed.",
        why: "These describe what was booted and where the loader put it (the initrd size follows the probe \
              binary, QEMU 10 passes initrd addresses with two cells), not the machine type: a guest booted from \
              disk gets its own.",
        fix: "Nothing for the machine type; check that direct kernel boot still works.",
    },
    Rule {
        id: "host-compat-changed",
        category: Category::HostSide,
        severity: Severity::Info,
        summary: "The hw_compat/pc_compat tables the machine type applies changed.",
        why: "Compat entries are how QEMU keeps an old machine type's ABI; a new table for the machine type is \
              expected in every release. They explain guest-visible drift, or its absence.",
        fix: "Nothing by itself; look at guest-visible drift next to it.",
    },
    Rule {
        id: "host-machine-changed",
        category: Category::HostSide,
        severity: Severity::Break,
        summary: "A property QMP reports for the machine type changed (default CPU type, RAM id, CPU limit, …).",
        why: "Management layers and guests depend on the defaults of a versioned machine type.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "host-machine-policy",
        category: Category::HostSide,
        severity: Severity::Info,
        summary: "A machine type's support policy changed (it is now deprecated).",
        why: "Deprecation is the QEMU project's announcement that the type will be removed after its deprecation \
              period; it changes neither what a guest sees nor what migrates.",
        fix: "Nothing for the ABI; plan to move VMs to a newer machine type before it is removed.",
    },
    Rule {
        id: "host-device-changed",
        category: Category::HostSide,
        severity: Severity::Warn,
        summary: "A default device of the machine type appeared, disappeared or has a different property value.",
        why: "Device properties decide guest-visible behaviour and migration state; the guest-side facts show \
              whether this one reached the guest.",
        fix: COMPAT_FIX,
    },
    Rule {
        id: "host-property-set",
        category: Category::HostSide,
        severity: Severity::Info,
        summary: "A device, machine or CPU property exists on one side only (a new or retired knob).",
        why: "New properties come with compat entries that pin the old behaviour for old machine types; a value \
              that changed is reported separately.",
        fix: "Nothing, if the compat tables cover the new knob.",
    },
    Rule {
        id: "host-property-renamed",
        category: Category::HostSide,
        severity: Severity::Info,
        summary: "A device or CPU property, or a device's QOM type name, was renamed and kept its value.",
        why: "Properties are the host's handle on a device, not something the guest sees; a rename with the same \
              value (`x-foo` made stable as `foo`) leaves the device as it was. Command lines and compat entries \
              that use the old name need the new one. The same holds for a QOM type name respelled at the same \
              address (QEMU 6.x: \"ICH9 SMB\" became \"ICH9-SMB\"): its properties are compared across the rename.",
        fix: "Nothing for the ABI; update configurations that set the old name.",
    },
    Rule {
        id: "host-cpu-model-changed",
        category: Category::HostSide,
        severity: Severity::Warn,
        summary: "The expansion of the machine type's default CPU model changed.",
        why: "CPU model properties become CPUID bits; the CPUID facts show what the guest sees.",
        fix: "Keep the default CPU model of old machine types stable (compat properties on the CPU model).",
    },
    Rule {
        id: "host-vmstate-break",
        category: Category::HostSide,
        severity: Severity::Break,
        summary: "A device of the machine type cannot migrate from the old release to the new build.",
        why: "The destination rejects or misreads the migration stream (a section, field or subsection it does \
              not expect); the VM fails to migrate or is corrupted.",
        fix: "Version the change: bump version_id with a field test, or move new state into a subsection with a \
              needed() function gated by a compat property.",
    },
    Rule {
        id: "host-vmstate-backward",
        category: Category::HostSide,
        severity: Severity::Warn,
        summary: "A device of the machine type cannot migrate from the new build back to the old release.",
        why: "Backward migration of old machine types is expected to work for rollbacks.",
        fix: "Gate new state behind a subsection whose needed() is false for old machine types.",
    },
    Rule {
        id: "host-vmstate-backward-version",
        category: Category::HostSide,
        severity: Severity::Break,
        summary: "A device of the machine type sends a section version the old release does not accept: migration \
                  from the new build back to the old release fails for every guest.",
        why: "Backward migration to the same machine type on the older release is what downstreams ship (rollback \
              of a host update, mixed-version clusters) and what compat properties exist for. A raised version_id \
              goes on the wire whatever the guest did, so unlike a subsection there is no needed() test that could \
              keep the old stream: the old build refuses the section and the load fails.",
        fix: "Keep the old version on the wire for old machine types: put the new state into a subsection whose \
              needed() is false under a compat property in hw_compat_X_Y, or make the version itself follow a compat \
              property (as virtio-gpu's x-scanout-vmstate-version did in QEMU 9.0).",
    },
    Rule {
        id: "host-vmstate-info",
        category: Category::HostSide,
        severity: Severity::Info,
        summary: "The migration stream schema changed in a way that keeps the wire format (rename, padding, new \
                  section or subsection).",
        why: "Recognised structurally: same layout, so migration still works.",
        fix: "Nothing.",
    },
    Rule {
        id: "host-unavailable",
        category: Category::HostSide,
        severity: Severity::Warn,
        summary: "A host-side fact could be read on one side only.",
        why: "machine-abi cannot compare what it could not read; the reason is in the record.",
        fix: "Look at the reason (QMP timeout, QEMU error).",
    },
    // Machine
    Rule {
        id: "machine-type-removed",
        category: Category::Machine,
        severity: Severity::Break,
        summary: "The database has this machine type; the binary no longer offers it.",
        why: "A guest defined with the machine type cannot be started, and migration from an older release \
              fails, on this build.",
        fix: "Machine types are removed only after QEMU's deprecation period (docs/about/deprecated.rst and \
              removed-features.rst); waive the removal with a reason naming the release that deprecated it.",
    },
    Rule {
        id: "profile-device-missing",
        category: Category::Machine,
        severity: Severity::Break,
        summary: "A device model the profile's baseline was recorded with does not exist in this build.",
        why: "A guest configured with the device cannot be started on this build, nor migrated to it.",
        fix: "Check the build configuration (a disabled CONFIG_ option, or a module not installed or not found: \
              QEMU_MODULE_DIR); a distribution that drops the device on purpose waives it with the reason.",
    },
    // Probe
    Rule {
        id: "fact-availability",
        category: Category::Probe,
        severity: Severity::Warn,
        summary: "A fact that was read before could not be read now, or the other way round.",
        why: "machine-abi cannot compare what it could not read; the reason is in the record.",
        fix: "Look at the reason: a missing kernel module, a device the probe does not know, a probe bug.",
    },
    Rule {
        id: "probe-os-written",
        category: Category::Probe,
        severity: Severity::Info,
        summary: "A register an operating system writes at boot differs between a record of the Linux probe and \
                  one of the bare probe.",
        why: "Guests depend on the state the machine hands over, which the bare probe reads; the Linux probe reads \
              it after Linux wrote it (_DIS on idle PCI interrupt links, a chipset quirk, a bound driver), which is \
              one OS's policy, not the machine type's ABI. Only the listed bits, and only across probe kinds, are \
              compared this way; the detail names who writes them.",
        fix: "Nothing. Re-record the baseline with the probe kind of the check to compare these bits again.",
    },
    Rule {
        id: "probe-boot-payload",
        category: Category::Probe,
        severity: Severity::Info,
        summary: "A fw_cfg file of the direct kernel boot payload differs between records of different probe \
                  kinds.",
        why: "Each probe brings its own payload: the Linux probe a kernel (linuxboot_dma.bin, and etc/boot/kernel \
              from QEMU 10), the bare probe a Multiboot image (multiboot_dma.bin). Neither is the machine type's; \
              guests that boot from disk see none of it. Within one probe kind the same files are compared under \
              fw_cfg-payload-file.",
        fix: "Nothing. Re-record the baseline with the probe kind of the check to compare the payload again.",
    },
    Rule {
        id: "fact-changed",
        category: Category::Probe,
        severity: Severity::Break,
        summary: "A fact changed that no more specific rule covers.",
        why: "Every recorded fact is guest-visible.",
        fix: COMPAT_FIX,
    },
];

/// Look a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A rule by an id the program itself names (a literal); falls back to
/// `fact-changed` so a typo can never hide a drift. tests/rules.rs makes
/// every rule fire from a fixture, so a misspelt literal fails there.
pub fn must(id: &str) -> &'static Rule {
    rule(id).unwrap_or(&RULES[RULES.len() - 1])
}

/// What is known about a drift when it is classified.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    /// Path segments, unquoted, list keys as their own segment:
    /// `["acpi", "APIC", "header", "revision"]`, `["cpuid", "[cpu=0]", "leaves", …]`.
    pub segments: &'a [String],
    /// Baseline value, `None` if the fact is new.
    pub old: Option<&'a str>,
    /// Observed value, `None` if the fact disappeared.
    pub new: Option<&'a str>,
}

impl Subject<'_> {
    fn seg(&self, i: usize) -> &str {
        self.segments.get(i).map(String::as_str).unwrap_or("")
    }

    /// Everything after the first `n` segments, joined with dots.
    fn rest(&self, n: usize) -> String {
        self.segments.get(n..).map(|s| s.join(".")).unwrap_or_default()
    }

    fn appeared(&self) -> bool {
        self.old.is_none()
    }

    fn vanished(&self) -> bool {
        self.new.is_none()
    }

    fn added_removed(&self, added: &'static str, removed: &'static str, changed: &'static str) -> &'static Rule {
        must(if self.appeared() {
            added
        } else if self.vanished() {
            removed
        } else {
            changed
        })
    }
}

/// The rule a drift falls under. `selector_shift` tells whether a fw_cfg
/// selector change is explained by files added or removed before it.
pub fn classify(s: &Subject, selector_shift: bool) -> &'static Rule {
    if s.segments.iter().any(|x| x == "unavailable") {
        return must("fact-availability");
    }
    match s.seg(0) {
        "acpi" => classify_acpi(s),
        "pci" => classify_pci(s),
        "smbios" => classify_smbios(s),
        "cpuid" => classify_cpuid(s),
        "memory_map" => must("memory-map-changed"),
        "fw_cfg" => classify_fw_cfg(s, selector_shift),
        "virtio" => classify_virtio(s),
        "device_tree" => must(dt_rule(&s.rest(1), s.old, s.new)),
        _ => must("fact-changed"),
    }
}

/// The rule of one decoded device tree item (`abi_decode::dtb` keys:
/// `/node` for its children, `/node:property`, `header.*`, `memreserve[i]`).
pub fn dt_rule(key: &str, old: Option<&str>, new: Option<&str>) -> &'static str {
    if abi_decode::dtb::is_boot_payload(key) {
        return "dt-boot-payload";
    }
    let is_node = key.starts_with('/') && !key.contains(':');
    match (is_node, old, new) {
        (true, None, _) => "dt-node-added",
        (true, _, None) => "dt-node-removed",
        _ => "dt-property-changed",
    }
}

/// AML item kinds as the AML decoder names them (the first word of a key).
const AML_KINDS: &[&str] = &[
    "Scope",
    "Device",
    "Name",
    "Method",
    "Processor",
    "PowerResource",
    "ThermalZone",
    "OperationRegion",
    "Field",
    "IndexField",
    "BankField",
    "Mutex",
    "Event",
    "Alias",
    "External",
    "CreateBitField",
    "CreateByteField",
    "CreateWordField",
    "CreateDWordField",
    "CreateQWordField",
    "CreateField",
];

fn classify_acpi(s: &Subject) -> &'static Rule {
    let item = s.rest(2);
    if s.segments.len() <= 2 || item == "blob" {
        return s.added_removed("acpi-table-added", "acpi-table-removed", "acpi-field-changed");
    }
    // `entries` lists the table's entries, each also reported on its own.
    if item == "size"
        || item == "header.length"
        || item == "header.checksum"
        || item == "definition-block"
        || item == "entries"
    {
        return must("acpi-derived");
    }
    if item == "header.revision" {
        return must("acpi-table-revision");
    }
    if item.starts_with("header.") {
        return must("acpi-header-id");
    }
    if item.starts_with("error") || item.starts_with("unknown") {
        return must("acpi-undecoded");
    }
    let kind = item.split(' ').next().unwrap_or("");
    if AML_KINDS.contains(&kind) && item.contains('\\') {
        return match kind {
            "Scope" => must("aml-scope-layout"),
            "Method" if !s.appeared() && !s.vanished() => must("aml-method-changed"),
            _ => s.added_removed("aml-object-added", "aml-object-removed", "aml-object-changed"),
        };
    }
    s.added_removed("acpi-entry-added", "acpi-entry-removed", "acpi-field-changed")
}

fn classify_pci(s: &Subject) -> &'static Rule {
    if s.segments.len() <= 2 {
        return s.added_removed("pci-function-added", "pci-function-removed", "pci-config-changed");
    }
    let item = s.rest(2);
    let first = s.seg(2);
    match first {
        "vendor" | "device" | "subsystem_vendor" | "subsystem" | "class" | "revision" => must("pci-id-changed"),
        "bars" | "rom_size" => must("pci-bar-changed"),
        "parents" | "bridge" => must("pci-topology-changed"),
        "capabilities" | "ext_capabilities" | "caps" => must("pci-capability-changed"),
        "config" if s.appeared() => must("pci-function-added"),
        "config" if s.vanished() => must("pci-function-removed"),
        _ if item.starts_with("cap ") || item.starts_with("ext ") => must("pci-capability-changed"),
        _ if is_pci_id_item(&item) => must("pci-id-changed"),
        _ if item.contains("bar") || item.contains("BAR") => must("pci-bar-changed"),
        _ => must("pci-config-changed"),
    }
}

/// Decoded header items that identify a PCI function.
fn is_pci_id_item(item: &str) -> bool {
    let field = item.rsplit('.').next().unwrap_or(item);
    [
        "vendor",
        "vendor_id",
        "device",
        "device_id",
        "subsystem_vendor",
        "subsystem_vendor_id",
        "subsys_vendor",
        "subsys_id",
        "subsystem",
        "subsystem_id",
        "revision",
        "revision_id",
        "class",
        "class_code",
        "prog_if",
        "subclass",
        "base_class",
    ]
    .contains(&field)
}

fn classify_smbios(s: &Subject) -> &'static Rule {
    let part = s.seg(1);
    let item = s.rest(2);
    match part {
        "anchor" | "version" => must("smbios-version"),
        // The decoder's names: "Anchor String", "SMBIOS Version", "Entry Point
        // Revision", "SMBIOS BCD Revision".
        "entry_point"
            if ["version", "anchor", "revision"]
                .iter()
                .any(|w| item.to_ascii_lowercase().contains(w)) =>
        {
            must("smbios-version")
        }
        "entry_point" => must("smbios-entry-point"),
        _ => {
            let (structure, field) = item.split_once('.').unwrap_or((item.as_str(), ""));
            if structure.starts_with("BIOS Information")
                && ["Vendor", "BIOS Version", "BIOS Release Date"].contains(&field)
            {
                return must("smbios-firmware-string");
            }
            if field == "handle" || field.is_empty() {
                return s.added_removed(
                    "smbios-structure-added",
                    "smbios-structure-removed",
                    "smbios-field-changed",
                );
            }
            must("smbios-field-changed")
        }
    }
}

fn classify_cpuid(s: &Subject) -> &'static Rule {
    // cpuid [cpu=N] leaves LLLLLLLL.SSSSSSSS [reg name]
    let item = s.rest(4);
    if item.is_empty() || item.ends_with("unnamed_bits") || item.starts_with("raw") {
        return must("cpuid-leaf-changed");
    }
    let single_bit = |v: Option<&str>| v.is_none_or(|v| v == "0" || v == "1");
    if single_bit(s.old) && single_bit(s.new) {
        must("cpuid-feature-changed")
    } else {
        must("cpuid-field-changed")
    }
}

/// fw_cfg files whose content the guest sees decoded elsewhere.
/// Option ROMs QEMU loads for a direct kernel boot: which one depends on
/// the image (bzImage or Multiboot), not on the machine type.
fn loader_rom(name: &str) -> bool {
    name.strip_prefix("genroms/").is_some_and(|r| {
        matches!(
            r,
            "linuxboot.bin" | "linuxboot_dma.bin" | "multiboot.bin" | "multiboot_dma.bin"
        )
    })
}

/// Option ROMs loaded through fw_cfg (QEMU's own and VGA BIOSes).
fn option_rom(name: &str) -> bool {
    name.starts_with("genroms/") || name.starts_with("vgaroms/")
}

/// A bootorder line that names the direct kernel boot's loader ROM.
fn payload_boot_entry(line: &str) -> bool {
    line.split("/rom@").nth(1).is_some_and(loader_rom)
}

/// The fw_cfg files QEMU also maps into guest memory as migrated ROM blocks.
fn acpi_rom_block(name: &str) -> bool {
    matches!(name, "etc/acpi/tables" | "etc/table-loader" | "etc/acpi/rsdp")
}

fn derived_fw_cfg_file(name: &str) -> bool {
    name.starts_with("etc/acpi/") || name == "etc/table-loader" || name.starts_with("etc/smbios/")
}

fn classify_fw_cfg(s: &Subject, selector_shift: bool) -> &'static Rule {
    if s.seg(1) != "files" {
        return must("fw_cfg-content-changed");
    }
    let name = s.seg(2);
    let field = s.rest(3);
    // The loader ROM coming, going or changing is payload; its selector
    // moving with the files around it is like any file's.
    if name.starts_with("etc/boot/") || (loader_rom(name) && field != "selector") {
        return must("fw_cfg-payload-file");
    }
    // A decoded bootorder line (fw_cfg.files.bootorder.content.<line>).
    if name == "bootorder" && field.starts_with("content.") {
        return must(if payload_boot_entry(s.seg(4)) {
            "fw_cfg-payload-file"
        } else {
            "fw_cfg-content-changed"
        });
    }
    if option_rom(name) && field == "content" && !s.appeared() && !s.vanished() {
        return must("fw_cfg-rom-content");
    }
    if field == "selector" {
        return if s.appeared() {
            must("fw_cfg-file-added")
        } else if s.vanished() {
            must("fw_cfg-file-removed")
        } else if selector_shift {
            must("fw_cfg-selector-shift")
        } else {
            must("fw_cfg-selector-changed")
        };
    }
    // The RSDP, decoded: what an OS reads in it is the machine's; its
    // checksums and the addresses the firmware fills in follow the tables.
    if name == "etc/acpi/rsdp" && field.starts_with("content.") {
        return must(match s.seg(4) {
            "oem_id" | "revision" | "signature" | "reserved" => "fw_cfg-content-changed",
            _ => "fw_cfg-content-derived",
        });
    }
    // QEMU's ACPI blobs live in ROM blocks of guest memory, which migrate:
    // their size is the machine's, their content the tables decoded apart.
    if acpi_rom_block(name) && field == "size" {
        return must("fw_cfg-content-changed");
    }
    if derived_fw_cfg_file(name) {
        return must("fw_cfg-content-derived");
    }
    if s.appeared() || s.vanished() {
        // Size/content of a file that came or went: the selector drift names the file.
        return s.added_removed("fw_cfg-file-added", "fw_cfg-file-removed", "fw_cfg-content-changed");
    }
    must("fw_cfg-content-changed")
}

fn classify_virtio(s: &Subject) -> &'static Rule {
    match s.seg(2) {
        "features" => must("virtio-feature-changed"),
        "num_queues" | "queue_sizes" => must("virtio-queue-changed"),
        "config" => must("virtio-config-changed"),
        _ => must("virtio-device-changed"),
    }
}

/// A drift under a rule chosen by the caller rather than by its path.
pub fn drift(id: &str, path: FactPath, old: Option<String>, new: Option<String>) -> Drift {
    let rule = must(id);
    Drift {
        rule: rule.id.to_string(),
        category: rule.category,
        severity: rule.severity,
        path,
        old,
        new,
        detail: None,
        device: None,
        waiver: None,
    }
}

/// A drift under the rule its path and values classify it as.
pub fn classified(path: FactPath, old: Option<String>, new: Option<String>, selector_shift: bool) -> Drift {
    let segments = path.segments();
    let rule = classify(
        &Subject {
            segments: &segments,
            old: old.as_deref(),
            new: new.as_deref(),
        },
        selector_shift,
    );
    Drift {
        rule: rule.id.to_string(),
        category: rule.category,
        severity: rule.severity,
        path,
        old,
        new,
        detail: None,
        device: None,
        waiver: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    fn id(p: &[&str], old: Option<&str>, new: Option<&str>) -> &'static str {
        let s = segs(p);
        classify(&Subject { segments: &s, old, new }, false).id
    }

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), n, "duplicate rule id");
        for r in RULES {
            assert!(
                r.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_'),
                "{}",
                r.id
            );
            assert!(
                !r.summary.is_empty() && !r.why.is_empty() && !r.fix.is_empty(),
                "{}",
                r.id
            );
        }
    }

    #[test]
    fn the_recorders_boot_payload_is_not_the_machines_abi() {
        let c = Some("1");
        for p in [
            vec!["fw_cfg", "files", "genroms/linuxboot_dma.bin", "content"],
            vec!["fw_cfg", "files", "genroms/multiboot_dma.bin"],
            vec!["fw_cfg", "files", "etc/boot/kernel", "selector"],
            vec![
                "fw_cfg",
                "files",
                "bootorder",
                "content",
                "/rom@genroms/linuxboot_dma.bin",
            ],
        ] {
            assert_eq!(id(&p, c, None), "fw_cfg-payload-file", "{p:?}");
        }
        // A real boot device, and the ROMs every VM has, are the machine's.
        assert_eq!(
            id(
                &[
                    "fw_cfg",
                    "files",
                    "bootorder",
                    "content",
                    "/pci@i0cf8/ide@1,1/drive@0/disk@0"
                ],
                c,
                None
            ),
            "fw_cfg-content-changed"
        );
        assert_eq!(
            id(&["fw_cfg", "files", "genroms/kvmvapic.bin", "content"], c, Some("2")),
            "fw_cfg-rom-content"
        );
        assert_eq!(
            id(&["fw_cfg", "files", "genroms/kvmvapic.bin", "size"], c, Some("2")),
            "fw_cfg-content-changed"
        );
        assert_eq!(rule("fw_cfg-rom-content").map(|r| r.severity), Some(Severity::Warn));
        assert_eq!(rule("host-machine-policy").map(|r| r.severity), Some(Severity::Info));
    }

    #[test]
    fn examples() {
        assert_eq!(
            id(&["acpi", "APIC", "header", "revision"], Some("1"), Some("3")),
            "acpi-table-revision"
        );
        assert_eq!(
            id(&["acpi", "DSDT", "Method \\_SB.PCI0.EDSM"], None, Some("5 args")),
            "aml-object-added"
        );
        assert_eq!(
            id(&["fw_cfg", "files", "etc/boot/kernel", "selector"], None, Some("0x2a")),
            "fw_cfg-payload-file"
        );
        assert_eq!(
            id(
                &["cpuid", "[cpu=1]", "leaves", "00000007.00000000"],
                Some("x"),
                Some("y")
            ),
            "cpuid-leaf-changed"
        );
    }
}
