import Foundation
import Testing

/// The kernel developer's sessions (gdb-scripts/kernel/) that fit this host: Debian's kernel entered at its PVH note,
/// `hbreak start_kernel`, then the kernel's own gdb helpers (vmlinux-gdb.py built from Debian's source) with the -dbg
/// vmlinux once the per-CPU areas exist. The rest (the bzImage with KASLR to a shell prompt, lx-symbols and a module,
/// data watchpoints, two CPUs) needs a host that runs kernel code on the CPU: scripts/rig-x86.sh runs those.
/// scripts/kernel-gdb.sh builds the cache they read (scripts/test.sh runs it first; run.sh does when KERNEL_GDB is
/// unset, which downloads ~420 MB the first time).
@Suite(
    .enabled(if: kvmUsable, "needs /dev/kvm"), .enabled(if: gdbPath != nil, "needs gdb"),
    .enabled(if: debianKernel != nil, "needs Debian's kernel image: apt-get install linux-image-cloud-amd64 (scripts/test.sh does)"))
struct KernelGDBScriptTests {
    @Test func earlyBootWithTheKernelsGDBHelpers() throws {
        let r = try run(
            "/bin/bash", ["gdb-scripts/run.sh", "gdb-scripts/kernel/pvh-early.gdb"], environment: ["KVMSTUB": kvmstubPath],
            timeout: 1800)
        print(r.stdout, r.stderr)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok   pvh-early "), "\(r.stdout)")
    }
}
