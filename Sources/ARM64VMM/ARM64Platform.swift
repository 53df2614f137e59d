/// The board the arm64 VMM offers, on QEMU virt's addresses (hw/arm/virt.c, `base_memmap`) so a guest written
/// for `qemu-system-aarch64 -M virt` finds its RAM and UART where it expects: RAM from 0x4000_0000, a PL011 at
/// 0x0900_0000. No interrupt controller, no timer interrupt: a guest that waits for an interrupt (WFI) waits
/// until gdb stops it.
package enum ARM64Platform {
    package static let ramBase: UInt64 = 0x4000_0000
    package static let uartBase: UInt64 = 0x0900_0000
    package static let uartSize: UInt64 = 0x1000

    /// KVM_EXIT_SYSTEM_EVENT types (include/uapi/linux/kvm.h): what the in-kernel PSCI 0.2 turns
    /// SYSTEM_OFF, SYSTEM_RESET and a crash into.
    package enum SystemEvent {
        package static let shutdown: UInt32 = 1
        package static let reset: UInt32 = 2
        package static let crash: UInt32 = 3
    }

    /// The exit status a run ends with for a system event: PSCI SYSTEM_OFF 0, SYSTEM_RESET 1 (there is no reset
    /// to do: the run ends, and says so), a crash 2; nil for a type this VMM does not know.
    package static func exitStatus(systemEvent type: UInt32) -> UInt8? {
        switch type {
        case SystemEvent.shutdown: 0
        case SystemEvent.reset: 1
        case SystemEvent.crash: 2
        default: nil
        }
    }
}

/// The part of an Arm PrimeCell UART (PL011, DDI 0183) a guest's console uses, as MMIO exits: UARTDR writes
/// go to the output; UARTFR reads say "transmit FIFO empty, receive FIFO empty, not busy", so a guest that
/// polls TXFF or BUSY before writing never waits; the peripheral and PrimeCell ID registers read as a PL011's.
/// Everything else reads as 0 and ignores writes. No input: RXFE is always set.
package struct PL011 {
    package static let dataRegister: UInt64 = 0x000
    package static let flagRegister: UInt64 = 0x018
    /// UARTFR: TXFE (bit 7) and RXFE (bit 4).
    package static let flagsIdle: UInt64 = 0x90
    /// UARTPeriphID0–3 and UARTPCellID0–3 at 0xfe0…0xffc.
    static let identification: [UInt8] = [0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1]

    package let output: (UInt8) -> Void

    package init(output: @escaping (UInt8) -> Void) { self.output = output }

    /// One access at `offset` from the UART's base; a read fills `data` (the kvm_run MMIO buffer).
    package func access(offset: UInt64, isWrite: Bool, data: UnsafeMutableRawBufferPointer) {
        if isWrite {
            if offset == Self.dataRegister, let byte = data.first { output(byte) }
            return
        }
        var value: UInt64 = 0
        switch offset {
        case Self.flagRegister: value = Self.flagsIdle
        case 0xfe0...0xffc where offset % 4 == 0: value = UInt64(Self.identification[Int(offset - 0xfe0) / 4])
        default: break
        }
        for i in data.indices { data[i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
    }
}
