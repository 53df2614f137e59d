import FakeKernel
import GDBStub
import Glibc
import KVM
import Registers

let fakeTargetUsage = """
    usage: kvmstub fake-target --arch arm64 [--sve-vl BITS] --gdb HOST:PORT
           kvmstub fake-target --arch ppc64 --gdb HOST:PORT

    Serves the GDB remote protocol for a FAKE KERNEL: one in-memory arm64 or ppc64 vCPU that answers the
    ONE_REG ioctls by the kernel's rules, so the arm64 and ppc64 register backends can be driven by
    gdb-multiarch on a host without those KVMs. It is for testing: no guest code runs (a step moves pc on by 4,
    a continue moves it to the next breakpoint), and the 64 KiB of RAM at 0x10000 hold no-op instructions.

      --arch arm64|ppc64  the fake vCPU's architecture
      --sve-vl BITS       arm64 with SVE at this vector length (128…2048, a multiple of 128); without it, no SVE
      --gdb HOST:PORT     where to listen (":1234" = 127.0.0.1:1234; a path with '/' is a Unix socket)

    It serves gdb until gdb kills the target (`kill`), then exits 0.

    """

/// `[--sve-vl BITS]` and nothing else.
func sveVectorLength(_ args: [String], command: String) -> Int? {
    guard !args.isEmpty else { return nil }
    guard args[0] == "--sve-vl", args.count == 2 else {
        fail("unknown option \(args[0]) (see kvmstub \(command) --help)")
    }
    guard let vl = Int(args[1]), RegisterTable.arm64VectorLengths.contains(vl) else {
        fail("--sve-vl \(args[1]): want a vector length in bits from 128 to 2048, a multiple of 128")
    }
    return vl
}

func fakeTargetCommand(_ args: [String]) -> Never {
    if args.contains("--help") || args.contains("-h") {
        print(fakeTargetUsage, terminator: "")
        exit(0)
    }
    var arch: String?
    var gdb: String?
    var rest: [String] = []
    var i = 0
    while i < args.count {
        let a = args[i]
        guard ["--arch", "--gdb", "--sve-vl"].contains(a) else {
            fail("unknown option \(a) (see kvmstub fake-target --help)")
        }
        guard i + 1 < args.count else { fail("\(a) needs a value (see kvmstub fake-target --help)") }
        switch a {
        case "--arch": arch = args[i + 1]
        case "--gdb": gdb = args[i + 1]
        default: rest += [a, args[i + 1]]
        }
        i += 2
    }
    guard let arch else { fail("fake-target needs --arch arm64 or --arch ppc64 (see kvmstub fake-target --help)") }
    let architecture: FakeKernelTarget.Architecture
    switch Architecture(argument: arch) {
    case .arm64?: architecture = .arm64(sveVectorLength: sveVectorLength(rest, command: "fake-target"))
    case .ppc64?:
        if !rest.isEmpty { fail("--sve-vl is for --arch arm64") }
        architecture = .ppc64
    case .x86_64?, nil: fail("unknown architecture \(arch): the fake kernel has arm64 and ppc64")
    }
    guard let gdb else { fail("fake-target needs --gdb HOST:PORT: it only serves gdb") }
    let listen: ListenAddress
    do { listen = try ListenAddress.parse(gdb) } catch { fail("\(error)") }
    let target: FakeKernelTarget
    do { target = try FakeKernelTarget(architecture) } catch { fail("\(error)") }
    // The g packet of SVE at 2048 bits is 9020 bytes, 18040 hex digits: take a G that size.
    let packetSize = max(16384, 2 * target.registerTable.gPacketByteCount + 64)
    let server = GDBServer(listen: listen)
    do { try server.bind() } catch { fail("\(error)") }
    say(
        "serving a FAKE \(architecture) kernel for testing: an in-memory vCPU, no guest runs, nothing here is real hardware"
    )
    say("waiting for gdb on \(server.boundDescription)")
    let end: SessionEnd
    do {
        end = try server.serve(target: target, maxPacketSize: packetSize) { peer in say("gdb connected from \(peer)") }
    } catch { fail("\(error)") }
    server.close()
    if case .exited(let status) = end { exit(Int32(status)) }
    exit(0)
}
