import Glibc
@testable import Machine
import Testing

/// The CMOS clock Linux's rtc_cmos probes at boot (`run --kernel`): the host's time, as status B encodes it; a
/// status A that never says "update in progress"; RAM that keeps what the guest writes. A fixed clock (a fake
/// host clock, named so) makes every register checkable.
@Suite struct CMOSRTCTests {
    /// 2026-12-06 09:05:07 UTC, a Sunday (timegm of that date); and a 21:05:07 for the 12-hour encoding.
    static let morning: time_t = 1_796_547_907
    static let evening: time_t = morning + 12 * 3600

    func read(_ rtc: CMOSRTC, _ register: UInt8) -> UInt8 {
        rtc.write(port: 0x70, register)
        return rtc.read(port: 0x71)
    }

    @Test func theFixedClockIsTheDateTheTestsSay() {
        var t = Self.morning
        var tm = Glibc.tm()
        gmtime_r(&t, &tm)
        #expect(
            [tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday]
                == [2026, 12, 6, 9, 5, 7, 0])
    }

    @Test func theTimeReadsInBCDAnd24HoursAsFirmwareLeavesIt() {
        let rtc = CMOSRTC(clock: { Self.evening })
        #expect(read(rtc, 0x0b) == 0x02)
        #expect(
            [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map { read(rtc, $0) }
                == [0x07, 0x05, 0x21, 0x01, 0x06, 0x12, 0x26, 0x20])
    }

    @Test func statusBChoosesBinaryAnd12Hours() {
        let rtc = CMOSRTC(clock: { Self.evening })
        rtc.write(port: 0x70, 0x0b)
        rtc.write(port: 0x71, 0x06)  // binary, 24-hour
        #expect([0x00, 0x04, 0x07, 0x08, 0x09, 0x32].map { read(rtc, $0) } == [7, 21, 6, 12, 26, 20])
        rtc.write(port: 0x70, 0x0b)
        rtc.write(port: 0x71, 0x00)  // BCD, 12-hour: 9 PM
        #expect(read(rtc, 0x04) == 0x89)
        let morning = CMOSRTC(clock: { Self.morning })
        morning.write(port: 0x70, 0x0b)
        morning.write(port: 0x71, 0x00)
        #expect(read(morning, 0x04) == 0x09)
    }

    @Test func statusRegistersNeverSayUpdateInProgress() {
        let rtc = CMOSRTC(clock: { Self.morning })
        #expect(read(rtc, 0x0a) == 0x26)
        rtc.write(port: 0x70, 0x0a)
        rtc.write(port: 0x71, 0xa6)  // UIP is read-only
        #expect(read(rtc, 0x0a) == 0x26)
        #expect(read(rtc, 0x0c) == 0)
        #expect(read(rtc, 0x0d) == 0x80)
        rtc.write(port: 0x70, 0x0d)
        rtc.write(port: 0x71, 0)
        #expect(read(rtc, 0x0d) == 0x80)
    }

    @Test func ramKeepsWritesAndTheNMIBitIsNotPartOfTheIndex() {
        let rtc = CMOSRTC(clock: { Self.morning })
        rtc.write(port: 0x70, 0x80 | 0x0f)  // NMI masked, register 0x0f (shutdown status)
        rtc.write(port: 0x71, 0x5a)
        #expect(read(rtc, 0x0f) == 0x5a)
        rtc.write(port: 0x70, 0x7f)
        rtc.write(port: 0x71, 0xa5)
        #expect(read(rtc, 0x7f) == 0xa5)
        // A guest setting the clock: kept, but the time still comes from the host.
        rtc.write(port: 0x70, 0x00)
        rtc.write(port: 0x71, 0x59)
        #expect(read(rtc, 0x00) == 0x07)
        #expect(rtc.read(port: 0x70) == 0xff)
    }

    /// `run --kernel` machines have it on their port bus; the others' 0x71 reads all ones, as an empty bus does.
    @Test func onlyTheLinuxPlatformsPortsServeIt() {
        func in71(_ ports: PortIO) -> UInt8 {
            var index: UInt8 = 0x0d
            _ = withUnsafeBytes(of: &index) { ports.write(port: 0x70, bytes: $0) }
            var value: UInt8 = 0
            withUnsafeMutableBytes(of: &value) { ports.read(port: 0x71, into: $0) }
            return value
        }
        #expect(in71(PortIO(serialFD: -1, rtc: CMOSRTC(clock: { Self.morning }))) == 0x80)
        #expect(in71(PortIO(serialFD: -1)) == 0xff)
    }
}
