import KVM

/// Linux on a host that runs CPL0 code through KVM's instruction emulator (kvm_pvm; probed at start-up: data
/// breakpoints never fire there). The emulator lacks XSAVE/XGETBV and the instructions behind
/// `VCPU.emulatorMissing`; the vCPUs' CPUID hides those features, but such a host shows its guests some of them
/// whatever KVM_SET_CPUID2 says, so the kernel is also told on its command line: `noxsave`, and `clearcpuid=`
/// with the features' numbers in Linux's own feature words. Without them the boot stops at the first patched-in
/// CLAC (every interrupt entry, once alternatives are applied) with "instruction emulation failed".
extension LinuxBoot {
    public static let emulatorParameters =
        "noxsave clearcpuid=" + VCPU.emulatorMissing.map { String($0.linuxNumber) }.joined(separator: ",")
}

extension Machine {
    /// Does this machine hide the emulator's gaps from Linux (CPUID, command line)?
    var hidesEmulatorGapsFromLinux: Bool { configuration.linuxPlatform && watchpointStrategy == .singleStep }

    /// The command line the kernel gets: the user's, plus those of `LinuxBoot.emulatorParameters` it lacks on such
    /// a host (a `clearcpuid=` of the user's own is kept as it is: the kernel takes only one).
    public func commandLineForThisHost(_ commandLine: String) -> String {
        guard hidesEmulatorGapsFromLinux else { return commandLine }
        let given = commandLine.split(separator: " ")
        let missing = LinuxBoot.emulatorParameters.split(separator: " ").filter { p in
            p.hasPrefix("clearcpuid=") ? !given.contains { $0.hasPrefix("clearcpuid=") } : !given.contains(p)
        }
        return ([commandLine] + missing.map(String.init)).joined(separator: " ")
    }
}
