import GDBStub
import KVM
import Registers

/// What the VMM needs from an architecture, behind one protocol (Firecracker's `gdb/arch/{x86,aarch64}.rs` is the
/// model): the trap instruction and how a debug exit is read, the guest-debug encoding of the debug-register
/// slots, the page walk, pc and stack pointer, the vCPU set-up and boot state. `X86Architecture` is the first
/// implementation. For arm64: BRK #0 (0xd4200000, little-endian in memory), `DebugExit.exception` the ESR class
/// (0x3c BRK, 0x32 software step, 0x30 hardware breakpoint, 0x34 watchpoint, `address` FAR), the slots as
/// dbg_bcr/bvr and dbg_wcr/wvr words of kvm_guest_debug_arch, pc and sp through ONE_REG (ARM64Backend).
protocol MachineArchitecture: Sendable {
    /// For messages: "x86-64".
    var name: String { get }
    /// The software-breakpoint instruction, as its bytes lie in guest memory (x86 int3; arm64 BRK #0).
    var breakpointInstruction: [UInt8] { get }
    /// An instruction that ends KVM_RUN with an exit of its own, no debug feature involved (x86 HLT, without an
    /// in-kernel interrupt controller): the hw-then-hlt strategy's fallback. nil where there is none.
    var haltInstruction: [UInt8]? { get }
    /// Hardware breakpoint and watchpoint slots (x86: DR0–DR3).
    var debugSlotCount: Int { get }
    /// Register groups whose writes change the page walk (x86: control registers, EFER).
    var translationGroups: SyncGroup { get }
    /// The gdb names of the stack pointer, in the order to look for them in a register table.
    var stackPointerNames: [String] { get }
    /// Guest-physical memory below this holds the boot structures `prepare` writes: images must load above it.
    var reservedLowMemory: UInt64 { get }

    /// What a KVM_EXIT_DEBUG reports.
    func debugEvent(_ exit: DebugExit, slots: [BreakpointTable.Slot?]) -> DebugEvent
    /// The words of `struct kvm_guest_debug_arch` for the slots in use.
    func guestDebugWords(_ slots: [BreakpointTable.Slot?]) -> [UInt64]
    /// Whether a `kind` watchpoint over `length` bytes at `address` fits one slot (throws why not).
    func checkWatchpoint(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError)
    /// Give a trap that is not ours back to the guest on the next run (x86: KVM_GUESTDBG_INJECT_BP); false where
    /// the architecture cannot.
    func reinjectTrap(_ ctx: VCPUContext) throws -> Bool

    /// The page walk of a vCPU's current address space; nil when its registers cannot be read.
    func pageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> (any GuestPageWalk)?

    /// VM-wide set-up before any vCPU exists (x86: the TSS pages, the boot page tables).
    func prepare(_ vm: VirtualMachine, memory: GuestMemory) throws
    /// The register table gdb is offered.
    func registerTable(_ kvm: KVMSystem, _ capabilities: KVMCapabilities, _ configuration: MachineConfiguration)
        -> RegisterTable
    /// A vCPU with its own set-up done (x86: CPUID) and its register file.
    func makeContext(
        _ vcpu: VCPU, table: RegisterTable, kvm: KVMSystem, capabilities: KVMCapabilities,
        configuration: MachineConfiguration, host: HostProfile
    ) throws -> VCPUContext
    /// The boot state of an image: run from `entry` with `stack` and `argument` in the first argument register.
    func enter(_ ctx: VCPUContext, entry: UInt64, stack: UInt64, argument: UInt64) throws
}

/// What a debug exit means, whatever the architecture.
enum DebugEvent: Equatable {
    /// The breakpoint instruction trapped, at `pc` (nil: read the pc register).
    case breakpointInstruction(pc: UInt64?)
    /// Debug-register slot `n` hit (an execute breakpoint or a watchpoint).
    case slot(Int)
    /// A single step finished.
    case step
}

/// A walk of the guest's page tables in guest memory.
protocol GuestPageWalk {
    var pagingEnabled: Bool { get }
    /// The guest-physical address of `virtual` and the size of its page; nil when unmapped.
    func translate(_ virtual: UInt64) -> (physical: UInt64, pageSize: UInt64)?
}

extension X86PageWalk: GuestPageWalk {
    func translate(_ virtual: UInt64) -> (physical: UInt64, pageSize: UInt64)? { translate(virtual, steps: nil) }
}

extension Architecture {
    /// The VMM's implementation, where there is one (arm64 is next; ppc64 has only the fake kernel).
    var machine: (any MachineArchitecture)? {
        switch self {
        case .x86_64: X86Architecture()
        case .arm64, .ppc64: nil
        }
    }
}
