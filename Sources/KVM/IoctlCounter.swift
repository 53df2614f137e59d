import Synchronization

/// Every ioctl kvmstub issues on /dev/kvm, a VM or a vCPU: the key of `IoctlCounter` and of `KVMError`'s wording.
package enum Ioctl: Int, CaseIterable, Sendable {
    // System.
    case getAPIVersion, checkExtension, createVM, getVCPUMmapSize, getMSRIndexList, getSupportedCPUID
    // VM.
    case createVCPU, setUserMemoryRegion, setTSSAddr, setIdentityMapAddr, createIRQChip, createPIT2, reinjectControl
    case irqLine
    // vCPU.
    case run, getRegs, setRegs, getSregs, setSregs, getFPU, setFPU, getXSAVE, setXSAVE, getDebugRegs, setDebugRegs
    case getMSRs, setMSRs, getOneReg, setOneReg, getRegList, setGuestDebug, setCPUID2, getVCPUEvents, setVCPUEvents
    case getMPState, setMPState, getLAPIC, kvmclockCtrl, setSignalMask, armVCPUInit, armVCPUFinalize, armPreferredTarget

    /// The kernel's name, as `monitor sync-stats` prints it.
    package var name: String { Self.names[rawValue] }

    private static let names: [String] = allCases.map { op in
        switch op {
        case .getAPIVersion: "KVM_GET_API_VERSION"
        case .checkExtension: "KVM_CHECK_EXTENSION"
        case .createVM: "KVM_CREATE_VM"
        case .getVCPUMmapSize: "KVM_GET_VCPU_MMAP_SIZE"
        case .getMSRIndexList: "KVM_GET_MSR_INDEX_LIST"
        case .getSupportedCPUID: "KVM_GET_SUPPORTED_CPUID"
        case .createVCPU: "KVM_CREATE_VCPU"
        case .setUserMemoryRegion: "KVM_SET_USER_MEMORY_REGION"
        case .setTSSAddr: "KVM_SET_TSS_ADDR"
        case .setIdentityMapAddr: "KVM_SET_IDENTITY_MAP_ADDR"
        case .createIRQChip: "KVM_CREATE_IRQCHIP"
        case .createPIT2: "KVM_CREATE_PIT2"
        case .reinjectControl: "KVM_REINJECT_CONTROL"
        case .irqLine: "KVM_IRQ_LINE"
        case .run: "KVM_RUN"
        case .getRegs: "KVM_GET_REGS"
        case .setRegs: "KVM_SET_REGS"
        case .getSregs: "KVM_GET_SREGS"
        case .setSregs: "KVM_SET_SREGS"
        case .getFPU: "KVM_GET_FPU"
        case .setFPU: "KVM_SET_FPU"
        case .getXSAVE: "KVM_GET_XSAVE"
        case .setXSAVE: "KVM_SET_XSAVE"
        case .getDebugRegs: "KVM_GET_DEBUGREGS"
        case .setDebugRegs: "KVM_SET_DEBUGREGS"
        case .getMSRs: "KVM_GET_MSRS"
        case .setMSRs: "KVM_SET_MSRS"
        case .getOneReg: "KVM_GET_ONE_REG"
        case .setOneReg: "KVM_SET_ONE_REG"
        case .getRegList: "KVM_GET_REG_LIST"
        case .setGuestDebug: "KVM_SET_GUEST_DEBUG"
        case .setCPUID2: "KVM_SET_CPUID2"
        case .getVCPUEvents: "KVM_GET_VCPU_EVENTS"
        case .setVCPUEvents: "KVM_SET_VCPU_EVENTS"
        case .getMPState: "KVM_GET_MP_STATE"
        case .setMPState: "KVM_SET_MP_STATE"
        case .getLAPIC: "KVM_GET_LAPIC"
        case .kvmclockCtrl: "KVM_KVMCLOCK_CTRL"
        case .setSignalMask: "KVM_SET_SIGNAL_MASK"
        case .armVCPUInit: "KVM_ARM_VCPU_INIT"
        case .armVCPUFinalize: "KVM_ARM_VCPU_FINALIZE"
        case .armPreferredTarget: "KVM_ARM_PREFERRED_TARGET"
        }
    }
}

/// Counts ioctls by request, so `monitor sync-stats` and the benchmark can show what each packet cost. One slot
/// per `Ioctl` case: recording is an array increment, no hashing. Read from the session thread while a vCPU
/// thread counts: a lock, held for an increment.
package final class IoctlCounter: Sendable {
    private let counts = Mutex<[Int]>([Int](repeating: 0, count: Ioctl.allCases.count))

    package init() {}

    package func record(_ op: Ioctl) { counts.withLock { $0[op.rawValue] += 1 } }

    /// The counts by kernel name, requests never issued left out.
    package func snapshot() -> [String: Int] {
        let c = counts.withLock { $0 }
        var out: [String: Int] = [:]
        for op in Ioctl.allCases where c[op.rawValue] != 0 { out[op.name] = c[op.rawValue] }
        return out
    }

    package func reset() { counts.withLock { $0 = [Int](repeating: 0, count: $0.count) } }

    package var total: Int { counts.withLock { $0.reduce(0, +) } }

    package subscript(op: Ioctl) -> Int { counts.withLock { $0[op.rawValue] } }

    /// Counts since a snapshot: what one request cost.
    package func since(_ before: [String: Int]) -> [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in snapshot() where v != before[k] ?? 0 { d[k] = v - (before[k] ?? 0) }
        return d
    }
}
