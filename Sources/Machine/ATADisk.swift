import Glibc
import Synchronization

/// `run --disk FILE`: one ATA disk, the master on the primary channel (ports 0x1f0–0x1f7, device control and
/// alternate status at 0x3f6), the one OS courses drive by polling (xv6's `waitdisk`/`readsect`, os-tutorial):
/// LBA28 READ SECTORS (0x20/0x21) and WRITE SECTORS (0x30/0x31) of 1–256 sectors, IDENTIFY DEVICE (0xec),
/// FLUSH CACHE (0xe7), EXECUTE DEVICE DIAGNOSTIC (0x90), and a software reset through SRST. PIO only, no
/// interrupt (IRQ 14 is never raised: a polling driver never waits for it), LBA addressing only (a command
/// with the drive register's LBA bit clear, i.e. CHS, is aborted).
///
/// Status as a polling driver expects it: every command shows BSY to the first status read after it (and
/// after each sector of a multi-sector transfer) and its result from the next, so a driver's wait loop runs
/// at least once, as on a drive that takes a moment; then DRQ while the 512-byte buffer waits to be read or
/// filled through the data port (16- or 32-bit, `rep insw`/`insl`: the port is a byte stream), DRDY|DSC when
/// done, ERR with the error register's IDNF (0x10) for a sector beyond the disk and ABRT (0x04) for a command
/// it does not know, a CHS address, a write to a read-only disk or a failed write to FILE (DF too then).
/// The slave drive is absent: with it selected (drive register bit 4) status, alternate status and error read
/// 0, as QEMU's IDE does for a missing slave beside a present master, and its commands are ignored. Without
/// --disk there is no controller: the ports read all ones (a floating bus, PortIO).
///
/// Writes reach FILE at once (pwrite as each sector's 512 bytes arrive), so another program sees them while the
/// guest runs. Accessed from any vCPU thread: one lock.
package final class ATADisk: Sendable {
    static let sectorSize = 512
    /// LBA28: 2^28 sectors (128 GiB) are all a 28-bit address reaches.
    static let lba28Limit = 1 << 28

    enum Port {
        static let data: UInt16 = 0x1f0
        static let errorFeatures: UInt16 = 0x1f1
        static let sectorCount: UInt16 = 0x1f2
        static let lbaLow: UInt16 = 0x1f3
        static let lbaMid: UInt16 = 0x1f4
        static let lbaHigh: UInt16 = 0x1f5
        static let drive: UInt16 = 0x1f6
        static let statusCommand: UInt16 = 0x1f7
        static let control: UInt16 = 0x3f6
    }

    enum Status {
        static let err: UInt8 = 0x01
        static let drq: UInt8 = 0x08
        static let dsc: UInt8 = 0x10
        static let df: UInt8 = 0x20
        static let drdy: UInt8 = 0x40
        static let bsy: UInt8 = 0x80
    }

    enum ErrorBit {
        static let abrt: UInt8 = 0x04
        static let idnf: UInt8 = 0x10
    }

    enum Command {
        static let readSectors: UInt8 = 0x20
        static let readSectorsNoRetry: UInt8 = 0x21
        static let writeSectors: UInt8 = 0x30
        static let writeSectorsNoRetry: UInt8 = 0x31
        static let executeDiagnostic: UInt8 = 0x90
        static let flushCache: UInt8 = 0xe7
        static let identify: UInt8 = 0xec
    }

    /// Whether a port belongs to the controller.
    static func serves(_ port: UInt16) -> Bool {
        (Port.data...Port.statusCommand).contains(port) || port == Port.control
    }

    enum Transfer {
        case none
        /// Sectors going to the guest: the buffer holds sector `lba`; `remaining` more follow it.
        case reading(lba: Int, remaining: Int)
        /// Sectors coming from the guest into the buffer, for sector `lba`; `remaining` more follow it.
        case writing(lba: Int, remaining: Int)
        /// IDENTIFY's 512 bytes.
        case identifying
    }

    struct State {
        var features: UInt8 = 0
        var sectorCount: UInt8 = 1
        var lbaLow: UInt8 = 1
        var lbaMid: UInt8 = 0
        var lbaHigh: UInt8 = 0
        var drive: UInt8 = 0xa0
        var control: UInt8 = 0
        var status: UInt8 = Status.drdy | Status.dsc
        var error: UInt8 = 0x01  // after power-on: diagnostic code 1, "no error"
        /// Status reads that still see BSY before the current state shows.
        var busyReads = 0
        var transfer = Transfer.none
        var buffer = [UInt8](repeating: 0, count: ATADisk.sectorSize)
        var offset = 0

        var slaveSelected: Bool { drive & 0x10 != 0 }
        var lba: Int { Int(drive & 0x0f) << 24 | Int(lbaHigh) << 16 | Int(lbaMid) << 8 | Int(lbaLow) }
        var count: Int { sectorCount == 0 ? 256 : Int(sectorCount) }
    }

    let state = Mutex(State())
    let fd: Int32
    /// Whole sectors in FILE.
    package let sectors: Int
    package let readOnly: Bool
    package let path: String

    /// Opens FILE (read-write unless `readOnly`); a file that cannot be a disk throws a sentence saying why.
    package init(path: String, readOnly: Bool) throws(LoadError) {
        let fd = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let why = String(cString: strerror(code))
            if !readOnly && [EACCES, EROFS, EPERM].contains(code) {
                throw LoadError(
                    "--disk \(path): cannot open it for writing (\(why)); add ,ro for a read-only disk: --disk \(path),ro"
                )
            }
            throw LoadError("--disk \(path): \(why)")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw LoadError("--disk \(path): not a regular file")
        }
        let size = Int(st.st_size)
        guard size > 0, size % Self.sectorSize == 0 else {
            close(fd)
            throw LoadError("--disk \(path): \(size) bytes; a disk is whole 512-byte sectors (at least one)")
        }
        guard size / Self.sectorSize <= Self.lba28Limit else {
            close(fd)
            throw LoadError("--disk \(path): \(size >> 30) GiB; LBA28 reaches 128 GiB")
        }
        self.fd = fd
        self.sectors = size / Self.sectorSize
        self.readOnly = readOnly
        self.path = path
    }

    deinit { close(fd) }

    /// Sector `lba` as FILE holds it now (the boot sector, for `run --real-mode --disk`).
    package func sector(_ lba: Int) throws(LoadError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.sectorSize)
        guard lba < sectors, readSector(lba, into: &bytes) else {
            throw LoadError("--disk \(path): cannot read sector \(lba)")
        }
        return bytes
    }

    func write(port: UInt16, _ value: UInt8) {
        state.withLock { s in
            switch port {
            case Port.errorFeatures: s.features = value
            case Port.sectorCount: s.sectorCount = value
            case Port.lbaLow: s.lbaLow = value
            case Port.lbaMid: s.lbaMid = value
            case Port.lbaHigh: s.lbaHigh = value
            case Port.drive: s.drive = value
            case Port.statusCommand: if !s.slaveSelected { execute(value, &s) }
            case Port.control:
                if value & 0x04 != 0 {  // SRST: held in reset until the bit is cleared
                    s.transfer = .none
                    s.status = Status.bsy
                } else if s.control & 0x04 != 0 {
                    s = State()  // out of reset: the power-on signature (count 1, LBA 1) and "no error"
                }
                s.control = value
            default: break  // the data port: single bytes as stream (below)
            }
        }
    }

    func read(port: UInt16) -> UInt8 {
        state.withLock { s in
            switch port {
            case Port.errorFeatures: return s.slaveSelected ? 0 : s.error
            case Port.sectorCount: return s.sectorCount
            case Port.lbaLow: return s.lbaLow
            case Port.lbaMid: return s.lbaMid
            case Port.lbaHigh: return s.lbaHigh
            case Port.drive: return s.drive
            case Port.statusCommand, Port.control:
                if s.slaveSelected { return 0 }
                if s.busyReads > 0 {
                    s.busyReads -= 1
                    return Status.bsy
                }
                return s.status
            default: return 0
            }
        }
    }

    /// IN from the data port: the next bytes of the sector buffer (a 16-bit `inw`, a 32-bit `insl`, a `rep insw`
    /// of a whole sector). Bytes beyond what the transfer holds read 0xff.
    func readData(into bytes: UnsafeMutableRawBufferPointer) {
        state.withLock { s in
            for i in 0..<bytes.count {
                guard s.status & Status.drq != 0, !s.slaveSelected, s.offset < Self.sectorSize else {
                    bytes[i] = 0xff
                    continue
                }
                switch s.transfer {
                case .reading, .identifying: break
                default:
                    bytes[i] = 0xff
                    continue
                }
                bytes[i] = s.buffer[s.offset]
                s.offset += 1
                if s.offset == Self.sectorSize { sectorRead(&s) }
            }
        }
    }

    /// OUT to the data port: bytes for the sector being written.
    func writeData(_ bytes: UnsafeRawBufferPointer) {
        state.withLock { s in
            for b in bytes {
                guard case .writing = s.transfer, s.status & Status.drq != 0, s.offset < Self.sectorSize else { return }
                s.buffer[s.offset] = b
                s.offset += 1
                if s.offset == Self.sectorSize { sectorWritten(&s) }
            }
        }
    }
}
