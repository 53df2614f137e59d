import GDBStub
import RSP
import Registers
import Testing

/// Threads, target description, monitor.
struct SessionQueriesTests {
    @Test func threadList() {
        let gdb = Transcript()
        // -> $qfThreadInfo#bb   <- +$m1,2#fc
        #expect(gdb.raw("$qfThreadInfo#bb") == "+$m1,2#fc")
        #expect(gdb.send("qsThreadInfo") == "+$l#6c")
        #expect(gdb.send("qC") == "+$QC1#c5")
        #expect(gdb.send("qAttached") == ackedReply("1"))
        #expect(gdb.send("qAttached:1") == ackedReply("1"))
    }

    @Test func threadSelectionAndLiveness() {
        let gdb = Transcript()
        #expect(gdb.send("T1") == "+$OK#9a")
        #expect(gdb.send("T2") == "+$OK#9a")
        #expect(gdb.send("T3") == ackedReply("E22"))
        #expect(gdb.send("T-1") == ackedReply("E22"))
        #expect(gdb.send("Hg2") == "+$OK#9a")
        #expect(gdb.send("qC") == ackedReply("QC2"))
        #expect(gdb.send("Hc0") == "+$OK#9a")
        #expect(gdb.send("Hc5") == ackedReply("E22"))
    }

    @Test func threadExtraInfo() {
        let gdb = Transcript()
        #expect(gdb.send("qThreadExtraInfo,2") == ackedReply(hexText("vCPU 1")))
        #expect(gdb.send("qThreadExtraInfo,9") == ackedReply("E22"))
    }

    /// Reads an annex the way gdb does, `length` bytes at a time, checking each chunk's framing and escaping.
    private func readAnnex(_ gdb: Transcript, _ annex: String, length: Int, object: String = "features") throws
        -> [UInt8]
    {
        var document: [UInt8] = []
        while true {
            let reply = Array(
                gdb.send(
                    "qXfer:\(object):read:\(annex):\(String(document.count, radix: 16)),\(String(length, radix: 16))"
                ).utf8)
            #expect(reply.first == UInt8(ascii: "+"))
            let packet = Array(reply.dropFirst())
            #expect(packet.count <= gdb.session.maxPacketSize + 4)
            let body = packet[1..<(packet.count - 3)]
            #expect(text(Hex.encode([checksum(body)])) == text(Array(packet.suffix(2))))
            // Inside the frame, $ # * only ever appear escaped (as `}` + byte ^ 0x20).
            var escaped = false
            for byte in body {
                if escaped { escaped = false; continue }
                if byte == UInt8(ascii: "}") { escaped = true; continue }
                #expect(byte != UInt8(ascii: "$") && byte != UInt8(ascii: "#") && byte != UInt8(ascii: "*"))
            }
            let data = try #require(unescapeBinary(body.dropFirst()))
            #expect(data.count <= length)
            document += data
            if body.first == UInt8(ascii: "l") { return document }
            try #require(body.first == UInt8(ascii: "m"))
            try #require(!data.isEmpty)
        }
    }

    @Test func targetXMLInSmallChunksReassembles() throws {
        let gdb = Transcript()
        let description = RegisterTable.x86_64.targetDescription()
        for (annex, xml) in description {
            #expect(try readAnnex(gdb, annex, length: 0x40) == Array(xml.utf8), "\(annex)")
        }
        // One big read of the whole document ends with `l`.
        let whole = try #require(gdb.payload(of: gdb.send("qXfer:features:read:target.xml:0,ffff")))
        #expect(whole == "l" + description["target.xml"]!)
        #expect(gdb.send("qXfer:features:read:target.xml:ffff,10") == ackedReply("l"))
    }

    @Test func escapingInTargetDescription() throws {
        // A table whose XML carries the four bytes that must travel escaped.
        let x86 = RegisterTable.x86_64
        var features = x86.features
        features[0] = RegisterFeature(
            name: features[0].name, fileName: features[0].fileName,
            typeDefinitions: "  <!-- $cost# }brace{ *star* -->\n" + features[0].typeDefinitions)
        let table = RegisterTable(
            architecture: x86.architecture, features: features, registers: x86.registers, groups: x86.groups,
            runtime: x86.runtime, reset: x86.reset, full: x86.full, gPacketCount: x86.gPacketCount,
            expedited: x86.expedited, pcRegnum: x86.pcRegnum, spRegnum: x86.spRegnum)
        let target = SimulatedTarget(registerTable: table)
        // A small packet size, so chunks are cut by the packet as well as by gdb's length.
        let gdb = Transcript(target: target, maxPacketSize: 256)
        let expected = Array(table.targetDescription()["64bit-core.xml"]!.utf8)
        #expect(expected.contains(UInt8(ascii: "$")))
        for length in [7, 0x40, 0x3000] {
            #expect(try readAnnex(gdb, "64bit-core.xml", length: length) == expected)
        }
        let dollar = try #require(expected.firstIndex(of: UInt8(ascii: "$")))
        let first = gdb.send("qXfer:features:read:64bit-core.xml:\(String(dollar - 2, radix: 16)),6")
        let firstBytes = Array(first.utf8)
        #expect(text(Array(firstBytes[2..<(firstBytes.count - 3)])) == "m- }\u{04}cos")
    }

