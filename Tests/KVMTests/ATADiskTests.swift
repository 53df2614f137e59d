import Foundation
import Glibc
import Testing

@testable import Machine

/// The ATA PIO disk's state machine, driven through its ports as a polling driver (xv6's `waitdisk` and
/// `readsect`) drives it, over a real file.
@Suite struct ATADiskTests {
    typealias P = ATADisk.Port
    typealias S = ATADisk.Status

    /// A disk file of `sectors` sectors, sector i filled with byte i & 0xff; removed when the test ends.
    final class DiskFile {
        let path: String
        init(sectors: Int, mode: Int = 0o644) throws {
            path = NSTemporaryDirectory() + "ata-\(UUID().uuidString).img"
            var bytes = [UInt8]()
            for i in 0..<sectors { bytes += [UInt8](repeating: UInt8(i & 0xff), count: 512) }
            #expect(
                FileManager.default.createFile(
                    atPath: path, contents: Data(bytes), attributes: [.posixPermissions: mode]))
        }
        var contents: [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// xv6's waitdisk: poll status until BSY clears; the status then, and how many polls saw BSY.
    func waitNotBusy(_ d: ATADisk) -> (status: UInt8, busyPolls: Int) {
        var busy = 0
        while true {
            let s = d.read(port: P.statusCommand)
            if s & S.bsy == 0 { return (s, busy) }
            busy += 1
            if busy > 100 { return (s, busy) }
        }
    }

    func issue(_ d: ATADisk, _ command: UInt8, lba: Int, count: UInt8, drive: UInt8 = 0xe0) {
        d.write(port: P.sectorCount, count)
        d.write(port: P.lbaLow, UInt8(lba & 0xff))
        d.write(port: P.lbaMid, UInt8(lba >> 8 & 0xff))
        d.write(port: P.lbaHigh, UInt8(lba >> 16 & 0xff))
        d.write(port: P.drive, drive | UInt8(lba >> 24 & 0x0f))
        d.write(port: P.statusCommand, command)
    }

    func readBuffer(_ d: ATADisk, _ count: Int, chunk: Int = 2) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { b in
            var off = 0
            while off < count {
                d.readData(into: UnsafeMutableRawBufferPointer(rebasing: b[off..<min(off + chunk, count)]))
                off += chunk
            }
        }
        return out
    }

    @Test func idleDriveIsReadyAndShowsThePowerOnSignature() throws {
        let f = try DiskFile(sectors: 4)
        let d = try ATADisk(path: f.path, readOnly: false)
        #expect(d.sectors == 4)
        #expect(d.read(port: P.statusCommand) == S.drdy | S.dsc)
        #expect(d.read(port: P.control) == S.drdy | S.dsc)  // alternate status: the same bits
        #expect(d.read(port: P.errorFeatures) == 0x01)  // diagnostic code: no error
        #expect(d.read(port: P.sectorCount) == 1 && d.read(port: P.lbaLow) == 1)
    }

