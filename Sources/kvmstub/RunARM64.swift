import GDBStub
import Glibc
import GuestImage
import KVM
import Machine

let runARM64Usage = """
    usage: kvmstub run IMAGE [--gdb HOST:PORT | --gdb PATH] [--wait] [--memory SIZE] [--serial PATH]
                             [--cpus N] [--sve-vl BITS | --no-sve] [--watchpoints MODE] [--stall-timeout S]

    Boots IMAGE, an ELF64 AArch64 executable, on arm64 KVM: PT_LOAD segments at their physical addresses in RAM
    at 0x40000000 (QEMU virt's layout), vCPU 0 at the ELF entry in EL1h with the MMU off, D/A/I/F masked and
    sp (SP_EL1) at the top of RAM. A PL011 UART's data register at 0x09000000 writes to stdout; its flag register
    always says "transmit FIFO empty". PSCI 0.2 is the kernel's (HVC): SYSTEM_OFF ends the run with status 0,
    SYSTEM_RESET with status 1; CPU_ON starts a secondary vCPU. With --gdb, serves the GDB remote protocol
    (gdb-multiarch): one thread per vCPU, all-stop.

      --gdb HOST:PORT     listen for gdb on a TCP address (":1234" = 127.0.0.1:1234)
      --gdb PATH          listen on a Unix socket (created with mode 0600)
      --wait              stop before the first instruction until gdb attaches; needs --gdb
      --memory SIZE       guest RAM, e.g. 128M (default), 1G
      --serial PATH       write the PL011's output to PATH instead of stdout
      --cpus N            vCPUs (1 to 64): vCPUs 1… start at the symbol `ap_start` (x0 = index, sp 64 KiB
                          below the previous one's) if IMAGE has one, else powered off until the guest's PSCI
                          CPU_ON
      --sve-vl BITS       the SVE vector length (128 to 2048, one the host offers); default the largest offered
      --no-sve            no SVE: the vCPU has FP/SIMD only and gdb sees v0-v31
      --watchpoints MODE  what serves gdb's watchpoints: auto (default: the watchpoint registers, then page
                          protection), debug-registers, or page
      --stall-timeout S   drop a gdb whose replies stop moving for S seconds (default 10)

    No interrupt controller: a guest's WFI waits until gdb stops it.

    """

func runARM64Command(_ args: [String]) -> Never {
    var image: String?
    var gdb: String?
    var wait = false
    var config = MachineConfiguration()
    config.architecture = .arm64
    config.memoryMap = .none
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
            guard let n = Int(v), (1...64).contains(n) else { fail("--cpus \(v): want a number of vCPUs from 1 to 64") }
            config.vcpuCount = n
        case "--watchpoints":
            let v = value(a)
            guard let request = WatchRequest(rawValue: v), request != .singleStep else {
                fail("--watchpoints \(v): want auto, debug-registers or page")
            }
            config.watchRequest = request
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
    let machine: Machine
    do {
        machine = try Machine(configuration: config, kvm: kvm)
        try machine.load(elf, name: image)
    } catch { fail("\(error)") }
    serve(machine, listen: listen, wait: wait, stallTimeout: stallTimeout)
}
