//! The mailbox protocol between the bare probe (the guest end,
//! `bare-probe/src/server.rs`) and machine-abi (the host end,
//! `recorder/src/bare/mailbox.rs`). This one file is compiled into both
//! (`#[path]` in the recorder), so the two ends cannot disagree on a number.
//! No dependencies, no `std`: the guest is freestanding.
//!
//! The mailbox is a page of guest RAM at [`MBOX`], which the host maps from
//! the guest RAM file (QEMU `memory-backend-file,share=on`). Offsets in
//! bytes from [`MBOX`], little endian:
//!
//! ```text
//! 0x000 u64 magic "MABIBAR1" (written last, when ready)
//! 0x008 u32 protocol version
//! 0x00c u32 state: 1 serving, 2 powered off, 3 fatal (message in data)
//! 0x010 u32 request sequence  (host increments after writing a request)
//! 0x014 u32 response sequence (guest copies the request's when done)
//! 0x018 u32 op
//! 0x01c u32 status: 0 ok, 1 unknown op, 2 bad arguments, 3 device error
//! 0x020 u64 args[8]
//! 0x060 u64 results[4]
//! 0x080 u32 response data length
//! 0x100 info: u64 multiboot info, u32 cpus, u32 BSP APIC id,
//!       u32 APIC id[16] (index = cpu number), u64 TSC at entry, u64 TSC ready
//! 0x1000 data (request and response payload), up to DATA_MAX bytes
//! ```

/// Guest physical address of the mailbox page (16 MiB, above the image).
pub const MBOX: u64 = 0x0100_0000;
/// Bytes from [`MBOX`] that belong to the protocol: the mailbox page and
/// the data area (what the host maps).
pub const MAP_LEN: u64 = 0x0040_0000;
/// Offset of the data area from [`MBOX`].
pub const DATA_OFFSET: u64 = 0x1000;
/// Largest request or response payload.
pub const DATA_MAX: u64 = MAP_LEN - DATA_OFFSET;
/// Longest fatal message the guest leaves in the data area.
pub const FATAL_MAX: u64 = 4096;
/// Most vCPUs the info block describes.
pub const MAX_CPUS: u64 = 16;
/// The protocol version both ends speak.
pub const VERSION: u32 = 1;
/// The magic the guest writes last, when it serves.
pub const MAGIC: u64 = u64::from_le_bytes(*b"MABIBAR1");

/// Field offsets from [`MBOX`] (see the layout above).
pub mod field {
    /// u64: [`super::MAGIC`] once the guest serves.
    pub const MAGIC: u64 = 0x000;
    /// u32: the guest's protocol version.
    pub const VERSION: u64 = 0x008;
    /// u32: a [`super::state`] value.
    pub const STATE: u64 = 0x00c;
    /// u32: incremented by the host after writing a request.
    pub const REQUEST_SEQ: u64 = 0x010;
    /// u32: the request's sequence, copied by the guest when it answered.
    pub const RESPONSE_SEQ: u64 = 0x014;
    /// u32: the request code (an [`super::op`] value).
    pub const OP: u64 = 0x018;
    /// u32: a [`super::status`] value.
    pub const STATUS: u64 = 0x01c;
    /// u64 × 8: the request's arguments.
    pub const ARGS: u64 = 0x020;
    /// Number of argument slots.
    pub const ARGS_LEN: u64 = 8;
    /// u64 × 4: the response's results.
    pub const RESULTS: u64 = 0x060;
    /// Number of result slots.
    pub const RESULTS_LEN: u64 = 4;
    /// u32: bytes of response data (or of the fatal message).
    pub const DATA_LEN: u64 = 0x080;
    /// u64: guest physical address of the Multiboot information structure.
    pub const INFO_MULTIBOOT: u64 = 0x100;
    /// u32: number of vCPUs serving (1 = the BSP alone).
    pub const INFO_CPUS: u64 = 0x108;
    /// u32: the BSP's APIC id.
    pub const INFO_BSP_APIC_ID: u64 = 0x10c;
    /// u32 × [`super::MAX_CPUS`]: APIC ids by CPU number.
    pub const INFO_APIC_IDS: u64 = 0x110;
    /// u64: TSC at the probe's entry.
    pub const INFO_TSC_ENTRY: u64 = 0x150;
    /// u64: TSC when the probe became ready.
    pub const INFO_TSC_READY: u64 = 0x158;
}

