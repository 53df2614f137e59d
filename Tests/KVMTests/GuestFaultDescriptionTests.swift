import Glibc
import KVM
import Machine
import Testing

/// The sentence of every guest fault, word for word. The end-to-end tests (GuestFaultTests, gdb-scripts/fault-*.gdb)
/// reach the faults this host can make; this covers the rest — KVM_EXIT_FAIL_ENTRY above all, which KVM here never
/// delivers (it refuses a bad state with EINVAL first) — and the rip that cannot be read.
struct GuestFaultDescriptionTests {
    @Test func everyFaultNamesTheRip() {
        let rip = GuestFault.RIP.known(0x10_0248)
        let cases: [(GuestFault, String)] = [
            (
                .unbackedAccess(write: true, address: 0xf000_0000, rip: rip),
                "write to guest-physical 0xf0000000, which no memory slot covers, by the instruction just before rip 0x100248"
            ),
            (
                .unbackedAccess(write: false, address: 0xf000_0000, rip: rip),
                "read from guest-physical 0xf0000000, which no memory slot covers, at rip 0x100248"
            ),
            (.tripleFault(rip: rip), "triple fault (KVM_EXIT_SHUTDOWN) at rip 0x100248"),
            (
                .failedEntry(hardwareReason: 0x21, rip: rip),
                "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x21) at rip 0x100248"
            ),
            (.internalError(suberror: 1, rip: rip), "KVM internal error: instruction emulation failed at rip 0x100248"),
            (.internalError(suberror: 3, rip: rip), "KVM internal error: event delivery failed at rip 0x100248"),
            (.internalError(suberror: 9, rip: rip), "KVM internal error: suberror 9 at rip 0x100248"),
            (.systemEvent(type: 2, rip: rip), "system event: reset (KVM_EXIT_SYSTEM_EVENT) at rip 0x100248"),
            (.systemEvent(type: 7, rip: rip), "system event: type 7 (KVM_EXIT_SYSTEM_EVENT) at rip 0x100248"),
            (.unhandledExit(reason: 42, rip: rip), "unhandled KVM exit reason 42 at rip 0x100248"),
            (
                .failedIoctl(operation: "KVM_RUN", errno: EINVAL, rip: rip),
                "KVM_RUN refused the register state (Invalid argument) at rip 0x100248"
            ),
            (
                .failedIoctl(operation: "KVM_RUN", errno: EFAULT, rip: rip),
                "KVM_RUN failed (Bad address) at rip 0x100248"
            ),
        ]
        for (fault, sentence) in cases {
            #expect(fault.description == sentence)
            #expect(!fault.description.contains("vCPU"), "the stderr line names the vCPU already")
        }
    }

    /// AMD: KVM INITs the vCPU on a shutdown before it exits (seen in the nested SVM rig): the line says so.
    @Test func aTripleFaultAfterWhichKVMResetTheVCPUSaysSo() {
        #expect(
            GuestFault.tripleFaultReset.description
                == "triple fault (KVM_EXIT_SHUTDOWN); KVM reset the vCPU before the exit, as on AMD (SVM's shutdown intercept INITs it), so it is at cs:ip f000:fff0 and the rip of the fault is lost"
        )
    }

    @Test func aRipThatCannotBeReadIsSaidSo() {
        let unreadable = GuestFault.RIP {
            throw KVMError(operation: "KVM_GET_REGS", vcpu: 0, errno: EIO)
        }
        #expect(unreadable == .unreadable("KVM_GET_REGS failed (Input/output error)"))
        #expect(
            GuestFault.failedEntry(hardwareReason: 0x80000021, rip: unreadable).description
                == "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x80000021) at an unreadable rip: KVM_GET_REGS failed (Input/output error)"
        )
        #expect(
            GuestFault.unbackedAccess(write: true, address: 0xf000_0000, rip: unreadable).description
                == "write to guest-physical 0xf0000000, which no memory slot covers, by the instruction just before an unreadable rip: KVM_GET_REGS failed (Input/output error)"
        )
        #expect(GuestFault.RIP { 0x1000 } == .known(0x1000))
    }

    @Test func aFailedIoctlOnTheWayIntoTheGuestIsOneSentence() {
        // KVMError prints "KVM_RUN on vCPU 0: …"; inside the line "vCPU 0: …" that named the vCPU twice.
        let error = KVMError(operation: "KVM_RUN", vcpu: 0, errno: EINVAL)
        #expect(
            GuestFault.failed(error, rip: .known(0x10_0000))
                == "KVM_RUN refused the register state (Invalid argument) at rip 0x100000")
        let flush = KVMError(operation: "KVM_SET_SREGS", vcpu: 1, errno: EINVAL)
        #expect(
            GuestFault.failed(flush, rip: .known(0x10_0000))
                == "KVM_SET_SREGS failed (Invalid argument) at rip 0x100000")
    }
}
