import GDBStub
import RSP
import Testing

/// `vCont;r START,END[:TID]` (range stepping): offered in `vCont?` when the target runs it, parsed into
/// `.rangeStep`, reported as one stop; a single step for a target without it.
struct SessionRangeStepTests {
    private func rangeStepping() -> Transcript {
        let target = SimulatedTarget()
        target.supportsRangeStepping = true
        return Transcript(target: target)
    }

    @Test func vContQueryListsRangeSteppingOnlyWhenTheTargetHasIt() {
        // -> $vCont?#49   <- +$vCont;c;C;s;S;r#0f
        #expect(rangeStepping().raw("$vCont?#49") == "+$vCont;c;C;s;S;r#0f")
        #expect(Transcript().raw("$vCont?#49") == "+$vCont;c;C;s;S#62")
    }

    @Test func oneStopWhenPCLeavesTheRange() {
        let gdb = rangeStepping()
        // gdb's `next` over a line at 0x1000..<0x1010 with the other threads continuing, as gdb sends it.
        // -> $vCont;r1000,1010:1;c   <- +$T05thread:1;…;10:<rip 0x1010>;
        #expect(
            gdb.send("vCont;r1000,1010:1;c")
                == ackedReply("T05thread:1;06:f82f000000000000;07:f02f000000000000;10:1010000000000000;"))
        #expect(gdb.target.resumeCalls.count == 1)
        #expect(gdb.target.resumeCalls[0].actions == [1: .rangeStep(0x1000..<0x1010)])
        #expect(gdb.target.resumeCalls[0].others == .continue)
        #expect(!gdb.session.isRunning)
    }

    @Test func namedThreadOnlyAndTheOthersStayStopped() {
        let gdb = rangeStepping()
        let reply = gdb.send("vCont;r4000,4004:2")
        #expect(gdb.payload(of: reply)?.hasPrefix("T05thread:2;") == true)
        #expect(gdb.payload(of: reply)?.contains("10:0440000000000000;") == true)
        #expect(gdb.target.resumeCalls.last?.actions == [2: .rangeStep(0x4000..<0x4004)])
        #expect(gdb.target.resumeCalls.last?.others == nil)
        #expect(gdb.target.pc(1) == 0x1000)
        // The stopping thread becomes the Hg thread.
        #expect(gdb.send("qC") == ackedReply("QC2"))
    }

    @Test func threadZeroIsTheGeneralThread() {
        let gdb = rangeStepping()
        #expect(gdb.send("Hg2") == ackedReply("OK"))
        gdb.send("vCont;r4000,4002:0")
        #expect(gdb.target.resumeCalls.last?.actions == [2: .rangeStep(0x4000..<0x4002)])
    }

    @Test func stopsOnABreakpointInsideTheRangeAsAPlainStep() {
        let gdb = rangeStepping()
        gdb.send("qSupported:swbreak+;hwbreak+")
        #expect(gdb.send("Z0,1008,1") == ackedReply("OK"))
        // gdbserver reports the step that lands on a breakpoint as a step (T05, no swbreak): gdb sees its
        // breakpoint at pc and reports it, as after `s`.
        #expect(
            gdb.send("vCont;r1000,1010:1")
                == ackedReply("T05thread:1;06:f82f000000000000;07:f02f000000000000;10:0810000000000000;"))
    }

    @Test func emptyRangeIsOneStep() {
        let gdb = rangeStepping()
        let reply = gdb.send("vCont;r1001,1001:1")
        #expect(gdb.target.resumeCalls.last?.actions == [1: .rangeStep(0x1001..<0x1001)])
        #expect(gdb.payload(of: reply)?.contains("10:0110000000000000;") == true)
    }

    @Test func targetWithoutRangeSteppingGetsASingleStep() {
        let gdb = Transcript()
        let reply = gdb.send("vCont;r1000,1010:1")
        #expect(gdb.target.resumeCalls.last?.actions == [1: .step])
        #expect(gdb.payload(of: reply)?.contains("10:0110000000000000;") == true)
    }

    @Test(arguments: [
        "vCont;r1000:1",  // no END
        "vCont;r1000,:1",  // empty END
        "vCont;r,1010:1",  // empty START
        "vCont;r1010,1000:1",  // END before START
        "vCont;r10g0,1010:1",  // not hex
        "vCont;r1000,1010:",  // empty thread
        "vCont;r1000,1010:9",  // no such thread
        "vCont;r1000,10000000000000000:1",  // more than 64 bits
    ])
    func malformedRangeIsE22(_ packet: String) {
        let gdb = rangeStepping()
        #expect(gdb.send(packet) == ackedReply("E22"))
        #expect(gdb.target.resumeCalls.isEmpty)
    }

    @Test func ctrlCEndsARangeThatNeverLeaves() throws {
        let gdb = rangeStepping()
        gdb.target.rangeStepsNeverEnd = true
        #expect(gdb.send("vCont;r1000,1010:1") == "+")
        #expect(gdb.session.isRunning)
        #expect(gdb.raw("\u{03}") == "")
        #expect(gdb.target.interruptCount == 1)
        let event = try #require(gdb.target.takeStop())
        #expect(gdb.session.stopped(event).starts(with: Array("$T02thread:".utf8)))
        #expect(!gdb.session.isRunning)
    }
}