/// Values of the state field.
pub mod state {
    /// Serving requests.
    pub const SERVING: u32 = 1;
    /// Powering off (after [`super::op::POWER_OFF`]).
    pub const POWERED_OFF: u32 = 2;
    /// A fault; the message is in the data area.
    pub const FATAL: u32 = 3;
}

/// Values of the status field.
pub mod status {
    /// Answered.
    pub const OK: u32 = 0;
    /// The guest does not know the request code.
    pub const UNKNOWN_OP: u32 = 1;
    /// Arguments out of range (length, width, alignment, address).
    pub const BAD_ARGUMENTS: u32 = 2;
    /// The device did not answer (fw_cfg DMA error, no such port).
    pub const DEVICE_ERROR: u32 = 3;
}

/// Request codes.
pub mod op {
    /// Nothing (a round trip).
    pub const NOP: u32 = 0;
    /// Read guest physical memory: addr, len → data.
    pub const READ_PHYS: u32 = 1;
    /// Write guest physical memory: addr, len; data → memory.
    pub const WRITE_PHYS: u32 = 2;
    /// MMIO read: addr, width → results[0].
    pub const MMIO_READ: u32 = 3;
    /// MMIO write: addr, width, value.
    pub const MMIO_WRITE: u32 = 4;
    /// MMIO reads of one width: addr, len, width → data (len/width accesses).
    pub const MMIO_READ_BULK: u32 = 5;
    /// Port read: port, width → results[0].
    pub const PORT_IN: u32 = 6;
    /// Port write: port, width, value.
    pub const PORT_OUT: u32 = 7;
    /// CPUID on a vCPU: cpu (0 = BSP, then the APs by APIC id), leaf,
    /// subleaf → results[0] = eax | ebx << 32, results[1] = ecx | edx << 32.
    pub const CPUID: u32 = 8;
    /// fw_cfg item: selector, len, dma (0/1) → data.
    pub const FW_CFG_READ: u32 = 9;
    /// Config space through 0xcf8/0xcfc: bdf (bus << 8 | dev << 3 | fn),
    /// offset, len → data (dword reads).
    pub const CF8_READ: u32 = 10;
    /// Config space write through 0xcf8/0xcfc: bdf, offset, width, value.
    pub const CF8_WRITE: u32 = 11;
    /// Size BARs the way Linux does (decode off, write ~0, read, restore):
    /// bdf, ECAM base (0: ports), header layout, keep decode (1 for host
    /// bridges) → data: 7 × (u32 original, u32 size mask) for BARs 0-5 and
    /// the ROM; for the upper half of a 64-bit BAR the values of that dword.
    pub const SIZE_BARS: u32 = 12;
    /// Power off (no answer).
    pub const POWER_OFF: u32 = 13;

    /// A request's name in error messages.
    pub fn name(op: u32) -> &'static str {
        match op {
            NOP => "NOP",
            READ_PHYS => "READ_PHYS",
            WRITE_PHYS => "WRITE_PHYS",
            MMIO_READ => "MMIO_READ",
            MMIO_WRITE => "MMIO_WRITE",
            MMIO_READ_BULK => "MMIO_READ_BULK",
            PORT_IN => "PORT_IN",
            PORT_OUT => "PORT_OUT",
            CPUID => "CPUID",
            FW_CFG_READ => "FW_CFG_READ",
            CF8_READ => "CF8_READ",
            CF8_WRITE => "CF8_WRITE",
            SIZE_BARS => "SIZE_BARS",
            POWER_OFF => "POWER_OFF",
            _ => "unknown request",
        }
    }
}
