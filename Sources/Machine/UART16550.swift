import Glibc
import KVM
import Synchronization

/// A 16550A UART at 0x3f8 on IRQ 4, used only for `run --kernel`: enough register behaviour for Linux's 8250
/// driver to probe it (scratch register, loopback modem status, FIFO bits in IIR) and use it as `console=ttyS0`
/// (polled console writes, and the THR-empty interrupt the tty layer waits for). Transmit only: the receiver
/// never has data. Output goes to a file descriptor. Accessed from any vCPU thread: one lock.
final class UART16550: Sendable {
    static let irq: UInt32 = 4

    private struct State {
        var ier: UInt8 = 0
        var lcr: UInt8 = 0
        var mcr: UInt8 = 0
        var scratch: UInt8 = 0
        var fcr: UInt8 = 0
        var divisor: UInt16 = 12  // 9600 baud
        /// A THR-empty interrupt is pending (cleared by reading IIR or writing THR).
        var thrInterrupt = false
        var irqLevel = false

        var iir: UInt8 {
            let fifo: UInt8 = fcr & 1 != 0 ? 0xc0 : 0
            return fifo | (ier & 0x02 != 0 && thrInterrupt ? 0x02 : 0x01)
        }
        var msr: UInt8 {
            guard mcr & 0x10 != 0 else { return 0xb0 }  // DCD, DSR, CTS
            // Loopback: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2.
            return (mcr & 0x02) << 3 | (mcr & 0x01) << 5 | (mcr & 0x04) << 4 | (mcr & 0x08) << 4
        }
    }

    private let state = Mutex(State())
    private let fd: Int32
    private let raise: @Sendable (Bool) -> Void

    /// `raise(level)` drives the interrupt line (KVM_IRQ_LINE on IRQ 4).
    init(fd: Int32, raise: @escaping @Sendable (Bool) -> Void) {
        self.fd = fd
        self.raise = raise
    }

    func write(offset: UInt16, _ value: UInt8) {
        var out: UInt8?
        let level: Bool? = state.withLock { s in
            let dlab = s.lcr & 0x80 != 0
            switch offset {
            case 0 where dlab: s.divisor = s.divisor & 0xff00 | UInt16(value)
            case 0:
                if s.mcr & 0x10 == 0 { out = value }  // loopback bytes never reach the line
                s.thrInterrupt = true  // the byte left at once: THR is empty again
            case 1 where dlab: s.divisor = s.divisor & 0x00ff | UInt16(value) << 8
            case 1:
                let enabling = value & 0x02 != 0 && s.ier & 0x02 == 0
                s.ier = value & 0x0f
                if enabling { s.thrInterrupt = true }  // as a real 16550: THRE raises at once when enabled
            case 2: s.fcr = value & 0xc9
            case 3: s.lcr = value
            case 4: s.mcr = value & 0x1f
            case 7: s.scratch = value
            default: break
            }
            return Self.update(&s)
        }
        if let out {
            var b = out
            while Glibc.write(fd, &b, 1) < 0 && errno == EINTR {}
        }
        if let level { raise(level) }
    }

    func read(offset: UInt16) -> UInt8 {
        var result: UInt8 = 0
        let level: Bool? = state.withLock { s in
            let dlab = s.lcr & 0x80 != 0
            switch offset {
            case 0 where dlab: result = UInt8(s.divisor & 0xff)
            case 0: result = 0  // no received data
            case 1 where dlab: result = UInt8(s.divisor >> 8)
            case 1: result = s.ier
            case 2:
                result = s.iir
                if result & 0x0f == 0x02 { s.thrInterrupt = false }  // reading IIR acknowledges THRE
            case 3: result = s.lcr
            case 4: result = s.mcr
            case 5: result = 0x60  // THRE | TEMT, no data ready
            case 6: result = s.msr
            case 7: result = s.scratch
            default: break
            }
            return Self.update(&s)
        }
        if let level { raise(level) }
        return result
    }

    /// The interrupt line follows "an interrupt is pending" (as QEMU's 16550 does, OUT2 not gating it); a new
    /// level to drive, or nil when unchanged.
    private static func update(_ s: inout State) -> Bool? {
        let level = s.iir & 0x01 == 0
        guard level != s.irqLevel else { return nil }
        s.irqLevel = level
        return level
    }
}
