import ARM64VMM
import GDBStub
import KVM
import Registers

/// What the VMM needs from an architecture, behind one protocol (Firecracker's `gdb/arch/{x86,aarch64}.rs` is the
/// model): where RAM is, the trap instruction and how a debug exit is read, the guest-debug encoding of the
/// debug-register slots, the page walk, pc and stack pointer, the vCPU set-up and boot state, how secondary vCPUs
/// start, the devices that are MMIO and what a system event means. `X86Architecture` (x86-64 builds only) and
/// `ARM64MachineArchitecture` implement it; the run loop, the all-stop, breakpoints, watchpoints (page protection
/// included), range stepping and gdb's side are the same code for both.
protocol MachineArchitecture: Sendable {
    /// For messages: "x86-64".
    var name: String { get }
    /// The software-breakpoint instruction, as its bytes lie in guest memory (x86 int3; arm64 BRK #0).
    var breakpointInstruction: [UInt8] { get }
    /// An instruction that ends KVM_RUN with an exit of its own, no debug feature involved (x86 HLT, without an
    /// in-kernel interrupt controller): the hw-then-hlt strategy's fallback. nil where there is none.
    var haltInstruction: [UInt8]? { get }
    /// Hardware breakpoint and watchpoint slots (x86: DR0–DR3; arm64: the dbg_bcr/bvr pairs, then the
    /// dbg_wcr/wvr pairs KVM offers).
    var debugSlotCount: Int { get }
    /// The slots a breakpoint or watchpoint of `kind` may take (x86: any of the four; arm64: execute breakpoints the
    /// breakpoint registers, watchpoints the watchpoint registers).
    func slotRange(for kind: BreakpointKind) -> Range<Int>
    /// How many slots a debug-register watchpoint of `length` bytes at `address` takes (x86: one, 1/2/4/8 aligned
    /// bytes; arm64: one per doubleword it touches, or one for an aligned power of two), or why it cannot have one.
    func watchpointSlotCount(_ kind: BreakpointKind, address: UInt64, length: Int) throws(TargetError) -> Int
    /// A write to a register of `group` goes to the kernel at once, so that a value it refuses is the write's
    /// `E` (x86: the MSRs; arm64: every group, one ONE_REG each, as pstate modes and read-only system registers
    /// are refused).
    func flushesWriteAtOnce(_ group: SyncGroup) -> Bool
    /// Refuse a write the VMM knows cannot be made (arm64: `vg`, fixed at finalize); `current` reads the value.
    func checkWrite(_ register: RegisterDescriptor, _ value: [UInt8], current: () -> [UInt8]?) throws(TargetError)
    /// A watchpoint stops before the access is made (arm64, whose gdb steps over the access itself: its
    /// watchpoints are "non-steppable"), not after it (x86, trap-like): a page-protection hit then leaves the
    /// access for the next run to make.
    var watchpointsStopBeforeAccess: Bool { get }
    /// Any page may be taken out of the memory slots (x86: an instruction fetch from it is an emulation failure
    /// kvmstub sees and undoes). arm64: KVM would inject a prefetch abort into the guest, so the pages of the
    /// image's executable segments (and where a vCPU's pc is) never become holes; read-only slots only.
    var pageHolesAreSafe: Bool { get }
    /// Guest-physical address where RAM starts (x86: 0; arm64: QEMU virt's 0x4000_0000).
    var ramBase: UInt64 { get }
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
    /// Give a trap that is not ours back to the guest on the next run (x86: KVM_GUESTDBG_INJECT_BP; arm64: the
    /// exception entry the CPU would have made); false where the architecture cannot.
    func reinjectTrap(_ ctx: VCPUContext, _ exit: DebugExit) throws -> Bool

    /// The page walk of a vCPU's current address space; nil when its registers cannot be read.
    func pageWalk(_ ctx: VCPUContext, memory: GuestMemory) -> (any GuestPageWalk)?

    /// VM-wide set-up before any vCPU exists (x86: the TSS pages, the boot page tables).
    func prepare(_ vm: VirtualMachine, memory: GuestMemory) throws
    /// The register table gdb is offered; nil: the first vCPU's backend makes it (arm64: from KVM_GET_REG_LIST,
    /// which answers only once a vCPU is initialized).
    func registerTable(_ kvm: KVMSystem, _ capabilities: KVMCapabilities, _ configuration: MachineConfiguration)
        -> RegisterTable?
    /// A vCPU with its own set-up done (x86: CPUID; arm64: KVM_ARM_VCPU_INIT, SVE finalized) and its register
    /// file; `table` nil for the first vCPU where `registerTable` gave none.
    func makeContext(
        _ vcpu: VCPU, vm: VirtualMachine, table: RegisterTable?, kvm: KVMSystem, capabilities: KVMCapabilities,
        configuration: MachineConfiguration, host: HostProfile
    ) throws -> VCPUContext
    /// The boot state of an image: run from `entry` with `stack` and `argument` in the first argument register.
    func enter(_ ctx: VCPUContext, entry: UInt64, stack: UInt64, argument: UInt64) throws

