import GDBStub
import KVM
import Synchronization

/// Which strategy serves new watchpoints (`monitor watch-strategy`).
package enum WatchRequest: String, Sendable, CaseIterable {
    /// Debug registers where data breakpoints fire and one is free (not for `rwatch`); otherwise page protection;
    /// where a page cannot be protected, single-stepping (`watch` only).
    case auto
    /// Page protection only (refused where the page cannot be protected).
    case page
    /// Debug registers only (four, no `rwatch`; where data breakpoints never fire they never hit).
    case debugRegisters = "debug-registers"
    /// Single-stepping and comparing values (`watch` only).
    case singleStep = "single-step"
}

/// How one inserted watchpoint is served.
enum WatchService: Equatable, Sendable {
    case debugRegister
    case singleStep
    case page
    /// Page protection of a page the guest executes from: read-only, so only writes are seen (an access
    /// watchpoint there stops on writes).
    case pageWritesOnly(String)
    /// Page protection had to stop (the guest executes from the page) and nothing else can serve this kind here.
    case unserved(String)
}

struct WatchKey: Hashable, Sendable {
    let kind: BreakpointKind
    let address: UInt64
    let length: Int
}

/// Page-protection watchpoints (issue 15): the guest-physical pages under a watched range are taken out of the
/// guest's memory slots (KVM_MEM_READONLY when only writes are watched there and the kernel offers it), so every
/// guest access to them leaves KVM_RUN as KVM_EXIT_MMIO. kvmstub serves it from its own mapping — which is the
/// guest's RAM, so `m`/`M`/`X` and the guest always see the same bytes — and stops when the access touches a
/// watched range, after completing the instruction (KVM_RUN with `immediate_exit` set finishes a pending MMIO
/// without running further: api.rst, "immediate_exit"). The range is translated once, at insert: the
/// physical pages stay watched if the guest later remaps the virtual address.
final class PageWatchState: @unchecked Sendable {
    struct Piece: Sendable {
        let virtual: UInt64
        let physical: UInt64
        let length: Int
    }

    struct State {
        var request: WatchRequest = .auto
        var served: [WatchKey: WatchService] = [:]
        /// Watchpoints served by page protection, and the physical pieces of their ranges.
        var watches: [WatchKey: [Piece]] = [:]
        /// What the slots apply now.
        var pages: [UInt64: PageProtection] = [:]
        /// Pages a vCPU executes from: never holes (KVM cannot fetch instructions from MMIO), read-only at most.
        var codePages: Set<UInt64> = []
        /// The slot ids RAM's regions use now (the first is the start-up RAM slot), and freed ones to reuse.
        var slotIDs: [UInt32] = []
        var spareSlotIDs: [UInt32] = []
        /// Write watchpoints that fell back to single-stepping during a run (the page executes code): the vCPU
        /// that found it takes them into its own run at once; every vCPU has them from the next resume.
        var runtimeStepped: [(address: UInt64, length: Int)] = []
        var pendingUpgrade: Set<Int> = []
        /// Exits served, and of those the ones that stopped.
        var exitsServed = 0
        var hits = 0
    }

    let state = Mutex(State())
    let ramSlot: UInt32
    let readOnlySlots: Bool

    init(ramSlot: UInt32, readOnlySlots: Bool, request: WatchRequest) {
        self.ramSlot = ramSlot
        self.readOnlySlots = readOnlySlots
        state.withLock {
            $0.slotIDs = [ramSlot]
            $0.request = request
        }
    }

    /// What each page needs: a hole when any read or access watchpoint covers it, read-only when only write
    /// watchpoints do (and the kernel offers read-only slots).
    static func protection(_ watches: [WatchKey: [Piece]], readOnlySlots: Bool, codePages: Set<UInt64> = [])
        -> [UInt64: PageProtection]
    {
        var out: [UInt64: PageProtection] = [:]
        for (key, pieces) in watches {
            for piece in pieces {
                for page in SlotLayout.pages(piece.physical, length: piece.length) {
                    if codePages.contains(page) {
                        if readOnlySlots { out[page] = .readOnly }
                        continue
                    }
                    let wanted: PageProtection = key.kind == .writeWatchpoint && readOnlySlots ? .readOnly : .hole
                    out[page] = out[page] == .hole ? .hole : wanted
                }
            }
        }
        return out
    }

    /// The first watched range an access of `count` bytes at `physical` touches, with the guest-virtual address
    /// it touched (what the stop reply names).
    static func hit(_ watches: [WatchKey: [Piece]], physical: UInt64, count: Int, isWrite: Bool) -> (BreakpointKind, UInt64)? {
        let end = physical + UInt64(count)
        for (key, pieces) in watches.sorted(by: { $0.key.address < $1.key.address }) {
            switch key.kind {
            case .writeWatchpoint where !isWrite: continue
            case .readWatchpoint where isWrite: continue
            case .writeWatchpoint, .readWatchpoint, .accessWatchpoint: break
            default: continue
            }
            for piece in pieces where physical < piece.physical + UInt64(piece.length) && piece.physical < end {
                return (key.kind, piece.virtual + (physical > piece.physical ? physical - piece.physical : 0))
            }
        }
        return nil
    }
}

/// What an MMIO exit on a protected page came to.
enum PageAccessOutcome {
    /// Served: the guest runs on.
    case served
    /// Served, and it touched a watched range: stop once the instruction has completed.
    case hit(BreakpointKind, address: UInt64)
}
