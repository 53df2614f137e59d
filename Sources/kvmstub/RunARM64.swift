import ARM64VMM
import GDBStub
import Glibc
import GuestImage
import KVM
import Synchronization

let runARM64Usage = """
    usage: kvmstub run IMAGE [--gdb HOST:PORT | --gdb PATH] [--wait] [--memory SIZE] [--serial PATH]
                             [--sve-vl BITS | --no-sve] [--stall-timeout S]

    Boots IMAGE, an ELF64 AArch64 executable, on arm64 KVM: PT_LOAD segments at their physical addresses in RAM
    at 0x40000000 (QEMU virt's layout), one vCPU at the ELF entry in EL1h with the MMU off, D/A/I/F masked and
    sp (SP_EL1) at the top of RAM. A PL011 UART's data register at 0x09000000 writes to stdout; its flag register
    always says "transmit FIFO empty". PSCI 0.2 is the kernel's (HVC): SYSTEM_OFF ends the run with status 0,
    SYSTEM_RESET with status 1. With --gdb, serves the GDB remote protocol (gdb-multiarch).

      --gdb HOST:PORT     listen for gdb on a TCP address (":1234" = 127.0.0.1:1234)
      --gdb PATH          listen on a Unix socket (created with mode 0600)
      --wait              stop before the first instruction until gdb attaches; needs --gdb
      --memory SIZE       guest RAM, e.g. 128M (default), 1G
      --serial PATH       write the PL011's output to PATH instead of stdout
      --sve-vl BITS       the SVE vector length (128 to 2048, one the host offers); default the largest offered
      --no-sve            no SVE: the vCPU has FP/SIMD only and gdb sees v0-v31
      --stall-timeout S   drop a gdb whose replies stop moving for S seconds (default 10)

    One vCPU (--cpus 1 only). No interrupt controller: a guest's WFI waits until gdb stops it.

    """

func runARM64Command(_ args: [String]) -> Never {
    var image: String?
    var gdb: String?
    var wait = false
    var config = ARM64MachineConfiguration()
    var serialPath: String?
    var stallTimeout = Session.defaultStallTimeout
    var i = 0
    func value(_ flag: String) -> String {
        i += 1
        guard i < args.count else { fail("\(flag) needs a value (see kvmstub run --help)") }
        return args[i]
    }
    while i < args.count {
        let a = args[i]
        switch a {
        case "--help", "-h":
            print(runARM64Usage, terminator: "")
            exit(0)
        case "--gdb": gdb = value(a)
        case "--wait": wait = true
        case "--stall-timeout":
            stallTimeout = parseStallTimeout(value(a))
        case "--memory":
            let v = value(a)
            guard let size = parseSize(v), size >= 1 << 20, size % 4096 == 0 else {
                fail("--memory \(v): want a size of at least 1M, like 128M or 1G")
            }
            config.memorySize = size
        case "--serial": serialPath = value(a)
        case "--sve-vl":
            let v = value(a)
            guard let bits = Int(v), bits >= 128, bits <= 2048, bits % 128 == 0 else {
                fail("--sve-vl \(v): want a multiple of 128 from 128 to 2048")
            }
            config.sve = .length(bits)
        case "--no-sve": config.sve = .none
        case "--cpus":
            let v = value(a)
            guard v == "1" else { fail("--cpus \(v): the arm64 VMM runs one vCPU") }
        default:
            if a.hasPrefix("-") { fail("unknown option \(a) (see kvmstub run --help)") }
            if image != nil { fail("more than one image given: \(image!) and \(a)") }
            image = a
        }
        i += 1
    }
    if args.contains("--no-sve") && args.contains("--sve-vl") { fail("--sve-vl and --no-sve contradict each other") }
    guard let image else { fail("run needs an IMAGE (see kvmstub run --help)") }
    if wait && gdb == nil { fail("--wait needs --gdb: nothing could attach to the stopped guest") }
    let listen: ListenAddress?
    do { listen = try gdb.map { g throws(GDBServerError) in try ListenAddress.parse(g) } } catch { fail("\(error)") }
    if case .tcp(let host, _) = listen, !["127.0.0.1", "localhost", "::1"].contains(host) {
        say("warning: listening on \(host), not loopback: whoever connects gets full control of the guest")
    }
    let elf: ELFImage
    do { elf = try ELFImage(bytes: readFile(image), name: image, machine: .aarch64) } catch { fail("\(error)") }
    if let serialPath {
        let fd = open(serialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { fail("cannot write \(serialPath): \(String(cString: strerror(errno)))") }
        config.serialFD = fd
    }
    let kvm = openKVM()
    let machine: ARM64Machine
    do {
        machine = try ARM64Machine(configuration: config, kvm: kvm)
        try machine.load(elf, name: image)
    } catch let error as KVMError {
        fail("\(error)")
    } catch {
        fail("\(error)")
    }
    guard let listen else { exit(machine.runToEnd()) }

    let server = GDBServer(listen: listen)
    server.stallTimeout = stallTimeout
    do { try server.bind() } catch { fail("\(error)") }
    // The guest ending with no gdb attached ends kvmstub with its status, once the server stops accepting.
    let exitStatus = Atomic<Int32>(-1)
    let serverForStop = UncheckedBox(server)
    machine.unattendedStop = { stop in
        switch stop.reason {
        case .exited(let status):
            exitStatus.store(Int32(status), ordering: .releasing)
            serverForStop.value.stopAccepting()
        case .fault(_, let description):
            say("vCPU 0: \(description)")
            say("the guest is stopped; attach gdb to look at it")
        default: break
        }
    }
    say("\(wait ? "guest stopped at its entry; " : "")waiting for gdb on \(server.boundDescription)")
    machine.start(running: !wait)
    let end: SessionEnd
    do {
        end = try server.serve(target: machine) { peer in say("gdb connected from \(peer)") }
    } catch { fail("\(error)") }
    server.close()
    if case .exited(let status) = end { exit(Int32(status)) }
    let status = exitStatus.load(ordering: .acquiring)
    exit(status >= 0 ? status : 0)
}
