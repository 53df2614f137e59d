import Foundation
import Testing

/// `kvmstub run --kernel … --cpus 2`: Linux finds the second CPU in the firmware tables kvmstub writes. Debian's
/// kernels are built without CONFIG_X86_MPPARSE, so this one reads the ACPI MADT (the MP table, written beside it,
/// is for kernels that have the MP parser; FirmwareTablesTests checks both byte by byte). The secondary CPU is
/// only started by smp_init, minutes into a boot on a host that emulates CPL0 code: the test stops earlier, in
/// setup_per_cpu_areas (right after setup_arch has read the tables), where vCPU 1 still waits for INIT/SIPI.
@Suite(
    .enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"),
    .enabled(
        if: debianKernel != nil,
        "needs Debian's kernel image: apt-get install linux-image-cloud-amd64 (scripts/test.sh does)"))
struct LinuxSMPTests {
    @Test func twoCPUsFromTheMADT() throws {
        let k = try #require(extractedKernel, "extracting vmlinux from \(debianKernel ?? "?") failed")
        let s = try run("/usr/bin/env", ["python3", "scripts/kallsyms.py", k.vmlinux, "setup_per_cpu_areas"])
        let stopAt = try #require(
            s.stdout.split(separator: " ").first.flatMap { UInt64($0, radix: 16) },
            "kallsyms.py: \(s.stdout)\(s.stderr)")
        let script = """
            hbreak *0x\(String(stopAt, radix: 16))
            python import time; t0 = time.time()
            continue
            python print("seconds-to-setup_per_cpu_areas=%.1f" % (time.time() - t0))
            echo rip=\\n
            p/x $rip
            info threads
            thread 2
            echo ap-rip=\\n
            p/x $rip
            echo ap-cs=\\n
            p/x $cs
            """
        let (g, stub, serial) = try debugKernel(
            k.vmlinux, cmdline: "console=ttyS0 earlyprintk=serial,ttyS0,115200 nokaslr",
            arguments: ["--cpus", "2"],
            script: script, timeout: 120)
        let out = g.stdout.replacingOccurrences(of: "=\n$", with: "= $")
        print(g.stdout, g.stderr, stub, "serial (\(serial.utf8.count) bytes):\n\(serial.prefix(4000))")
        #expect(printed("rip", in: out) == stopAt, "\(g.stdout)\(g.stderr)\(stub)")
        // Linux's own account of the tables, printed by setup_arch before the breakpoint.
        #expect(serial.contains("ACPI: Using ACPI (MADT) for SMP configuration information"), "\(serial)")
        #expect(serial.contains("smpboot: Allowing 2 CPUs, 0 hotplug CPUs"), "\(serial)")
        #expect(serial.contains("IOAPIC[0]: apic_id 2, version 17, address 0xfec00000, GSI 0-23"), "\(serial)")
        #expect(serial.contains("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 dfl dfl)"), "\(serial)")
        #expect(!serial.contains("MADT or MP tables are not detected"), "\(serial)")
        // gdb sees both vCPUs; the second still at the reset vector (f000:fff0), not yet sent a SIPI.
        #expect(g.stdout.contains("Thread 1 (vCPU 0"), "\(g.stdout)")
        #expect(g.stdout.contains("Thread 2 (vCPU 1"), "\(g.stdout)")
        #expect(printed("ap-rip", in: out) == 0xfff0, "\(g.stdout)")
        #expect(printed("ap-cs", in: out) == 0xf000, "\(g.stdout)")
        #expect(g.stdout.contains("seconds-to-setup_per_cpu_areas="), "\(g.stdout)")
    }
}