    @Test func readSectorsShowsBusyOnceThenDRQAndStreamsTheSectors() throws {
        let f = try DiskFile(sectors: 8)
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.readSectors, lba: 5, count: 2)
        let first = waitNotBusy(d)
        #expect(first.busyPolls == 1)  // a driver's wait loop runs at least once
        #expect(first.status == S.drdy | S.dsc | S.drq)
        #expect(readBuffer(d, 512, chunk: 4) == [UInt8](repeating: 5, count: 512))  // insl, as xv6 reads
        let second = waitNotBusy(d)
        #expect(second.busyPolls == 1 && second.status & S.drq != 0)
        #expect(d.read(port: P.lbaLow) == 6)  // the task file follows the transfer
        #expect(readBuffer(d, 512) == [UInt8](repeating: 6, count: 512))  // insw
        #expect(waitNotBusy(d).status == S.drdy | S.dsc)  // done: no DRQ, no ERR
        #expect(d.read(port: P.errorFeatures) == 0)
        #expect(readBuffer(d, 2) == [0xff, 0xff])  // nothing more to read
    }

    @Test func aSectorCountOfZeroMeans256() throws {
        let f = try DiskFile(sectors: 300)
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.readSectors, lba: 10, count: 0)
        for i in 0..<256 {
            #expect(waitNotBusy(d).status & S.drq != 0)
            let sector = readBuffer(d, 512, chunk: 512)  // rep insw of a whole sector in one exit
            if sector != [UInt8](repeating: UInt8((10 + i) & 0xff), count: 512) {
                Issue.record("sector \(10 + i) read wrong")
                break
            }
        }
        #expect(waitNotBusy(d).status == S.drdy | S.dsc)
    }

    @Test func writeSectorsReachTheFileAtOnce() throws {
        let f = try DiskFile(sectors: 4)
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.writeSectors, lba: 1, count: 2)
        #expect(waitNotBusy(d).status == S.drdy | S.dsc | S.drq)
        let a = [UInt8](repeating: 0xaa, count: 512)
        a.withUnsafeBytes { d.writeData($0) }
        #expect(f.contents[512..<1024].elementsEqual(a))  // in the file before the next sector is sent
        #expect(f.contents[1024] == 2)
        #expect(waitNotBusy(d).status & S.drq != 0)
        let b = [UInt8](repeating: 0xbb, count: 512)
        for i in stride(from: 0, to: 512, by: 2) { b[i..<i + 2].withUnsafeBytes { d.writeData($0) } }  // outsw
        #expect(waitNotBusy(d).status == S.drdy | S.dsc)
        let c = f.contents
        #expect(c[0] == 0 && c[512..<1024].allSatisfy { $0 == 0xaa } && c[1024..<1536].allSatisfy { $0 == 0xbb })
        #expect(c[1536] == 3 && c.count == 2048)  // nothing beyond, the file not grown

        // Read back through the disk.
        issue(d, ATADisk.Command.readSectors, lba: 2, count: 1)
        _ = waitNotBusy(d)
        #expect(readBuffer(d, 512) == b)
    }

    @Test func beyondTheDiskIsIDNFAndUnknownCommandsAbort() throws {
        let f = try DiskFile(sectors: 4)
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.readSectors, lba: 3, count: 2)  // sector 4 does not exist
        #expect(waitNotBusy(d).status == S.drdy | S.dsc | S.err)
        #expect(d.read(port: P.errorFeatures) == ATADisk.ErrorBit.idnf)
        issue(d, ATADisk.Command.writeSectors, lba: 1 << 20, count: 1)
        #expect(waitNotBusy(d).status & (S.err | S.drq) == S.err)
        issue(d, 0xc8, lba: 0, count: 1)  // READ DMA: no DMA here
        #expect(waitNotBusy(d).status == S.drdy | S.dsc | S.err)
        #expect(d.read(port: P.errorFeatures) == ATADisk.ErrorBit.abrt)
        issue(d, ATADisk.Command.readSectors, lba: 0, count: 1, drive: 0xa0)  // CHS addressing
        #expect(waitNotBusy(d).status & S.err != 0 && d.read(port: P.errorFeatures) == ATADisk.ErrorBit.abrt)
        // A good command after an error clears it.
        issue(d, ATADisk.Command.readSectors, lba: 3, count: 1)
        #expect(waitNotBusy(d).status == S.drdy | S.dsc | S.drq)
        #expect(d.read(port: P.errorFeatures) == 0)
    }

    @Test func theSlaveIsAbsentAndIgnoresCommands() throws {
        let f = try DiskFile(sectors: 4)
        let d = try ATADisk(path: f.path, readOnly: false)
        d.write(port: P.drive, 0xf0)  // LBA, drive 1
        #expect(d.read(port: P.statusCommand) == 0 && d.read(port: P.control) == 0)
        #expect(d.read(port: P.errorFeatures) == 0)
        issue(d, ATADisk.Command.writeSectors, lba: 0, count: 1, drive: 0xf0)
        #expect(d.read(port: P.statusCommand) == 0)
        [UInt8](repeating: 0x11, count: 512).withUnsafeBytes { d.writeData($0) }
        #expect(f.contents[0] == 0)  // nothing written
        d.write(port: P.drive, 0xe0)
        #expect(d.read(port: P.statusCommand) == S.drdy | S.dsc)  // the master never saw the command
    }

    @Test func identifyGivesTheModelSizeAndLBA() throws {
        let f = try DiskFile(sectors: 70000)  // more than 65535: the size's high word is used
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.identify, lba: 0, count: 0)
        #expect(waitNotBusy(d).status == S.drdy | S.dsc | S.drq)
        let bytes = readBuffer(d, 512)
        let words = (0..<256).map { UInt16(bytes[2 * $0]) | UInt16(bytes[2 * $0 + 1]) << 8 }
        #expect(words[49] & 0x0200 != 0)  // LBA
        #expect(Int(words[60]) | Int(words[61]) << 16 == 70000)
        #expect(words[83] & 0x0400 == 0)  // no LBA48
        let model = String(
            decoding: (27...46).flatMap { [UInt8(words[$0] >> 8), UInt8(words[$0] & 0xff)] }, as: UTF8.self)
        #expect(model == "KVMSTUB ATA PIO DISK                    ")
        #expect(bytes[54] == UInt8(ascii: "V") && bytes[55] == UInt8(ascii: "K"))  // swapped in memory
        #expect(waitNotBusy(d).status == S.drdy | S.dsc)
    }

    @Test func softwareResetHoldsBusyThenRestoresTheSignature() throws {
        let f = try DiskFile(sectors: 4)
        let d = try ATADisk(path: f.path, readOnly: false)
        issue(d, ATADisk.Command.readSectors, lba: 2, count: 1)
        _ = waitNotBusy(d)
        d.write(port: P.control, 0x04)  // SRST
        #expect(d.read(port: P.control) & S.bsy != 0)
        issue(d, ATADisk.Command.readSectors, lba: 1, count: 1)  // ignored while in reset
        #expect(d.read(port: P.statusCommand) == S.bsy)
        d.write(port: P.control, 0x00)
        #expect(d.read(port: P.statusCommand) == S.drdy | S.dsc)
        #expect(d.read(port: P.errorFeatures) == 0x01 && d.read(port: P.sectorCount) == 1)
        #expect(readBuffer(d, 2) == [0xff, 0xff])  // the transfer was dropped
    }

    @Test func aReadOnlyDiskAbortsWritesAndAWritableOneNeedsAWritableFile() throws {
        let f = try DiskFile(sectors: 2, mode: 0o444)
        let ro = try ATADisk(path: f.path, readOnly: true)
        issue(ro, ATADisk.Command.writeSectors, lba: 0, count: 1)
        #expect(waitNotBusy(ro).status & (S.err | S.drq) == S.err)
        #expect(ro.read(port: P.errorFeatures) == ATADisk.ErrorBit.abrt)
        // Whether this process may write a 0444 file (root may): as the host says, the disk opens or the error names ,ro.
        if access(f.path, W_OK) == 0 {
            #expect(try ATADisk(path: f.path, readOnly: false).sectors == 2)
        } else {
            #expect(throws: LoadError.self) { try ATADisk(path: f.path, readOnly: false) }
            do { _ = try ATADisk(path: f.path, readOnly: false) } catch {
                #expect(error.description.contains("add ,ro"))
            }
        }
    }

    @Test func filesThatCannotBeDisksAreRefusedInASentence() throws {
        let empty = try DiskFile(sectors: 0)
        #expect(throws: LoadError.self) { try ATADisk(path: empty.path, readOnly: false) }
        let odd = NSTemporaryDirectory() + "ata-odd-\(UUID().uuidString).img"
        #expect(FileManager.default.createFile(atPath: odd, contents: Data(count: 700)))
        defer { try? FileManager.default.removeItem(atPath: odd) }
        do {
            _ = try ATADisk(path: odd, readOnly: false)
            Issue.record("a 700-byte file became a disk")
        } catch {
            #expect(error.description == "--disk \(odd): 700 bytes; a disk is whole 512-byte sectors (at least one)")
        }
        #expect(throws: LoadError.self) { try ATADisk(path: "/nonexistent/disk.img", readOnly: false) }
    }
}

