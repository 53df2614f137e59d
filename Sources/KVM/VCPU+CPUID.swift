import CKVM
import Registers

// x86 only: CPUID (KVM_SET_CPUID2, KVM_GET_SUPPORTED_CPUID).
#if KVMSTUB_X86

extension VCPU {
    /// One CPUID feature bit, and its number in Linux's feature words (X86_FEATURE_*, word × 32 + bit).
    package struct CPUIDFeature: Sendable, Equatable {
        package let name: String
        package let function: UInt32
        package let index: UInt32
        /// 0 eax, 1 ebx, 2 ecx, 3 edx.
        package let register: Int
        package let bit: Int
        package let linuxNumber: Int
    }

    /// What KVM's instruction emulator cannot execute, as the CPUID features a Linux guest uses those
    /// instructions by. Where every CPL0 instruction is emulated (kvm_pvm) each one is an "instruction emulation
    /// failed" stop once the kernel patches its alternatives in; hidden, Linux takes the older sequence:
    /// CMPXCHG16B (SLUB's cmpxchg_double takes a lock), POPCNT (hweight in software), SMAP's CLAC/STAC (on every
    /// interrupt entry), BMI1/BMI2, CLWB, RDTSCP (rdtsc_ordered keeps LFENCE; RDTSC). Found one instruction at a
    /// time at CPL0 (LinuxPlatformTests.emulatorGaps). kvm_pvm shows its guests some of these whatever
    /// KVM_SET_CPUID2 says (POPCNT and the leaf 7 bits, XSAVE too), so `--kernel` also clears them on the
    /// kernel's command line (LinuxBoot.emulatorParameters).
    package static let emulatorMissing: [CPUIDFeature] = [
        CPUIDFeature(name: "CX16", function: 1, index: 0, register: 2, bit: 13, linuxNumber: 4 * 32 + 13),
        CPUIDFeature(name: "POPCNT", function: 1, index: 0, register: 2, bit: 23, linuxNumber: 4 * 32 + 23),
        CPUIDFeature(name: "BMI1", function: 7, index: 0, register: 1, bit: 3, linuxNumber: 9 * 32 + 3),
        CPUIDFeature(name: "BMI2", function: 7, index: 0, register: 1, bit: 8, linuxNumber: 9 * 32 + 8),
        CPUIDFeature(name: "SMAP", function: 7, index: 0, register: 1, bit: 20, linuxNumber: 9 * 32 + 20),
        CPUIDFeature(name: "CLWB", function: 7, index: 0, register: 1, bit: 24, linuxNumber: 9 * 32 + 24),
        CPUIDFeature(name: "RDTSCP", function: 0x8000_0001, index: 0, register: 3, bit: 27, linuxNumber: 1 * 32 + 27),
        // SIMD beyond SSE2 (no SSE arithmetic in the emulator, nor LDMXCSR): Linux's in-kernel users (blake2s in
        // the random driver at the first initcalls, crypto, crc) check these before kernel_fpu_begin, and take
        // their generic C code without them. (AVX and later go with `noxsave`.)
        CPUIDFeature(name: "PCLMULQDQ", function: 1, index: 0, register: 2, bit: 1, linuxNumber: 4 * 32 + 1),
        CPUIDFeature(name: "SSSE3", function: 1, index: 0, register: 2, bit: 9, linuxNumber: 4 * 32 + 9),
        CPUIDFeature(name: "SSE4.1", function: 1, index: 0, register: 2, bit: 19, linuxNumber: 4 * 32 + 19),
        CPUIDFeature(name: "SSE4.2", function: 1, index: 0, register: 2, bit: 20, linuxNumber: 4 * 32 + 20),
        CPUIDFeature(name: "AES", function: 1, index: 0, register: 2, bit: 25, linuxNumber: 4 * 32 + 25),
        CPUIDFeature(name: "SHA", function: 7, index: 0, register: 1, bit: 29, linuxNumber: 9 * 32 + 29),
    ]
}

/// What the host CPU says about itself (CPUID has no Swift spelling: CKVM's `ckvm_cpuid`).
package enum HostCPU {
    package static func cpuid(_ leaf: UInt32, _ sub: UInt32 = 0) -> (eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32)
    {
        var r: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &r) {
            $0.withMemoryRebound(to: UInt32.self, capacity: 4) { ckvm_cpuid(leaf, sub, $0) }
        }
        return r
    }

    /// The XSAVE layout the kernel's KVM_GET_XSAVE uses (standard format: CPUID leaf 0xD sub-leaf n gives
    /// component n's size in EAX and offset in EBX).
    package static func xsaveLayout() -> RegisterTable.XSAVELayout? {
        guard cpuid(0).eax >= 0xD, cpuid(1).ecx & (1 << 28) != 0 else { return nil }  // AVX
        let avx = cpuid(0xD, 2)
        guard avx.eax == 256 else { return nil }
        var layout = RegisterTable.XSAVELayout(avx: Int(avx.ebx))
        if cpuid(7).ebx & (1 << 16) != 0 {  // AVX512F
            let (k, hi, hi16) = (cpuid(0xD, 5), cpuid(0xD, 6), cpuid(0xD, 7))
            if k.eax == 64, hi.eax == 512, hi16.eax == 1024, hi16.ebx + 1024 <= 4096 {
                layout.opmask = Int(k.ebx)
                layout.zmmHi256 = Int(hi.ebx)
                layout.hi16ZMM = Int(hi16.ebx)
            }
        }
        return layout
    }

    /// 5-level paging (LA57): a Linux guest's virtual addresses are 57 bits wide, else 48.
    package static var hasLA57: Bool { cpuid(7).ecx & (1 << 16) != 0 }
}

#endif