    @Test func unknownAnnexIsE00() {
        let gdb = Transcript()
        // -> $qXfer:features:read:nonesuch.xml:0,100   <- +$E00#a5
        #expect(gdb.send("qXfer:features:read:nonesuch.xml:0,100") == "+$E00#a5")
        #expect(gdb.send("qXfer:features:read::0,100") == "+$E00#a5")
        #expect(gdb.send("qXfer:auxv:read::0,100") == "+$#00")
    }

    @Test func monitorHelp() {
        let gdb = Transcript()
        let expected = """
            kvmstub monitor commands:
              help              list the monitor commands
              sync-stats        ioctls per request type

            """
        #expect(gdb.send("qRcmd," + hexText("help")) == ackedReply(hexText(expected)))
        #expect(gdb.send("qRcmd,") == ackedReply(hexText(expected)))
    }

    @Test func monitorForwardsToTheTarget() {
        let gdb = Transcript()
        #expect(gdb.send("qRcmd," + hexText(" sync-stats ")) == ackedReply(hexText("regs: 1 fetch\n")))
        #expect(gdb.target.monitorCommands == ["sync-stats"])
        #expect(
            gdb.send("qRcmd," + hexText("frobnicate"))
                == ackedReply(hexText("unknown monitor command 'frobnicate'; try 'monitor help'\n")))
    }

    @Test func longMonitorOutputGoesOutAsConsolePackets() {
        let target = SimulatedTarget()
        let gdb = Transcript(target: target, maxPacketSize: 256)
        target.monitorOutput = String(repeating: "0123456789", count: 30)
        let reply = gdb.send("qRcmd," + hexText("long"))
        let text = target.monitorOutput + "\n"
        // `O` and two hex digits a byte in each packet (281, not 256: the `g` block must fit; SessionBoundsTests).
        let chunk = (gdb.session.maxPacketSize - 1) / 2
        #expect(chunk == 140)
        let first = Array(text.utf8.prefix(chunk))
        let second = Array(text.utf8.dropFirst(chunk).prefix(chunk))
        let third = Array(text.utf8.dropFirst(2 * chunk))
        let o: (ArraySlice<UInt8>) -> String = { framed("O" + hexText(String(decoding: $0, as: UTF8.self))) }
        #expect(reply == "+" + o(first[...]) + o(second[...]) + o(third[...]) + framed("OK"))
    }

    /// A memory map is offered only when the target has one, reads in chunks like target.xml, and lists the
    /// regions in address order, one ending at 2^64.
    @Test func memoryMapFollowsTheTarget() throws {
        let none = Transcript()
        #expect(try #require(none.payload(of: none.send("qSupported:swbreak+"))).contains("memory-map") == false)
        #expect(none.send("qXfer:memory-map:read::0,fff") == ackedReply(""))

        let target = SimulatedTarget()
        target.memoryMap = [
            MemoryRegion(start: 0xffff_8000_0000_0000, length: 0x8000_0000_0000),
            MemoryRegion(start: 0, length: 0x800_0000),
            MemoryRegion(start: 0xfffc_0000, length: 0x4_0000, kind: .rom),
        ]
        let gdb = Transcript(target: target)
        #expect(try #require(gdb.payload(of: gdb.send("qSupported:swbreak+"))).contains(";qXfer:memory-map:read+"))
        let xml = String(decoding: try readAnnex(gdb, "", length: 0x30, object: "memory-map"), as: UTF8.self)
        #expect(
            xml.hasPrefix(
                "<?xml version=\"1.0\"?>\n<!DOCTYPE memory-map PUBLIC \"+//IDN gnu.org//DTD GDB Memory Map V1.0//EN\""))
        let lines = xml.split(separator: "\n").filter { $0.contains("<memory ") }
        #expect(
            lines == [
                "  <memory type=\"ram\" start=\"0x0\" length=\"0x8000000\"/>",
                "  <memory type=\"rom\" start=\"0xfffc0000\" length=\"0x40000\"/>",
                "  <memory type=\"ram\" start=\"0xffff800000000000\" length=\"0x800000000000\"/>",
            ])
        #expect(xml.hasSuffix("</memory-map>\n"))
        #expect(gdb.send("qXfer:memory-map:read:foo:0,10") == ackedReply("E00"), "there is no annex")
        #expect(gdb.send("qXfer:memory-map:read::zz,10") == ackedReply("E22"))
        #expect(gdb.send("qXfer:memory-map:read::ffff,10") == ackedReply("l"))
    }

    /// `qOffsets`: the empty reply until the target knows where its text segment is, then `TextSeg=`.
    @Test func offsetsFollowTheTarget() {
        let target = SimulatedTarget()
        let gdb = Transcript(target: target)
        #expect(gdb.send("qOffsets") == ackedReply(""))
        target.textSegmentPlacement = TextSegment(address: 0xffff_ffff_9c00_0000, linkAddress: 0xffff_ffff_8100_0000)
        #expect(gdb.send("qOffsets") == ackedReply("TextSeg=ffffffff9c000000"))
    }
}
