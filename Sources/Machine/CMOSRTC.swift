import Glibc
import Synchronization

/// The PC's CMOS real-time clock (a Motorola MC146818 and its battery-backed RAM) at ports 0x70 (the index; bit 7
/// masks NMI on a PC and is ignored here) and 0x71 (the data), for `run --kernel`. Linux's rtc_cmos driver probes
/// it at boot and reads the time through it; with nothing there the port reads all ones, "update in progress" (bit
/// 7 of status A) never clears, and with two vCPUs that probe stalled boots in the nested rig for minutes.
///
/// The time registers (0x00 seconds, 0x02 minutes, 0x04 hours, 0x06 weekday, 0x07 day, 0x08 month, 0x09 year, 0x32
/// century) read the host's clock in UTC at each read, encoded as status B says: BCD and 24-hour (0x02) as PC
/// firmware leaves it, binary (bit 2) or 12-hour (bit 1 clear: bit 7 of the hour is PM) if the guest asks. Status
/// A reads with "update in progress" clear (the divider and rate bits are the guest's, 0x26 at start); status C
/// reads 0 (no interrupt flags: no alarm, periodic or update interrupt is raised on IRQ 8); status D 0x80 (the
/// battery is good, the time valid). Everything else is 128 bytes of RAM that keep what the guest writes. A guest
/// setting the clock writes the time registers: kept in the RAM, never read back (the host's clock wins).
/// Accessed from any vCPU thread: one lock.
final class CMOSRTC: Sendable {
    static let indexPort: UInt16 = 0x70
    static let dataPort: UInt16 = 0x71

    enum Register {
        static let seconds: UInt8 = 0x00, minutes: UInt8 = 0x02, hours: UInt8 = 0x04, weekday: UInt8 = 0x06
        static let day: UInt8 = 0x07, month: UInt8 = 0x08, year: UInt8 = 0x09, century: UInt8 = 0x32
        static let statusA: UInt8 = 0x0a, statusB: UInt8 = 0x0b, statusC: UInt8 = 0x0c, statusD: UInt8 = 0x0d
    }

    private struct State {
        var index: UInt8 = 0
        var ram = [UInt8](repeating: 0, count: 128)
    }

    private let state: Mutex<State>
    /// Seconds since the epoch, UTC: the host's clock (a test gives a fixed one).
    private let clock: @Sendable () -> time_t

    init(clock: @escaping @Sendable () -> time_t = { time(nil) }) {
        var s = State()
        s.ram[Int(Register.statusA)] = 0x26  // 32.768 kHz time base, 1024 Hz periodic rate
        s.ram[Int(Register.statusB)] = 0x02  // 24-hour, BCD, no interrupts enabled
        state = Mutex(s)
        self.clock = clock
    }

    static func serves(_ port: UInt16) -> Bool { port == indexPort || port == dataPort }

    func write(port: UInt16, _ value: UInt8) {
        state.withLock { s in
            if port == Self.indexPort {
                s.index = value & 0x7f
            } else {
                switch s.index {
                case Register.statusA: s.ram[Int(Register.statusA)] = value & 0x7f  // UIP is read-only
                case Register.statusC, Register.statusD: break  // read-only
                default: s.ram[Int(s.index)] = value
                }
            }
        }
    }

    func read(port: UInt16) -> UInt8 {
        state.withLock { s in
            if port == Self.indexPort { return 0xff }  // write-only on a PC
            switch s.index {
            case Register.statusC: return 0
            case Register.statusD: return 0x80
            case Register.seconds, Register.minutes, Register.hours, Register.weekday, Register.day, Register.month,
                Register.year, Register.century:
                return timeRegister(s.index, statusB: s.ram[Int(Register.statusB)])
            default: return s.ram[Int(s.index)]
            }
        }
    }

    /// One time register from the host's clock, encoded as `statusB` says (bit 2 binary, bit 1 24-hour).
    private func timeRegister(_ register: UInt8, statusB: UInt8) -> UInt8 {
        var t = clock()
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        let binary = statusB & 0x04 != 0
        func encode(_ v: Int32) -> UInt8 {
            let n = UInt8(clamping: v)
            return binary ? n : (n / 10) << 4 | n % 10
        }
        switch register {
        case Register.seconds: return encode(tm.tm_sec)
        case Register.minutes: return encode(tm.tm_min)
        case Register.hours:
            if statusB & 0x02 != 0 { return encode(tm.tm_hour) }
            let pm: UInt8 = tm.tm_hour >= 12 ? 0x80 : 0
            let h = tm.tm_hour % 12
            return encode(h == 0 ? 12 : h) | pm
        case Register.weekday: return encode(tm.tm_wday + 1)  // 1 = Sunday
        case Register.day: return encode(tm.tm_mday)
        case Register.month: return encode(tm.tm_mon + 1)
        case Register.year: return encode((tm.tm_year + 1900) % 100)
        default: return encode((tm.tm_year + 1900) / 100)  // the century (0x32)
        }
    }
}
