import Glibc

/// The VMM's port I/O: a 16550-style serial port at 0x3f8 (transmit only; output to a file descriptor) and
/// an exit port at 0xf4 (a guest writes a status byte; `kvmstub run` ends with that status, as QEMU's
/// isa-debug-exit does, but with the byte unchanged); with `run --disk`, an ATA disk at 0x1f0–0x1f7 and 0x3f6
/// (ATADisk.swift); with `run --kernel`, a 16550A (UART16550.swift) and the CMOS clock at 0x70/0x71 (CMOSRTC.swift).
struct PortIO {
    static let serialBase: UInt16 = 0x3f8
    static let exitPort: UInt16 = 0xf4

    enum Effect: Equatable {
        case none
        case exit(status: UInt8)
    }

    let serialFD: Int32
    /// `run --kernel`: a 16550A with registers and an interrupt in place of the transmit-only port.
    var uart: UART16550? = nil
    /// `run --disk`: the primary ATA channel's master. Without it the channel's ports read all ones, as a bus with
    /// no controller does.
    var disk: ATADisk? = nil
    /// `run --kernel`: the CMOS real-time clock at 0x70/0x71 (CMOSRTC.swift).
    var rtc: CMOSRTC? = nil

    /// An OUT of `bytes` to `port`.
    func write(port: UInt16, bytes: UnsafeRawBufferPointer) -> Effect {
        if let uart, (Self.serialBase...(Self.serialBase + 7)).contains(port) {
            for b in bytes { uart.write(offset: port - Self.serialBase, b) }
            return .none
        }
        if let disk, ATADisk.serves(port) {
            // The data port takes a stream (outsw/outsl of a sector); a task-file register one value.
            if port == ATADisk.Port.data {
                disk.writeData(bytes)
            } else if let b = bytes.first {
                disk.write(port: port, b)
            }
            return .none
        }
        if let rtc, CMOSRTC.serves(port) {
            for b in bytes { rtc.write(port: port, b) }
            return .none
        }
        switch port {
        case Self.serialBase:
            var off = 0
            while off < bytes.count {
                let n = Glibc.write(serialFD, bytes.baseAddress! + off, bytes.count - off)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                off += n
            }
            return .none
        case Self.exitPort:
            return .exit(status: bytes.first ?? 0)
        default:
            return .none  // other ports: writes go nowhere, as on a bare PC bus
        }
    }

    /// An IN from `port`: the serial line-status register says "transmitter empty" (so a polling driver
    /// writes at once); other serial registers read 0; ports with no device read all ones.
    func read(port: UInt16, into bytes: UnsafeMutableRawBufferPointer) {
        if let uart, (Self.serialBase...(Self.serialBase + 7)).contains(port) {
            for i in 0..<bytes.count { bytes[i] = uart.read(offset: port - Self.serialBase) }
            return
        }
        if let disk, ATADisk.serves(port) {
            if port == ATADisk.Port.data { return disk.readData(into: bytes) }
            let value = disk.read(port: port)  // one read: a status read may be the one that still sees BSY
            for i in 0..<bytes.count { bytes[i] = value }
            return
        }
        if let rtc, CMOSRTC.serves(port) {
            for i in 0..<bytes.count { bytes[i] = rtc.read(port: port) }
            return
        }
        let value: UInt8
        switch port {
        case Self.serialBase + 5: value = 0x60  // LSR: THRE | TEMT
        case Self.serialBase...(Self.serialBase + 7): value = 0
        default: value = 0xff
        }
        for i in 0..<bytes.count { bytes[i] = value }
    }
}
