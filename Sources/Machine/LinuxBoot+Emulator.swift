import KVM

#if KVMSTUB_X86  // x86-64 only (Package.swift)
/// Linux on a host that runs CPL0 code through KVM's instruction emulator (kvm_pvm; HostProfile.emulatesCPL0). The emulator lacks XSAVE/XGETBV and the instructions behind
/// `VCPU.emulatorMissing`; the vCPUs' CPUID hides those features, but such a host shows its guests some of them
/// whatever KVM_SET_CPUID2 says, so the kernel is also told on its command line: `noxsave`, and `clearcpuid=`
/// with the features' numbers in Linux's own feature words. Without them the boot stops at the first patched-in
/// CLAC (every interrupt entry, once alternatives are applied) with "instruction emulation failed".
extension LinuxBoot {
    package static let emulatorParameters =
        "noxsave clearcpuid=" + VCPU.emulatorMissing.map { String($0.linuxNumber) }.joined(separator: ",")
}

extension Machine {
    /// Does this machine hide the emulator's gaps from Linux (CPUID: X86Architecture.makeContext; command line)?
    /// A Linux guest on a host whose profile says CPL0 code is emulated.
    var hidesEmulatorGapsFromLinux: Bool { configuration.linuxPlatform && !host.emulatorMissing.isEmpty }

    /// The command line the kernel gets: the user's, plus those of `LinuxBoot.emulatorParameters` it lacks on such
    /// a host. A `clearcpuid=` of the user's own gets these numbers added to it (the kernel reads one list).
    package func commandLineForThisHost(_ commandLine: String) -> String {
        guard hidesEmulatorGapsFromLinux else { return commandLine }
        var words = commandLine.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for p in LinuxBoot.emulatorParameters.split(separator: " ").map(String.init) {
            if p.hasPrefix("clearcpuid="), let i = words.firstIndex(where: { $0.hasPrefix("clearcpuid=") }) {
                let theirs = words[i].dropFirst("clearcpuid=".count).split(separator: ",").map(String.init)
                let ours = p.dropFirst("clearcpuid=".count).split(separator: ",").map(String.init)
                words[i] = "clearcpuid=" + (theirs + ours.filter { !theirs.contains($0) }).joined(separator: ",")
            } else if !words.contains(p) {
                words.append(p)
            }
        }
        return words.joined(separator: " ")
    }
}
#endif
