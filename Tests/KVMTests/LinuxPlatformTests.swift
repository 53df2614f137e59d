import Glibc
import GDBStub
import KVM
import Machine
import Testing

@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct LinuxPlatformTests {
    func linuxMachine(_ code: [UInt8]) throws -> Machine { try makeMachine(code, linuxPlatform: true) }

    /// In-kernel irqchip and PIT come up, and the 16550A keeps its scratch register (Linux's first probe).
    @Test func platformAndUARTScratchRegister() throws {
        // mov al, 0x5a; mov dx, 0x3ff; out dx, al; mov al, 0; in al, dx; out 0xf4, al; jmp $
        let m = try linuxMachine([0xB0, 0x5A, 0x66, 0xBA, 0xFF, 0x03, 0xEE, 0xB0, 0x00, 0xEC, 0xE6, 0xF4, 0xEB, 0xFE])
        #expect(try run(m, .continue).reason == .exited(status: 0x5a))
    }

    /// Loopback: with MCR = LOOP | OUT2 | RTS, MSR reads DCD | CTS (0x90), what the 8250 driver checks.
    @Test func uartLoopbackModemStatus() throws {
        // mov dx, 0x3fc; mov al, 0x1a; out dx, al; mov dx, 0x3fe; in al, dx; out 0xf4, al; jmp $
        let m = try linuxMachine([
            0x66, 0xBA, 0xFC, 0x03, 0xB0, 0x1A, 0xEE, 0x66, 0xBA, 0xFE, 0x03, 0xEC, 0xE6, 0xF4, 0xEB, 0xFE,
        ])
        #expect(try run(m, .continue).reason == .exited(status: 0x90))
    }

    /// The minimal reproduction of the host limitation behind `hidingCX16`: LOCK CMPXCHG16B at CPL0. Real KVM runs
    /// it on the CPU (exit 7); kvm_pvm hands CPL0 code to KVM's instruction emulator, which has no CMPXCHG16B
    /// ("instruction emulation failed"), and a Linux guest dies there in SLUB unless CPUID hides CX16.
    @Test func cmpxchg16bAtCPL0() throws {
        // mov rdi, 0x20000; xor eax,eax; xor edx,edx; xor ebx,ebx; xor ecx,ecx; lock cmpxchg16b [rdi];
        // mov al, 7; out 0xf4, al; jmp $
        let code: [UInt8] = [
            0x48, 0xC7, 0xC7, 0x00, 0x00, 0x02, 0x00, 0x31, 0xC0, 0x31, 0xD2, 0x31, 0xDB, 0x31, 0xC9,
            0xF0, 0x48, 0x0F, 0xC7, 0x0F, 0xB0, 0x07, 0xE6, 0xF4, 0xEB, 0xFE,
        ]
        let m = try makeMachine(code)
        let reason = try run(m, .continue).reason
        switch reason {
        case .exited(let status): #expect(status == 7)
        case .fault(_, let description):
            #expect(description.contains("instruction emulation failed"))
            #expect(m.host.emulatesCPL0, "only a host that emulates CPL0 code should fail here")
        default: Issue.record("unexpected stop \(reason)")
        }
    }

    /// The instructions behind `VCPU.emulatorMissing`, one at a time at CPL0: where CPL0 code is emulated
    /// (kvm_pvm) each one stops with "instruction emulation failed", which is why `--kernel` hides its feature
    /// there. On a host that runs guest code on the CPU they run or #UD, and the list is not applied.
    @Test(arguments: [
        ("CLAC (SMAP)", [0x0F, 0x01, 0xCA] as [UInt8]), ("STAC (SMAP)", [0x0F, 0x01, 0xCB]),
        ("POPCNT", [0xF3, 0x48, 0x0F, 0xB8, 0xC3]), ("ANDN (BMI1)", [0xC4, 0xE2, 0xE0, 0xF2, 0xC1]),
        ("SHLX (BMI2)", [0xC4, 0xE2, 0xF1, 0xF7, 0xC3]), ("RDTSCP", [0x0F, 0x01, 0xF9]),
        ("CLWB", [0x66, 0x0F, 0xAE, 0x30]), ("PCLMULQDQ", [0x66, 0x0F, 0x3A, 0x44, 0xC1, 0x00]),
        ("PSHUFB (SSSE3)", [0x66, 0x0F, 0x38, 0x00, 0xC1]), ("PMINSD (SSE4.1)", [0x66, 0x0F, 0x38, 0x39, 0xC1]),
        ("CRC32 (SSE4.2)", [0xF2, 0x0F, 0x38, 0xF1, 0xC3]), ("AESENC", [0x66, 0x0F, 0x38, 0xDC, 0xC1]),
        ("SHA256RNDS2", [0x0F, 0x38, 0xCB, 0xC1]), ("LDMXCSR", [0xC7, 0x00, 0x80, 0x1F, 0x00, 0x00, 0x0F, 0xAE, 0x10]),
    ])
    func emulatorGaps(name: String, instruction: [UInt8]) throws {
        // mov rax, 0x20000; <instruction>; hlt
        let m = try makeMachine([0x48, 0xC7, 0xC0, 0x00, 0x00, 0x02, 0x00] + instruction + [0xF4])
        guard m.host.emulatesCPL0 else { return }  // the CPU runs guest code here
        let reason = try run(m, .continue).reason
        guard case .fault(_, let description) = reason else {
            Issue.record("\(name) ran in KVM's emulator (\(reason)): VCPU.emulatorMissing may be hiding it needlessly")
            return
        }
        #expect(description.contains("instruction emulation failed"), "\(name): \(description)")
    }

    /// Where a Linux boot stops on this host now: kernel_fpu_begin's LDMXCSR (for in-kernel SIMD) — KVM's emulator
    /// has no MXCSR. Not worked around (what follows it is SSE/AVX code the emulator cannot run either).
    @Test func ldmxcsrAtCPL0() throws {
        // mov dword [rsp-8], 0x1f80; ldmxcsr [rsp-8]; mov al, 7; out 0xf4, al; jmp $
        let m = try makeMachine([
            0xC7, 0x44, 0x24, 0xF8, 0x80, 0x1F, 0x00, 0x00, 0x0F, 0xAE, 0x54, 0x24, 0xF8, 0xB0, 0x07, 0xE6, 0xF4, 0xEB, 0xFE,
        ])
        let reason = try run(m, .continue).reason
        if m.host.emulatesCPL0 {
            guard case .fault(_, let description) = reason else {
                Issue.record("LDMXCSR ran in KVM's emulator (\(reason)): the README's account of the boot is out of date")
                return
            }
            #expect(description.contains("instruction emulation failed"), "\(description)")
        } else {
            #expect(reason == .exited(status: 7))
        }
    }

    /// The parameters are added once each, and a `clearcpuid=` of the user's is left alone.
    @Test func emulatorParametersAreAddedOnce() throws {
        let m = try linuxMachine([0xF4])
        guard m.host.emulatesCPL0 else {
            #expect(m.commandLineForThisHost("console=ttyS0 noxsave") == "console=ttyS0 noxsave")
            return
        }
        let line = m.commandLineForThisHost("console=ttyS0 noxsave")
        #expect(line.split(separator: " ").filter { $0 == "noxsave" }.count == 1, "\(line)")
        #expect(line.hasPrefix("console=ttyS0 noxsave clearcpuid="), "\(line)")
        let ours = VCPU.emulatorMissing.map { String($0.linuxNumber) }.filter { $0 != "151" }
        #expect(ours.count == VCPU.emulatorMissing.count - 1, "151 (POPCNT) is one of ours")
        #expect(m.commandLineForThisHost("quiet clearcpuid=154,151") == "quiet clearcpuid=154,151,\(ours.joined(separator: ",")) noxsave")
    }

    /// What a `--kernel` guest's CPUID shows on such a host: none of `VCPU.emulatorMissing`, or, for what the host
    /// shows whatever KVM_SET_CPUID2 says, the feature's number in the `clearcpuid=` kvmstub adds for Linux.
    @Test func linuxGuestsAreKeptFromWhatTheEmulatorLacks() throws {
        var hiddenByCPUID: [String] = []
        defer {
            // KVM_SET_CPUID2 must hide what the host lets it (on kvm_pvm: CX16, RDTSCP); were the hiding broken,
            // every feature would show and this would be empty.
            if kvmAvailable, (try? linuxMachine([0xF4]).host.emulatesCPL0) == true {
                #expect(!hiddenByCPUID.isEmpty, "KVM_SET_CPUID2 hid none of VCPU.emulatorMissing")
            }
        }
        for feature in VCPU.emulatorMissing {
            // mov eax, function; mov ecx, index; cpuid; out 0xf4, al; jmp $
            let code: [UInt8] = [0xB8] + withUnsafeBytes(of: feature.function.littleEndian) { Array($0) }
                + [0xB9] + withUnsafeBytes(of: feature.index.littleEndian) { Array($0) } + [0x0F, 0xA2, 0xE6, 0xF4, 0xEB, 0xFE]
            let m = try linuxMachine(code)
            guard m.host.emulatesCPL0 else { return }
            let reason = try run(m, .continue).reason
            guard case .exited = reason else {
                Issue.record("cpuid \(feature.function): \(reason)")
                continue
            }
            let name = ["rax", "rbx", "rcx", "rdx"][feature.register]
            let shown = u64(try m.readRegister(regnum(name), thread: 1)) >> UInt64(feature.bit) & 1 == 1
            if !shown { hiddenByCPUID.append(feature.name) }
            if shown {
                // This host shows the feature to its guests whatever KVM_SET_CPUID2 says: clearcpuid= must hide it.
                #expect(LinuxBoot.emulatorParameters.contains("clearcpuid="), "\(feature.name)")
                let cleared = LinuxBoot.emulatorParameters.split(separator: " ").first { $0.hasPrefix("clearcpuid=") }?
                    .dropFirst("clearcpuid=".count).split(separator: ",").compactMap { Int($0) } ?? []
                #expect(cleared.contains(feature.linuxNumber), "\(feature.name) is neither hidden nor in clearcpuid")
            }
        }
    }
}