/// The disk behind real KVM I/O exits: a real-mode guest sends READ SECTORS for two sectors, polls BSY, and takes
/// both with one `rep insw` (which KVM hands over in chunks).
@Suite(.enabled(if: kvmAvailable, "needs /dev/kvm"))
struct ATADiskMachineTests {
    @Test func aGuestReadsTwoSectorsWithRepInsw() throws {
        let f = try ATADiskTests.DiskFile(sectors: 4)
        var config = MachineConfiguration()
        config.memorySize = 4 << 20
        config.serialFD = open("/dev/null", O_WRONLY)
        config.targetDescription = .i8086
        config.disk = try ATADisk(path: f.path, readOnly: false)
        let m = try quietMachine(config)
        // Drive 0xe0, count 2, LBA 1, READ SECTORS; bx counts status polls until BSY clears; es:di = 0:8000,
        // rep insw of 512 words; exit with (last byte of sector 2) + (last byte of sector 1) + bx.
        let code: [UInt8] = [
            0xba, 0xf6, 0x01, 0xb0, 0xe0, 0xee, 0xba, 0xf2, 0x01, 0xb0, 0x02, 0xee,
            0xba, 0xf3, 0x01, 0xb0, 0x01, 0xee, 0xba, 0xf4, 0x01, 0x30, 0xc0, 0xee,
            0xba, 0xf5, 0x01, 0xee, 0xba, 0xf7, 0x01, 0xb0, 0x20, 0xee, 0x31, 0xdb,
            0x43, 0xec, 0xa8, 0x80, 0x75, 0xfa, 0x31, 0xc0, 0x8e, 0xc0, 0xbf, 0x00,
            0x80, 0xfc, 0xba, 0xf0, 0x01, 0xb9, 0x00, 0x02, 0xf3, 0x6d, 0xa0, 0xff,
            0x83, 0x02, 0x06, 0xff, 0x81, 0x00, 0xd8, 0xe6, 0xf4,
        ]
        try m.loadRealMode(bytes: code, name: "ata")
        m.start(running: false)
        _ = m.attach()
        #expect(try run(m, .continue).reason == .exited(status: 2 + 1 + 2))  // two polls: BSY once, then ready
        #expect(
            try m.readMemory(at: 0x8000, count: 1024, thread: 1) == [UInt8](repeating: 1, count: 512)
                + [UInt8](repeating: 2, count: 512))
    }
}
