import GDBStub
import Glibc
import KVM
import Machine
import Registers
import Synchronization

/// Hands a non-Sendable reference to a @Sendable closure; the server's stopAccepting() is thread-safe.
final class UncheckedBox<T: AnyObject>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// 0x55-style: a byte for a message.
func hex2(_ b: UInt8) -> String { "0x" + (b < 0x10 ? "0" : "") + String(b, radix: 16) }

/// One line on stderr and exit status 1: how every bad input ends.
func fail(_ message: String) -> Never {
    let text = "kvmstub: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

func say(_ message: String) {
    let text = "kvmstub: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

let usage = """
    usage: kvmstub <command> [options]

    commands:
      run IMAGE   boot an ELF64 guest under KVM (x86-64 here, AArch64 on arm64) and serve gdb
      info        what the host's KVM offers (capabilities, guest-debug flags, breakpoint strategy)
      regs        print a register table: name, gdb regnum, bitsize, ONE_REG ID, sync group
      fake-target serve gdb a FAKE arm64 or ppc64 kernel (an in-memory vCPU, for testing)

    `kvmstub <command> --help` describes each.

    """

let runUsage = """
    usage: kvmstub run IMAGE [--gdb HOST:PORT | --gdb PATH] [--wait] [--memory SIZE] [--serial PATH] [--cpus N]
                             [--sw-breakpoints auto|int3|hw-then-hlt] [--watchpoints W] [--no-sync-regs] [--real-mode [--gdb-arch A]]
                             [--disk FILE[,ro]]
           kvmstub run --real-mode --disk FILE [--gdb-arch A] [...]     (boots from the disk's sector 0)

    Boots IMAGE (an ELF64 x86-64 executable; PT_LOAD segments at p_paddr, entry in 64-bit long mode with
    the first 4 GiB identity-mapped) and, with --gdb, serves the GDB remote protocol.

      --gdb HOST:PORT     listen for gdb on a TCP address (":1234" = 127.0.0.1:1234). Only loopback by default:
                          the stub gives full control of the guest.
      --gdb PATH          listen on a Unix socket (created with mode 0600)
      --wait              stop before the first instruction until gdb attaches (QEMU's -S); needs --gdb
      --stall-timeout S   drop a gdb whose replies stop moving once the socket buffers are full, or that sends
                          part of a packet and then nothing, for S seconds (default 10; 0.5 or 600 work too) as
                          if it had detached: the guest runs on
                          and the next gdb can attach. A gdb idle at its prompt is never dropped
      --memory SIZE       guest RAM, e.g. 128M (default), 1G, 65536K
      --serial PATH       write the serial port (0x3f8) to PATH instead of stdout
      --cpus N            vCPUs (default 1). vCPU 0 starts at the ELF entry; the others at the symbol
                          `ap_start`, with rdi = their index and a 64 KiB stack each below vCPU 0's. With
                          --irqchip and no `ap_start` they wait, as KVM creates them, for the INIT and SIPI the
                          guest sends through its LAPIC, and start in real mode at the SIPI's vector * 0x1000
      --sw-breakpoints S  how Z0 is served: auto (probe the host, default), int3, hw-then-hlt
      --watchpoints W     how Z2/Z3/Z4 are served: auto (default: debug registers where data breakpoints fire and
                          one is free, else page protection), page, debug-registers, single-step; `monitor
                          watch-strategy W` changes it for the watchpoints inserted next
      --no-sync-regs      fetch registers with ioctls even where kvm_run can carry them (KVM_CAP_SYNC_REGS)
      --no-memory-map     give gdb no memory map (qXfer:memory-map:read), for an ELF guest that maps memory
                          outside its identity-mapped RAM: with the map gdb refuses any address beyond RAM
      --irqchip           add the in-kernel PIC/IOAPIC/LAPIC and 8254 PIT (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2),
                          for a guest with timer interrupts (examples/timer). HLT then waits inside KVM for an
                          interrupt, so on hosts that ignore USE_SW_BP only four `break`s fit (debug registers)
      --real-mode         IMAGE is raw 16-bit code (a boot sector): copied to 0x7c00 and started there in real
                          mode, cs:ip = 0000:7c00, sp = 0x7c00, dl = 0x80; no BIOS. gdb is offered i386
                          registers under architecture i8086, so it disassembles 16-bit code
      --gdb-arch A        with --real-mode: i8086 (default) or x86-64, the 64-bit registers, for an image that
                          climbs to long mode (gdb reads the description once, when it connects)
      --disk FILE[,ro]    an ATA disk (the primary channel's master, ports 0x1f0-0x1f7 and 0x3f6), served by
                          polled PIO: LBA28 READ/WRITE SECTORS (0x20/0x30), IDENTIFY (0xec), FLUSH CACHE; no
                          IRQ 14, no DMA, no slave (its status reads 0). FILE is whole 512-byte sectors; writes
                          reach it at once. ,ro opens it read-only (WRITE SECTORS then fails with ERR/ABRT).
                          With --real-mode and no IMAGE, boots from it as a PC BIOS does: sector 0 (which must
                          end in 0x55 0xaa) is copied to 0x7c00 and started there, dl = 0x80

    The guest ends the run by writing a status byte to port 0xf4; kvmstub exits with that status.

    kvmstub run --kernel KERNEL [--initrd FILE] [--cmdline "..."] [--memory SIZE] [--cpus N] [--gdb ...] [--wait]
    boots Linux: KERNEL is an ELF vmlinux (entered at its PVH entry note, as Firecracker does: fastest here) or a
    bzImage (64-bit boot protocol; its decompressor runs first). In-kernel PIC/IOAPIC/LAPIC and PIT, a CMOS clock
    on 0x70/0x71 (the host's time), a 16550A on 0x3f8/IRQ 4, 512M of RAM unless --memory says otherwise. With --cpus N, an ACPI MADT and an Intel MP table
    (at 0xf0000) list N CPUs, LAPIC ids 0..N-1, and the IOAPIC; vCPUs 1.. wait for the kernel's INIT/SIPI, which
    Linux sends in smp_init, late in its boot. The default command line is
    "console=ttyS0 nokaslr": without nokaslr the kernel moves itself by a random slide and gdb's symbols
    (vmlinux, System.map) would not match. scripts/extract-vmlinux.sh gets the ELF out of a distribution vmlinuz.

    """

let regsUsage = """
    usage: kvmstub regs --arch x86_64 | --arch arm64 [--sve-vl BITS] | --arch ppc64

    Prints the register table: name, gdb regnum, bitsize, the ONE_REG ID (0x + 16 hex digits) and the sync
    group, then what serves each group.

    """

let infoUsage = """
    usage: kvmstub info

    Prints what /dev/kvm offers: API version, ONE_REG, SYNC_REGS, the KVM_CAP_SET_GUEST_DEBUG2 flags
    (BLOCKIRQ among them), vCPU limits, and how software breakpoints are served on this host (a probe).

    """

/// `--stall-timeout SECONDS` (both VMMs' `run`): 0.001 to 86400 seconds, or one line on stderr and exit 1.
func parseStallTimeout(_ v: String) -> Duration {
    guard let seconds = Double(v), seconds >= 0.001, seconds <= 86400 else {
        fail("--stall-timeout \(v): want a number of seconds from 0.001 to 86400, like 10 or 0.5")
    }
    return .milliseconds(Int((seconds * 1000).rounded()))
}

func parseSize(_ text: String) -> Int? {
    var digits = text
    var unit = 1
    if let last = text.last, "KkMmGg".contains(last) {
        digits = String(text.dropLast())
        unit = "Kk".contains(last) ? 1 << 10 : "Mm".contains(last) ? 1 << 20 : 1 << 30
    }
    guard let n = Int(digits), n > 0, n <= (64 << 30) / unit else { return nil }
    return n * unit
}

func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { fail("cannot read \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { fail("\(path) is not a regular file") }
    var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { fail("cannot read \(path): \(String(cString: strerror(errno)))") }
        off += n
    }
    return bytes
}

/// KVMSTUB_KVM_DEVICE names another device node: the tests use it to show the message for a missing one.
let kvmDevice = getenv("KVMSTUB_KVM_DEVICE").map { String(cString: $0) } ?? "/dev/kvm"

func openKVM() -> KVMSystem {
    do { return try KVMSystem(path: kvmDevice) } catch {
        switch error.errno {
        case ENOENT: fail("\(kvmDevice) does not exist: KVM is not available on this machine (is the kvm module loaded?)")
        case EACCES, EPERM: fail("no permission to open \(kvmDevice) (add yourself to the kvm group, or run as root)")
        default: fail("\(error)")
        }
    }
}

#if KVMSTUB_X86
func runCommand(_ args: [String]) -> Never {
    var image: String?
    var gdb: String?
    var wait = false
    var config = MachineConfiguration()
    var serialPath: String?
    var realMode = false
    var gdbArch: X86TargetDescription?
    var kernelPath: String?  // run --kernel (LinuxBoot.swift)
    var initrdPath: String?
    var commandLine: String?
    var memoryGiven = false
    var memoryMap = true
    var diskArgument: String?
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
            print(runUsage, terminator: "")
            exit(0)
        case "--gdb": gdb = value(a)
        case "--wait": wait = true
        case "--stall-timeout":
            stallTimeout = parseStallTimeout(value(a))
        case "--memory":
            let v = value(a)
            guard let size = parseSize(v), size >= 1 << 20 else { fail("--memory \(v): want a size of at least 1M, like 128M or 1G") }
            config.memorySize = size
            memoryGiven = true
        case "--kernel": kernelPath = value(a)
        case "--initrd": initrdPath = value(a)
        case "--cmdline": commandLine = value(a)
        case "--serial": serialPath = value(a)
        case "--no-sync-regs": config.useSyncRegs = false
        case "--no-memory-map": memoryMap = false
        case "--irqchip": config.inKernelIRQChip = true
        case "--real-mode": realMode = true
        case "--disk": diskArgument = value(a)
        case "--gdb-arch":
            let v = value(a)
            guard let d = X86TargetDescription(rawValue: v) else { fail("--gdb-arch \(v): want i8086 or x86-64") }
            gdbArch = d
        case "--cpus":
            let v = value(a)
            guard let n = Int(v), (1...64).contains(n) else { fail("--cpus \(v): want a number of vCPUs from 1 to 64") }
            config.vcpuCount = n
        case "--sw-breakpoints":
            let v = value(a)
            switch v {
            case "auto": config.breakpointStrategy = nil
            case "int3": config.breakpointStrategy = .int3
            case "hw-then-hlt": config.breakpointStrategy = .hardwareThenHalt
            default: fail("--sw-breakpoints \(v): want auto, int3 or hw-then-hlt")
            }
        case "--watchpoints":
            let v = value(a)
            guard let request = WatchRequest(rawValue: v) else {
                fail("--watchpoints \(v): want \(WatchRequest.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            config.watchRequest = request
        default:
            if a.hasPrefix("-") { fail("unknown option \(a) (see kvmstub run --help)") }
            if image != nil { fail("more than one image given: \(image!) and \(a)") }
            image = a
        }
        i += 1
    }
    if kernelPath != nil && (image != nil || realMode) { fail("--kernel boots a Linux kernel: give no IMAGE and no --real-mode with it") }
    if kernelPath == nil && (initrdPath != nil || commandLine != nil) { fail("--initrd and --cmdline go with --kernel") }
    if gdbArch != nil && !realMode { fail("--gdb-arch goes with --real-mode (an ELF or a kernel starts in long mode)") }
    if realMode { config.targetDescription = gdbArch ?? .i8086 }
    if kernelPath != nil {
        config.linuxPlatform = true
        if !memoryGiven { config.memorySize = 512 << 20 }
    }
    // gdb's memory map covers the addresses it uses, guest-virtual ones (Machine+MemoryMap.swift): the RAM for
    // the identity-mapped ELF guests, the canonical halves for a kernel, none for real-mode code that pages.
    config.memoryMap = !memoryMap || realMode ? .none : kernelPath != nil ? .linuxKernelForThisHost : .guestRAM
    if diskArgument != nil && kernelPath != nil { fail("--disk is for a boot sector or an example guest, not --kernel (Linux finds no PCI IDE controller here)") }
    let bootFromDisk = realMode && image == nil && diskArgument != nil
    guard let image = image ?? kernelPath ?? (bootFromDisk ? diskArgument : nil) else {
        fail("run needs an IMAGE or --kernel (see kvmstub run --help)\(realMode ? ", or --disk FILE to boot from its sector 0" : "")")
    }
    if wait && gdb == nil { fail("--wait needs --gdb: nothing could attach to the stopped guest") }
    let listen: ListenAddress?
    do { listen = try gdb.map { g throws(GDBServerError) in try ListenAddress.parse(g) } } catch { fail("\(error)") }
    if case .tcp(let host, _) = listen, !["127.0.0.1", "localhost", "::1"].contains(host) {
        say("warning: listening on \(host), not loopback: whoever connects gets full control of the guest")
    }
    if let diskArgument {
        let readOnly = diskArgument.hasSuffix(",ro")
        let path = readOnly ? String(diskArgument.dropLast(3)) : diskArgument
        do { config.disk = try ATADisk(path: path, readOnly: readOnly) } catch { fail("\(error)") }
    }
    let elf: ELFImage?
    let raw: [UInt8]
    if bootFromDisk, let disk = config.disk {
        do { raw = try disk.sector(0) } catch { fail("\(error)") }
        guard raw[510] == 0x55 && raw[511] == 0xaa else {
            fail("--disk \(disk.path): sector 0 is not a boot sector: it ends in \(hex2(raw[510])) \(hex2(raw[511])), not 0x55 0xaa")
        }
    } else {
        raw = readFile(image)
    }
    do { elf = realMode || kernelPath != nil ? nil : try ELFImage(bytes: raw, name: image) } catch {
        fail("\(error)\(notELFHint(raw))")
    }
    let initrd = initrdPath.map { readFile($0) }
    if let serialPath {
        let fd = open(serialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { fail("cannot write \(serialPath): \(String(cString: strerror(errno)))") }
        config.serialFD = fd
    }
    let kvm = openKVM()
    let machine: Machine
    do {
        machine = try Machine(configuration: config, kvm: kvm)
        if kernelPath != nil {
            say(try machine.loadLinux(kernel: raw, name: image, initrd: initrd, commandLine: commandLine ?? LinuxBoot.defaultCommandLine).description)
        } else if let elf { try machine.load(elf, name: image) } else { try machine.loadRealMode(bytes: raw, name: image) }
    } catch { fail("\(error)") }

    serve(machine, listen: listen, wait: wait, stallTimeout: stallTimeout)
}
#else
/// Built without the x86 VMM (arm64) `run` is the arm64 machine's (RunARM64.swift).
func runCommand(_ args: [String]) -> Never { runARM64Command(args) }
#endif

/// Run a loaded machine: with `listen`, serve gdb there (the guest stopped at its entry with `wait`) until the
/// guest ends or gdb leaves it; without, run it to its end. Exits with the guest's status.
func serve(_ machine: Machine, listen: ListenAddress?, wait: Bool, stallTimeout: Duration) -> Never {
    var server: GDBServer?
    if let listen {
        let s = GDBServer(listen: listen)
        s.stallTimeout = stallTimeout
        do { try s.bind() } catch { fail("\(error)") }
        server = s
    }
    let listening = server != nil
    // The guest ending with no gdb attached ends kvmstub with its status. With a listener, the main thread
    // exits once the server stops (a gdb that just sent D still gets its OK); without one, at once.
    let exitStatus = Atomic<Int32>(-1)
    let serverForStop = server.map { UncheckedBox($0) }
    machine.unattendedStop = { stop in
        switch stop.reason {
        case .exited(let status):
            guard let s = serverForStop?.value else { exit(Int32(status)) }
            exitStatus.store(Int32(status), ordering: .releasing)
            s.stopAccepting()
        case .terminated: exit(1)
        case .fault:
            if !listening { exit(1) }  // the cause is already on stderr
            say("the guest is stopped; attach gdb to look at it")
        default: break
        }
    }
    if let server {
        say("\(wait ? "guest stopped at its entry; " : "")waiting for gdb on \(server.boundDescription)")
    }
    machine.start(running: !wait)
    guard let server else {
        while true { pause() }  // the vCPU thread ends the program
    }
    let end: SessionEnd
    do {
        end = try server.serve(target: machine) { peer in say("gdb connected from \(peer)") }
    } catch { fail("\(error)") }
    server.close()
    if case .exited(let status) = end { exit(Int32(status)) }
    let status = exitStatus.load(ordering: .acquiring)
    exit(status >= 0 ? status : Int32(machine.guestExitStatus ?? 0))
}

func infoCommand(_ args: [String]) -> Never {
    if args.contains("--help") || args.contains("-h") {
        print(infoUsage, terminator: "")
        exit(0)
    }
    if let a = args.first { fail("unknown option \(a) (see kvmstub info --help)") }
    let kvm = openKVM()
    let caps = KVMCapabilities(kvm)
    func yes(_ b: Bool) -> String { b ? "yes" : "no" }
    var flags: [String] = []
    let names: [(UInt32, String)] = [
        (0x1, "ENABLE"), (0x2, "SINGLESTEP"), (0x10000, "USE_SW_BP"), (0x20000, "USE_HW_BP"), (0x40000, "INJECT_DB"),
        (0x80000, "INJECT_BP"), (0x100000, "BLOCKIRQ"),
    ]
    for (bit, name) in names where caps.guestDebugFlags & bit != 0 { flags.append(name) }
    print("KVM API version:         \(caps.apiVersion)")
    print("ONE_REG:                 \(yes(caps.oneReg))")
    print("SYNC_REGS:               0x\(String(caps.syncRegs, radix: 16)) (\(caps.syncRegs & 3 == 3 ? "REGS and SREGS come back in kvm_run" : "not used"))")
    print("SET_GUEST_DEBUG:         \(yes(caps.setGuestDebug))")
    print("SET_GUEST_DEBUG2 flags:  0x\(String(caps.guestDebugFlags, radix: 16)) \(flags.joined(separator: " "))")
    print("BLOCKIRQ:                \(yes(caps.blockIRQ))")
    print("DEBUGREGS:               \(yes(caps.debugRegs))")
    print("KVMCLOCK_CTRL:           \(caps.kvmclockControl ? "yes (the guest is told of stops of 1 s or more)" : "no")")
    print("vCPUs:                   \(caps.recommendedVCPUs) recommended, \(caps.maxVCPUs) max")
    let readOnly = (try? kvm.createVM())?.offersReadOnlySlots ?? false  // a VM capability since Linux 6.11
    print("READONLY_MEM:            \(readOnly ? "yes (page-protection write watchpoints use read-only slots)" : "no")")
    #if !KVMSTUB_X86
        print("ARM_SVE:                 \(yes(caps.armSVE))")
        print("ARM_PSCI_0_2:            \(yes(caps.armPSCI0_2))")
        print("hw breakpoints:          \(caps.hardwareBreakpoints), watchpoints \(caps.hardwareWatchpoints)")
        do {
            let vm = try kvm.createVM()
            let target = try vm.armPreferredTarget()
            print("preferred target:        \(target)\(target == kvmARMTargetGenericV8 ? " (generic v8)" : "")")
            if caps.armSVE {
                let vcpu = try vm.createVCPU(index: 0)
                try vcpu.armVCPUInit(target: target, features: [1 << UInt32(ARM64VCPUFeature.psci0_2) | 1 << UInt32(ARM64VCPUFeature.sve)])
                let lengths = ARM64Backend.offeredLengths(try vcpu.getOneReg(ARM64ID.vectorLengths))
                print("SVE vector lengths:      \(lengths.map(String.init).joined(separator: " ")) bits")
            }
        } catch { fail("\(error)") }
    #else
    do {
        let vm = try kvm.createVM()
        let vcpu = try vm.createVCPU(index: 0)
        var efer: UInt64 = 0
        var oneRegMSR = false
        if caps.oneReg {  // without KVM_CAP_ONE_REG (x86 before 6.18) there is nothing to try
            do {
                try withUnsafeMutableBytes(of: &efer) { (b) throws(KVMError) in try vcpu.getOneReg(X86ID.msr(X86MSR.efer).rawValue, into: b) }
                oneRegMSR = true
            } catch {}
        }
        print("MSRs through ONE_REG:    \(oneRegMSR ? "yes (Linux 6.18+ x86 ONE_REG)" : "no: KVM_GET_MSRS is used")")
        let host = try HostProfile.of(kvm)
        print("software breakpoints:    \(host.int3.explanation)")
        let watchNote =
            host.dataBreakpointsFire
            ? "debug-registers: data breakpoints fire (DR0-DR3, RW=01/11); then page protection, and for rwatch"
            : "page protection: data breakpoints never fire here (CPL0 code is emulated); single steps where a page cannot be protected"
        print("watchpoints:             \(watchNote)")
        let gaps = host.emulatorMissing.map(\.name).joined(separator: " ")
        print(
            "CPL0 code:               \(host.emulatesCPL0 ? "emulated by KVM's instruction emulator; a --kernel guest is kept from \(gaps)" : "runs on the CPU")"
        )
        print(
            "#UD on emulation fail:   \(host.queuesUDOnEmulationFailure ? "queued (kvmstub clears it when it finishes the instruction)" : "not queued")"
        )
    } catch { fail("\(error)") }
    #endif
    exit(0)
}

func regsCommand(_ args: [String]) -> Never {
    if args.contains("--help") || args.contains("-h") {
        print(regsUsage, terminator: "")
        exit(0)
    }
    guard args.count >= 2, args[0] == "--arch" else { fail("regs needs --arch x86_64 (see kvmstub regs --help)") }
    guard let architecture = Architecture(argument: args[1]) else {
        fail("unknown architecture \(args[1]): \(Architecture.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let rest = Array(args.dropFirst(2))
    switch architecture {
    case .x86_64:
        if let extra = rest.first { fail("unknown option \(extra) (see kvmstub regs --help)") }
        print(RegisterTable.x86_64.listing(), terminator: "")
    case .arm64:
        print(RegisterTable.arm64(sveVectorLength: sveVectorLength(rest, command: "regs")).listing(), terminator: "")
    case .ppc64:
        if let extra = rest.first { fail("unknown option \(extra) (see kvmstub regs --help)") }
        print(RegisterTable.ppc64.listing(), terminator: "")
    }
    exit(0)
}

// Start from a clean signal mask: a parent's blocked SIGTERM or SIGINT must not make kvmstub unkillable.
var emptySet = sigset_t()
sigemptyset(&emptySet)
sigprocmask(SIG_SETMASK, &emptySet, nil)
signal(SIGPIPE, SIG_IGN)  // a gdb that vanishes mid-reply is an EPIPE, not the end of the stub
let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "run": runCommand(Array(arguments.dropFirst()))
case "info": infoCommand(Array(arguments.dropFirst()))
case "regs": regsCommand(Array(arguments.dropFirst()))
case "fake-target": fakeTargetCommand(Array(arguments.dropFirst()))
case "--help", "-h", "help": print(usage, terminator: "")
case nil:
    print(usage, terminator: "")
    exit(1)
default: fail("unknown command \(arguments[0]) (try kvmstub --help)")
}

/// What an image that is not an ELF file looks like, for the one line that refuses it: a boot sector (the
/// 0x55 0xaa signature at byte 510) wants --real-mode, a Linux bzImage ("HdrS" at 0x202) --kernel.
func notELFHint(_ raw: [UInt8]) -> String {
    guard raw.count >= 4, !(raw[0] == 0x7f && raw[1] == 0x45 && raw[2] == 0x4c && raw[3] == 0x46) else { return "" }
    if raw.count >= 0x206, raw[0x202..<0x206].elementsEqual("HdrS".utf8) {
        return ": it is a Linux bzImage (\"HdrS\" at 0x202); boot it with --kernel"
    }
    if raw.count >= 512, raw[510] == 0x55, raw[511] == 0xaa {
        return ": it looks like a boot sector (0x55 0xaa at byte 510); add --real-mode to run it as raw 16-bit code at 0x7c00"
    }
    return "; for raw 16-bit code (a boot sector) add --real-mode, for a Linux kernel use --kernel"
}
