import GDBStub
import RSP
import Registers
import Testing

/// Negotiation, acks, `?`, the end of a session, and what happens to nonsense.
struct SessionTests {
    @Test func qSupportedWithSwbreakNegotiated() {
        let gdb = Transcript()
        let reply = gdb.send("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;xmlRegisters=i386")
        #expect(
            reply
                == ackedReply("PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+")
        )
        #expect(gdb.send("Z0,1010,1") == "+$OK#9a")
        let stop = gdb.send("c")
        #expect(gdb.payload(of: stop)?.hasPrefix("T05thread:1;") == true)
        #expect(gdb.payload(of: stop)?.hasSuffix("10:1010000000000000;swbreak:;") == true)
    }

    @Test func qSupportedWithoutSwbreakLeavesStopReasonOut() {
        let gdb = Transcript()
        let reply = gdb.send("qSupported:multiprocess+;xmlRegisters=i386")
        // The stub still says what it can do; it just must not send gdb a stop reason gdb did not ask for.
        #expect(reply.contains("swbreak+"))
        gdb.send("Z0,1010,1")
        #expect(
            gdb.payload(of: gdb.send("c"))
                == "T05thread:1;06:f82f000000000000;07:f02f000000000000;10:1010000000000000;")
    }

    @Test func hardwareBreakStopReasonOnlyWhenOffered() {
        let gdb = Transcript()
        gdb.send("qSupported:hwbreak+")
        gdb.send("Z1,1020,1")
        #expect(gdb.payload(of: gdb.send("c"))?.hasSuffix("10:2010000000000000;hwbreak:;") == true)
    }

    @Test func qSupportedFollowsTheTarget() {
        let target = SimulatedTarget()
        target.supportedBreakpointKinds = [.writeWatchpoint]
        let gdb = Transcript(target: target, maxPacketSize: 0x1000)
        #expect(
            gdb.send("qSupported:swbreak+;hwbreak+")
                == ackedReply("PacketSize=1000;qXfer:features:read+;QStartNoAckMode+;vContSupported+"))
    }

    @Test func noAckMode() {
        let gdb = Transcript()
        // -> $QStartNoAckMode#b0   <- +$OK#9a   (the OK itself is still acked by gdb, and ignored)
        #expect(gdb.raw("$QStartNoAckMode#b0") == "+$OK#9a")
        #expect(gdb.raw("+") == "")
        #expect(gdb.raw("$qC#b4") == "$QC1#c5")
        // A NAK means nothing without acks; a bad checksum is still dropped, silently.
        #expect(gdb.raw("-") == "")
        #expect(gdb.raw("$qC#00") == "")
        #expect(gdb.raw("$m1000,4#8e") == "$00010203#86")
    }

    @Test func nakResendsTheLastReply() {
        let gdb = Transcript()
        #expect(gdb.raw("$qC#b4") == "+$QC1#c5")
        #expect(gdb.raw("-") == "$QC1#c5")
        #expect(gdb.raw("$qC#b5") == "-")
    }

    @Test func attachOnceAndQuestionMarkReportsItsStop() {
        let target = SimulatedTarget()
        let gdb = Transcript(target: target)
        #expect(target.attachCount == 0)
        #expect(
            gdb.raw("$?#3f") == "+$T02thread:1;06:f82f000000000000;07:f02f000000000000;10:0010000000000000;#46")
        gdb.send("g")
        gdb.send("?")
        #expect(target.attachCount == 1)
    }

    @Test func questionMarkAfterAStepReportsTheStep() {
        let gdb = Transcript()
        let step = gdb.send("s")
        #expect(gdb.send("?") == step)
    }

    @Test func splitPacketsAndSeveralInOneRead() {
        let gdb = Transcript()
        #expect(gdb.raw("$m10") == "")
        #expect(gdb.raw("00,4#8e$q") == "+$00010203#86")
        #expect(gdb.raw("C#b4") == "+$QC1#c5")
        #expect(gdb.raw("$qC#b4$qC#b4") == "++$QC1#c5$QC1#c5")
    }

    @Test func unknownPacketsGetTheEmptyReply() {
        let gdb = Transcript()
        for packet in [
            "qOffsets", "qSymbol::", "qTStatus", "vMustReplyEmpty", "jThreadExtendedInfo:{}", "QNonStop:1", "!",
            "vRun;",
        ] {
            #expect(gdb.send(packet) == "+$#00", "\(packet)")
        }
        #expect(gdb.raw("$#00") == "+$#00")
    }

    @Test func malformedPacketsGetErrorsAndTheSessionGoesOn() {
        let gdb = Transcript()
        let cases: [(String, String)] = [
            ("mzz,4", "E22"), ("m1000", "E22"), ("m1000,", "E22"), ("m,4", "E22"), ("m1000,4x", "E22"),
            ("m10000000000000000,4", "E22"),  // 65 bits
            ("mffffffffffffffff,2", "E14"),  // wraps past 2^64
            ("m1000,ffffffffffffffff", "E14"),
            ("P10=zz", "E22"), ("P10", "E22"), ("Pzz=00", "E22"), ("p", "E22"), ("p-1", "E22"),
            ("Z0,abc", "E22"), ("Z0,1000", "E22"), ("Z0,1000,1;X1,ff", "E22"), ("Zx,1000,1", "E22"),
            ("M1000,2:1", "E22"), ("M1000,2:123", "E22"), ("M1000,1:zz", "E22"), ("M1000,2", "E22"),
            ("M1000,ffffffffffffffff:00", "E22"), ("Mffffffffffffffff,2:0000", "E14"),
            ("X1000,2:a", "E22"), ("X1000,1:}", "E22"), ("X1000", "E22"), ("Xffffffffffffffff,2:ab", "E14"),
            ("G00", "E22"), ("Hg", "E22"), ("Hx1", "E22"), ("Hgzz", "E22"), ("T", "E22"),
            ("c12zz", "E22"), ("sx", "E22"), ("C", "E22"), ("S05;", "E22"),
            ("vCont", ""), ("vCont;", "E22"), ("vCont;x", "E22"), ("vCont;s:", "E22"), ("vCont;s:9", "E22"),
            ("vCont;Czz", "E22"), ("vCont;c:1:2", "E22"),
            ("qXfer:features:read:target.xml:zz,10", "E22"), ("qXfer:features:read:target.xml", "E22"),
            ("qThreadExtraInfo,zz", "E22"), ("qRcmd,6", "E22"),
        ]
        for (packet, error) in cases {
            #expect(gdb.send(packet) == ackedReply(error), "\(packet)")
            #expect(gdb.send("qC") == ackedReply("QC1"), "after \(packet)")
        }
        #expect(gdb.target.resumeCalls.isEmpty)
        #expect(gdb.session.end == nil)
    }

    @Test func detachRemovesBreakpointsAndEnds() {
        let gdb = Transcript()
        gdb.send("Z0,1010,1")
        gdb.send("Z2,4000,8")
        #expect(gdb.send("D") == "+$OK#9a")
        #expect(gdb.target.breakpoints.isEmpty)
        #expect(Set(gdb.target.removeCalls.map(\.address)) == [0x1010, 0x4000])
        #expect(gdb.target.detachCount == 1)
        #expect(gdb.session.end == .detached)
        // Nothing more is taken once the session ended.
        #expect(gdb.send("qC") == "+")
    }

    @Test func killIsAnsweredX09() {
        let gdb = Transcript()
        #expect(gdb.raw("$k#6b") == ackedReply("X09"), "lldb waits for a reply to k")
        #expect(gdb.target.killCount == 1)
        #expect(gdb.session.end == .killed)
    }

    @Test func vKillRepliesOK() {
        let gdb = Transcript()
        #expect(gdb.send("vKill;1") == "+$OK#9a")
        #expect(gdb.target.killCount == 1)
        #expect(gdb.session.end == .killed)
    }
}
