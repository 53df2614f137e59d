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

    private enum Transfer {
        case none
        /// Sectors going to the guest: the buffer holds sector `lba`; `remaining` more follow it.
        case reading(lba: Int, remaining: Int)
        /// Sectors coming from the guest into the buffer, for sector `lba`; `remaining` more follow it.
        case writing(lba: Int, remaining: Int)
        /// IDENTIFY's 512 bytes.
        case identifying
    }

    private struct State {
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

    private let state = Mutex(State())
    private let fd: Int32
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

    // MARK: - Port I/O

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

    // MARK: - Commands

    private func execute(_ command: UInt8, _ s: inout State) {
        guard s.status & Status.bsy == 0 else { return }  // in reset: commands are ignored
        s.transfer = .none
        s.offset = 0
        s.busyReads = 1
        switch command {
        case Command.readSectors, Command.readSectorsNoRetry, Command.writeSectors, Command.writeSectorsNoRetry:
            let isWrite = command == Command.writeSectors || command == Command.writeSectorsNoRetry
            guard s.drive & 0x40 != 0 else { return abort(&s, ErrorBit.abrt) }  // CHS: not served
            guard s.lba + s.count <= sectors else { return abort(&s, ErrorBit.idnf) }
            if isWrite {
                guard !readOnly else { return abort(&s, ErrorBit.abrt) }
                s.transfer = .writing(lba: s.lba, remaining: s.count - 1)
                succeed(&s, drq: true)
            } else {
                guard readSector(s.lba, into: &s.buffer) else { return abort(&s, ErrorBit.abrt) }
                s.transfer = .reading(lba: s.lba, remaining: s.count - 1)
                succeed(&s, drq: true)
            }
        case Command.identify:
            s.buffer = identifyData()
            s.transfer = .identifying
            succeed(&s, drq: true)
        case Command.flushCache:
            if !readOnly { fsync(fd) }
            succeed(&s, drq: false)
        case Command.executeDiagnostic:
            succeed(&s, drq: false)
            s.error = 0x01  // device 0 passed, device 1 absent
        default:
            abort(&s, ErrorBit.abrt)
        }
    }

    private func succeed(_ s: inout State, drq: Bool) {
        s.error = 0
        s.status = Status.drdy | Status.dsc | (drq ? Status.drq : 0)
    }

    private func abort(_ s: inout State, _ error: UInt8, deviceFault: Bool = false) {
        s.transfer = .none
        s.error = error
        s.status = Status.drdy | Status.dsc | Status.err | (deviceFault ? Status.df : 0)
    }

    /// The guest read the whole buffer: the next sector, or done. The task-file registers follow the transfer,
    /// as a drive's do: after it they name the last sector moved.
    private func sectorRead(_ s: inout State) {
        s.offset = 0
        guard case .reading(let lba, let remaining) = s.transfer, remaining > 0 else {
            s.transfer = .none
            s.status = Status.drdy | Status.dsc
            return
        }
        s.busyReads = 1
        setAddress(lba + 1, &s)
        s.sectorCount &-= 1
        guard readSector(lba + 1, into: &s.buffer) else { return abort(&s, ErrorBit.abrt) }
        s.transfer = .reading(lba: lba + 1, remaining: remaining - 1)
    }

    /// The guest filled the buffer: it goes to FILE now, then the next sector or done.
    private func sectorWritten(_ s: inout State) {
        s.offset = 0
        guard case .writing(let lba, let remaining) = s.transfer else { return }
        s.busyReads = 1
        guard writeSector(lba, s.buffer) else { return abort(&s, ErrorBit.abrt, deviceFault: true) }
        guard remaining > 0 else {
            s.transfer = .none
            s.status = Status.drdy | Status.dsc
            return
        }
        setAddress(lba + 1, &s)
        s.sectorCount &-= 1
        s.transfer = .writing(lba: lba + 1, remaining: remaining - 1)
    }

    private func setAddress(_ lba: Int, _ s: inout State) {
        s.lbaLow = UInt8(truncatingIfNeeded: lba)
        s.lbaMid = UInt8(truncatingIfNeeded: lba >> 8)
        s.lbaHigh = UInt8(truncatingIfNeeded: lba >> 16)
        s.drive = s.drive & 0xf0 | UInt8(truncatingIfNeeded: lba >> 24) & 0x0f
    }

    private func readSector(_ lba: Int, into buffer: inout [UInt8]) -> Bool {
        buffer.withUnsafeMutableBytes { b in
            var done = 0
            while done < Self.sectorSize {
                let n = pread(fd, b.baseAddress! + done, Self.sectorSize - done, off_t(lba * Self.sectorSize + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }

    private func writeSector(_ lba: Int, _ buffer: [UInt8]) -> Bool {
        buffer.withUnsafeBytes { b in
            var done = 0
            while done < Self.sectorSize {
                let n = pwrite(fd, b.baseAddress! + done, Self.sectorSize - done, off_t(lba * Self.sectorSize + done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                done += n
            }
            return true
        }
    }

    // MARK: - IDENTIFY

    static let model = "KVMSTUB ATA PIO DISK"
    static let serial = "KVMSTUB-0001"
    static let firmware = "1.0"

    /// IDENTIFY DEVICE's 256 words (ATA8-ACS table 45), the fields a course's driver reads: the model (27–46),
    /// LBA support (49 bit 9), the LBA28 size (60–61), and a CHS geometry for the old words (1, 3, 6).
    /// Strings are ASCII, two characters a word, the first in the high byte: in memory each pair reads swapped.
    func identifyData() -> [UInt8] {
        var words = [UInt16](repeating: 0, count: 256)
        let heads = 16
        let perTrack = 63
        let cylinders = min(sectors / (heads * perTrack), 16383)
        words[0] = 0x0040  // an ATA device, not removable
        words[1] = UInt16(cylinders)
        words[3] = UInt16(heads)
        words[6] = UInt16(perTrack)
        func put(_ text: String, at word: Int, words count: Int) {
            let chars = Array(text.utf8) + [UInt8](repeating: 0x20, count: max(0, 2 * count - text.utf8.count))
            for i in 0..<count { words[word + i] = UInt16(chars[2 * i]) << 8 | UInt16(chars[2 * i + 1]) }
        }
        put(Self.serial, at: 10, words: 10)
        put(Self.firmware, at: 23, words: 4)
        put(Self.model, at: 27, words: 20)
        words[47] = 0x8000  // READ/WRITE MULTIPLE: not served (0 sectors)
        words[49] = 0x0200  // LBA supported
        words[53] = 0x0001  // words 54–58 are valid
        words[54] = UInt16(cylinders)
        words[55] = UInt16(heads)
        words[56] = UInt16(perTrack)
        let chs = cylinders * heads * perTrack
        words[57] = UInt16(truncatingIfNeeded: chs)
        words[58] = UInt16(truncatingIfNeeded: chs >> 16)
        words[60] = UInt16(truncatingIfNeeded: sectors)
        words[61] = UInt16(truncatingIfNeeded: sectors >> 16)
        words[80] = 0x0070  // ATA/ATAPI-4, -5, -6
        words[82] = 0x4000  // NOP (the word's bit 14 is "valid")
        words[83] = 0x4000  // no LBA48
        words[84] = 0x4000
        return words.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }
    }
}
