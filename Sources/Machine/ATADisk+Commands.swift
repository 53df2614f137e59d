import Glibc

/// The commands ATADisk serves and the transfers they start: a sector at a time between the 512-byte buffer and
/// FILE, the task-file registers following the transfer as a drive's do.
extension ATADisk {
    func execute(_ command: UInt8, _ s: inout State) {
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

    func succeed(_ s: inout State, drq: Bool) {
        s.error = 0
        s.status = Status.drdy | Status.dsc | (drq ? Status.drq : 0)
    }

    func abort(_ s: inout State, _ error: UInt8, deviceFault: Bool = false) {
        s.transfer = .none
        s.error = error
        s.status = Status.drdy | Status.dsc | Status.err | (deviceFault ? Status.df : 0)
    }

    /// The guest read the whole buffer: the next sector, or done. The task-file registers follow the transfer,
    /// as a drive's do: after it they name the last sector moved.
    func sectorRead(_ s: inout State) {
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
    func sectorWritten(_ s: inout State) {
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

    func setAddress(_ lba: Int, _ s: inout State) {
        s.lbaLow = UInt8(truncatingIfNeeded: lba)
        s.lbaMid = UInt8(truncatingIfNeeded: lba >> 8)
        s.lbaHigh = UInt8(truncatingIfNeeded: lba >> 16)
        s.drive = s.drive & 0xf0 | UInt8(truncatingIfNeeded: lba >> 24) & 0x0f
    }

    func readSector(_ lba: Int, into buffer: inout [UInt8]) -> Bool {
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

    func writeSector(_ lba: Int, _ buffer: [UInt8]) -> Bool {
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
}
