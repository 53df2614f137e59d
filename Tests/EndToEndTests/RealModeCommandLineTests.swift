import Foundation
import Testing

/// `kvmstub run --real-mode`: the lessons' boot sectors, run without a debugger, and the flag's misuse.
@Suite struct RealModeCommandLineTests {
    @Test func gdbArchNeedsRealMode() throws {
        let r = try run(kvmstubPath, ["run", "x.elf", "--gdb-arch", "x86-64"])
        #expect(r.status == 1)
        #expect(r.stderr == "kvmstub: --gdb-arch goes with --real-mode (an ELF or a kernel starts in long mode)\n")
        let bad = try run(kvmstubPath, ["run", "x.bin", "--real-mode", "--gdb-arch", "z80"])
        #expect(bad.status == 1 && bad.stderr.contains("--gdb-arch z80: want i8086 or x86-64"))
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func bootSectorsRunAndExitWithTheirStatus() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        let one = try run(kvmstubPath, ["run", "--real-mode", "examples/build/lesson-1-real-mode.bin"], timeout: 60)
        #expect(one.status == 55, "\(one.stderr)")
        #expect(one.stdout.contains("boot: real mode at 0000:7c00") && one.stdout.contains("sum=0x0037"))
        let two = try run(kvmstubPath, ["run", "--real-mode", "examples/build/lesson-2-long-mode.bin"], timeout: 60)
        #expect(two.status == 0, "\(two.stderr)")
        #expect(two.stdout.contains("long64: EFER.LMA, four-level paging"))
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func oneVCPUOnly() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        let r = try run(kvmstubPath, ["run", "--real-mode", "--cpus", "2", "examples/build/lesson-1-real-mode.bin"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("a real-mode image starts one vCPU"))
    }
}

/// `kvmstub run --disk`: booting from a disk's sector 0 as a BIOS does, and the files that cannot be disks.
@Suite struct DiskCommandLineTests {
    func temporary(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "disk-\(UUID().uuidString).img"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func bootsSectorZeroOfTheDiskAsABIOSWould() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        // Lesson 1's boot sector is one sector with the signature: as a disk of two sectors it boots the same.
        let boot = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "examples/build/lesson-1-real-mode.bin")))
        let disk = try temporary(boot + [UInt8](repeating: 0, count: 512))
        defer { try? FileManager.default.removeItem(atPath: disk) }
        let r = try run(kvmstubPath, ["run", "--real-mode", "--disk", disk], timeout: 60)
        #expect(r.status == 55, "\(r.stderr)")
        #expect(r.stdout.contains("boot: real mode at 0000:7c00") && r.stdout.contains("sum=0x0037"))
    }

    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"))
    func lesson10sKernelCountsItsBootsOnTheDisk() throws {
        _ = try run("/bin/bash", ["examples/build.sh"])
        let image = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "examples/build/lesson-10-boot-disk.img")))
        let disk = try temporary(image)
        defer { try? FileManager.default.removeItem(atPath: disk) }
        let first = try run(kvmstubPath, ["run", "--real-mode", "--disk", disk], timeout: 60)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("kernel: disk \"KVMSTUB ATA PIO DISK\", 256 sectors"))
        #expect(
            first.stdout.contains("the first boot from this disk")
                && first.stdout.contains("boot 1 recorded in sector 255"))
        let after = [UInt8](try Data(contentsOf: URL(fileURLWithPath: disk)))
        #expect(after.count == image.count && after[0..<(255 * 512)] == image[0..<(255 * 512)])  // only the record changed
        #expect(after[(255 * 512)..<(255 * 512 + 8)].elementsEqual(Array("KVMSTUB\0".utf8)))
        let second = try run(kvmstubPath, ["run", "--real-mode", "--disk", disk], timeout: 60)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(
            second.stdout.contains("the record block says \"written by boot 1\"")
                && second.stdout.contains("boot 2 recorded"))
        // Read-only: the kernel's write fails (ABRT) and it says so.
        let ro = try run(kvmstubPath, ["run", "--real-mode", "--disk", disk + ",ro"], timeout: 60)
        #expect(ro.status == 1 && ro.stdout.contains("kernel: cannot write the record block"))
    }

    /// gdb-scripts/run.sh's `# boot-again:` (lesson 10's second boot) fails when the second boot does not print
    /// what the script says: here, a count the disk cannot have reached.
    @Test(.enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"))
    func runShFailsASecondBootThatDoesNotMatch() throws {
        let script = try String(contentsOfFile: "gdb-scripts/lesson-10-boot-disk.gdb", encoding: .utf8)
        #expect(script.contains("# boot-again: kernel: boot 2 recorded in sector 255\n"))
        let wrong = NSTemporaryDirectory() + "boot-again-\(UUID().uuidString).gdb"
        try script.replacingOccurrences(
            of: "# boot-again: kernel: boot 2 recorded", with: "# boot-again: kernel: boot 3 recorded"
        )
        .write(toFile: wrong, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        let r = try run(
            "/bin/bash", ["gdb-scripts/run.sh", wrong], environment: ["KVMSTUB": kvmstubPath], timeout: 180)
        #expect(r.status != 0)
        #expect(
            r.stdout.contains("booted again, the serial output lacks: kernel: boot 3 recorded in sector 255"),
            "\(r.stdout)")
        #expect(!r.stdout.contains("FAIL: "), "the gdb session itself passed: \(r.stdout)")
    }

    @Test func aDiskWithoutABootSignatureIsOneLine() throws {
        let disk = try temporary([UInt8](repeating: 0x90, count: 1024))
        defer { try? FileManager.default.removeItem(atPath: disk) }
        let r = try run(kvmstubPath, ["run", "--real-mode", "--disk", disk])
        #expect(r.status == 1)
        #expect(
            r.stderr == "kvmstub: --disk \(disk): sector 0 is not a boot sector: it ends in 0x90 0x90, not 0x55 0xaa\n")
    }

    @Test func filesThatCannotBeDisksAndMisuse() throws {
        let odd = try temporary([UInt8](repeating: 0, count: 1000))
        defer { try? FileManager.default.removeItem(atPath: odd) }
        let r = try run(kvmstubPath, ["run", "--real-mode", "--disk", odd])
        #expect(r.status == 1)
        #expect(r.stderr == "kvmstub: --disk \(odd): 1000 bytes; a disk is whole 512-byte sectors (at least one)\n")
        let missing = try run(kvmstubPath, ["run", "--real-mode", "--disk", "/nonexistent.img,ro"])
        #expect(
            missing.status == 1 && missing.stderr == "kvmstub: --disk /nonexistent.img: No such file or directory\n")
        let kernel = try run(kvmstubPath, ["run", "--kernel", "vmlinux", "--disk", odd])
        #expect(
            kernel.status == 1
                && kernel.stderr.contains("--disk is for a boot sector or an example guest, not --kernel"))
        let nothing = try run(kvmstubPath, ["run", "--real-mode"])
        #expect(nothing.status == 1 && nothing.stderr.contains("or --disk FILE to boot from its sector 0"))
    }
}
