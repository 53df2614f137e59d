import KVM
import Registers

/// How a `Machine` is made: memory, vCPUs, devices, and the strategies the host probe would otherwise choose.
package struct MachineConfiguration: Sendable {
    /// The VM's architecture (`Architecture.machine` says which have a VMM in this build: x86-64 on x86-64,
    /// arm64 everywhere, though only an arm64 host's kernel runs it).
    package var architecture: Architecture = .x86_64
    package var memorySize: Int = 128 << 20
    package var vcpuCount: Int = 1
    /// Where the serial port's output goes.
    package var serialFD: Int32 = 1
    /// nil: probe the host at start-up.
    package var breakpointStrategy: SoftwareBreakpointStrategy? = nil
    /// nil: probe the host at start-up.
    package var watchpointStrategy: WatchpointStrategy? = nil
    /// What serves new watchpoints at start (`run --watchpoints`; `monitor watch-strategy` changes it).
    package var watchRequest: WatchRequest = .auto
    /// Use kvm_run->s.regs (KVM_CAP_SYNC_REGS) when the host has it.
    package var useSyncRegs: Bool = true
    /// KVM_GUESTDBG_BLOCKIRQ on steps, where the kernel lists it.
    package var blockIRQWhileStepping: Bool = true
    /// Hand single steps to the vCPU threads instead of running them on the caller's (for measurements).
    package var stepOnVCPUThreads = false
    /// The registers gdb is offered: x86-64, or i8086 for a real-mode image (Machine+RealMode.swift).
    package var targetDescription: X86TargetDescription = .x86_64

    /// `run --kernel`: in-kernel PIC/IOAPIC/LAPIC and PIT, a 16550A with IRQ 4, unbacked MMIO reading all ones
    /// (LinuxBoot.swift). Off for the example guests, which rely on HLT exits that an in-kernel LAPIC swallows.
    package var linuxPlatform = false
    /// Which addresses gdb's memory map lists (Machine+MemoryMap.swift).
    package var memoryMap: GuestMemoryMap = .none
    /// `run --irqchip`: the in-kernel PIC/IOAPIC/LAPIC and PIT for an example guest that wants a timer
    /// interrupt (examples/timer). HLT then waits for an interrupt inside KVM instead of exiting, so the
    /// hw-then-hlt strategy has only its four debug registers; the guest still ends through port 0xf4.
    package var inKernelIRQChip = false
    /// `run --disk FILE`: an ATA PIO disk on the primary channel (ATADisk.swift).
    package var disk: ATADisk? = nil
    /// arm64: `run --sve-vl BITS` / `--no-sve`; by default the largest length the host offers, or no SVE where
    /// the host has none.
    package var sve: ARM64Backend.SVEChoice = .largest
    /// Either way there is an in-kernel interrupt controller.
    var hasInKernelIRQChip: Bool { linuxPlatform || inKernelIRQChip }

    package init() {}
}
