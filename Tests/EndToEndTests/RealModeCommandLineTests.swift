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