    /// Secondary vCPUs wait, as KVM made them, until the guest starts them (x86: INIT/SIPI through an in-kernel
    /// LAPIC; arm64: PSCI CPU_ON, the kernel's) unless the image names an `ap_start` for them.
    func secondariesWaitForGuest(_ configuration: MachineConfiguration) -> Bool
    /// How the guest starts them, for messages: "INIT/SIPI", "PSCI CPU_ON".
    var secondaryStartup: String { get }
    /// KVM_GET_MP_STATE says something (x86: with an in-kernel LAPIC; arm64: always, STOPPED while powered off).
    func hasMPState(_ configuration: MachineConfiguration) -> Bool
    /// KVM_GET_MP_STATE may move the registers (x86: it takes a pending INIT or SIPI); arm64's only reads.
    var mpStateMovesRegisters: Bool { get }
    /// The MMIO devices (arm64: the PL011); nil where the devices are ports (x86).
    func mmioDevices(_ configuration: MachineConfiguration) -> MMIOBus?
    /// How a KVM_EXIT_SYSTEM_EVENT of `type` ends the run: an exit status and a line to report; nil: a fault.
    func systemEvent(_ type: UInt32) -> (status: UInt8, note: String?)?
}

/// What a debug exit means, whatever the architecture.
enum DebugEvent: Equatable {
    /// The breakpoint instruction trapped, at `pc` (nil: read the pc register).
    case breakpointInstruction(pc: UInt64?)
    /// Debug-register slot `n` hit (an execute breakpoint or a watchpoint).
    case slot(Int)
    /// A single step finished.
    case step
    /// An execute breakpoint in a debug register matched pc, which slot not said (arm64).
    case hardwareBreakpoint
    /// Nothing the VMM asked for (arm64: an exception class KVM does not report today).
    case unknown(String)
}

/// Devices on guest-physical addresses outside RAM: an access to one is served here and the run goes on.
final class MMIOBus: @unchecked Sendable {
    struct Device {
        let base: UInt64
        let size: UInt64
        /// An access at `offset` from `base`; a read fills the buffer (the kvm_run MMIO data).
        let access: (_ offset: UInt64, _ isWrite: Bool, _ data: UnsafeMutableRawBufferPointer) -> Void
    }

    let devices: [Device]
    init(_ devices: [Device]) { self.devices = devices }

    /// Serve an access; false when no device is there.
    func access(_ address: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer) -> Bool {
        guard let d = devices.first(where: { address >= $0.base && address - $0.base < $0.size }) else { return false }
        d.access(address - d.base, isWrite, data)
        return true
    }
}

/// A walk of the guest's page tables in guest memory.
protocol GuestPageWalk {
    var pagingEnabled: Bool { get }
    /// The guest-physical address of `virtual` and the size of its page; nil when unmapped.
    func translate(_ virtual: UInt64) -> (physical: UInt64, pageSize: UInt64)?
}

#if KVMSTUB_X86
    extension X86PageWalk: GuestPageWalk {
        func translate(_ virtual: UInt64) -> (physical: UInt64, pageSize: UInt64)? { translate(virtual, steps: nil) }
    }
#endif

extension ARM64PageWalk: GuestPageWalk {}

extension Architecture {
    /// The VMM's implementation for this build, where there is one: x86-64 on an x86-64 build, arm64 on any (the
    /// kernel decides whether it runs: only an arm64 host's does); ppc64 has only the fake kernel.
    func machine(_ capabilities: KVMCapabilities) -> (any MachineArchitecture)? {
        switch self {
        case .x86_64:
            #if KVMSTUB_X86
                X86Architecture()
            #else
                nil
            #endif
        case .arm64:
            ARM64MachineArchitecture(
                hardwareBreakpoints: Int(capabilities.hardwareBreakpoints),
                hardwareWatchpoints: Int(capabilities.hardwareWatchpoints))
        case .ppc64: nil
        }
    }
}
