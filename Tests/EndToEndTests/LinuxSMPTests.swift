import Foundation
import Testing

/// A kernel with the MP-table parser (CONFIG_X86_MPPARSE=y), for the MP table end to end: Debian's generic
/// kernel if /boot has it, or the vmlinuz named by KVMSTUB_MPPARSE_KERNEL (e.g. one unpacked with `apt-get download
/// linux-image-6.1.0-56-amd64-unsigned`). Booted with acpi=off, so Linux reads the MP table and not the MADT.
let mpparseKernel: String? = {
    if let k = ProcessInfo.processInfo.environment["KVMSTUB_MPPARSE_KERNEL"] { return k }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/boot")) ?? []
    return names.filter { $0.hasPrefix("vmlinuz-") && $0.hasSuffix("-amd64") && !$0.hasSuffix("-cloud-amd64") }
        .sorted().last.map { "/boot/\($0)" }
}()

/// `kvmstub run --kernel … --cpus 2`: Linux finds the second CPU in the firmware tables kvmstub writes. Debian's
/// cloud kernel is built without CONFIG_X86_MPPARSE, so it reads the ACPI MADT; a kernel with the MP parser and
/// acpi=off reads the MP table (FirmwareTablesTests checks both byte by byte). The secondary CPU is only started
/// by smp_init, 50–80 s of guest clock into a boot on a host that emulates CPL0 code (93–143 s of wall clock with
/// other boots sharing this host's two cores): too late to wait for here, so the tests stop earlier, in
/// setup_per_cpu_areas (right after setup_arch has read the tables), where vCPU 1 still waits for INIT/SIPI.
@Suite(
    .enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"), .serialized)
struct LinuxSMPTests {
    /// Boots `vmlinux` with --cpus 2 to setup_per_cpu_areas, checks gdb's view of both vCPUs; the serial output.
    func bootTwoCPUsToSetupPerCPUAreas(_ vmlinux: String, cmdline: String) throws -> String {
        let s = try run("/usr/bin/env", ["python3", "scripts/kallsyms.py", vmlinux, "setup_per_cpu_areas"])
        let stopAt = try #require(
            s.stdout.split(separator: " ").first.flatMap { UInt64($0, radix: 16) },
            "kallsyms.py: \(s.stdout)\(s.stderr)")
        let script = runTo("setup_per_cpu_areas", at: stopAt) + """
            info threads
            thread 2
            echo ap-rip=\\n
            p/x $rip
            echo ap-cs=\\n
            p/x $cs
            """
        let (g, stub, serial) = try debugKernel(
            vmlinux, cmdline: cmdline, arguments: ["--cpus", "2"], script: script, timeout: 900)
        let out = g.stdout.replacingOccurrences(of: "=\n$", with: "= $")
        #expect(printed("rip", in: out) == stopAt, "\(g.stdout)\(g.stderr)\(stub)")
        // gdb sees both vCPUs; the second still at the reset vector (f000:fff0), not yet sent a SIPI.
        #expect(g.stdout.contains("Thread 1 (vCPU 0"), "\(g.stdout)")
        #expect(g.stdout.contains("Thread 2 (vCPU 1"), "\(g.stdout)")
        #expect(printed("ap-rip", in: out) == 0xfff0, "\(g.stdout)")
        #expect(printed("ap-cs", in: out) == 0xf000, "\(g.stdout)")
        #expect(g.stdout.contains("seconds-to-setup_per_cpu_areas="), "\(g.stdout)")
        // Linux's own account of the tables, printed by setup_arch before the breakpoint.
        #expect(serial.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "\(serial)")
        #expect(serial.contains("IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23"), "\(serial)")
        #expect(!serial.contains("MADT or MP tables are not detected"), "\(serial)")
        return serial
    }

    @Test(
        .enabled(
            if: debianKernel != nil,
            "needs Debian's kernel image: apt-get install linux-image-cloud-amd64 (scripts/test.sh does)"))
    func twoCPUsFromTheMADT() throws {
        let k = try #require(extractedKernel, "extracting vmlinux from \(debianKernel ?? "?") failed")
        let serial = try bootTwoCPUsToSetupPerCPUAreas(
            k.vmlinux, cmdline: "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr")
        #expect(serial.contains("ACPI: Using ACPI (MADT) for SMP configuration information"), "\(serial)")
        #expect(!serial.contains("INT_SRC_OVR"), "KVM routes IRQ 0 to pin 0: no override \(serial)")
    }

    @Test(.enabled(if: mpparseKernel != nil, "needs a kernel with CONFIG_X86_MPPARSE: see mpparseKernel"))
    func twoCPUsFromTheMPTable() throws {
        let kernel = try #require(mpparseKernel)
        let vmlinux = FileManager.default.temporaryDirectory.appendingPathComponent("kvmstub-mpparse-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: vmlinux) }
        let x = try run("/bin/bash", ["scripts/extract-vmlinux.sh", kernel, vmlinux])
        try #require(x.status == 0, "extract-vmlinux.sh \(kernel): \(x.stderr)")
        let serial = try bootTwoCPUsToSetupPerCPUAreas(
            vmlinux, cmdline: "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr acpi=off")
        #expect(serial.contains("found SMP MP-table at [mem 0x000f0000-0x000f000f]"), "\(serial)")
        #expect(serial.contains("Intel MultiProcessor Specification v1.4"), "\(serial)")
        #expect(
            serial.contains("Processor #0 (Bootup-CPU)")
                && serial.split(whereSeparator: \.isNewline).contains { $0.hasSuffix("] Processor #1") }, "\(serial)")
        #expect(!serial.contains("ACPI: Using ACPI"), "acpi=off: the MP table alone, \(serial)")
    }
}
