import GDBStub
import RSP
import Testing

/// Ctrl-C whenever gdb sends it: while the guest runs, while it is stopped between a stop gdb handles by itself
/// and gdb's next resume (a false breakpoint condition, a hardware breakpoint gdb does not recognise), and in a
/// race with another stop. A 0x03 no stop has answered is owed: the next resume ends at once with SIGINT.
struct SessionInterruptTests {
    static let interrupted = "T02thread:1;06:f82f000000000000;07:f02f000000000000;10:0010000000000000;"

    @Test func ctrlCWhileStoppedStopsTheNextResumeAtOnce() {
        let gdb = Transcript()
        #expect(gdb.raw("\u{03}") == "")
        #expect(gdb.target.interruptCount == 0)
        // Requests in between are answered as usual (gdb reads registers to evaluate a condition).
        #expect(gdb.send("qC") == ackedReply("QC1"))
        #expect(gdb.send("vCont;c") == ackedReply(Self.interrupted))
        #expect(gdb.target.resumeCalls.isEmpty, "the guest must not run")
        // Answered once: the resume after it runs.
        #expect(gdb.payload(of: gdb.send("vCont;s:1"))?.hasPrefix("T05thread:1;") == true)
        #expect(gdb.target.resumeCalls.count == 1)
    }

    @Test func anOwedCtrlCEndsAStepOnTheSteppingThread() {
        let gdb = Transcript()
        gdb.raw("\u{03}")
        #expect(gdb.payload(of: gdb.send("vCont;s:2"))?.hasPrefix("T02thread:2;") == true)
        #expect(gdb.target.resumeCalls.isEmpty)
    }

    @Test func ctrlCReadTogetherWithTheResumeItInterrupts() {
        // gdb sent vCont;c and at once 0x03; one read holds both. A run on the session's thread only watches the
        // socket, so the resume must not start at all.
        let gdb = Transcript()
        #expect(gdb.raw("$vCont;c#a8\u{03}") == ackedReply(Self.interrupted))
        #expect(gdb.target.resumeCalls.isEmpty)
        // Taken by that resume: not owed again.
        gdb.target.asynchronous = true
        #expect(gdb.send("c") == "+")
        #expect(gdb.target.resumeCalls.count == 1)
    }

    @Test func ctrlCSeenInTheSocketByARunIsNotOwedAgainWhenRead() {
        // A continue run on the session's thread ended on a 0x03 it saw in the socket, unread: the session reads
        // that byte after it reported the stop.
        let gdb = Transcript()
        gdb.target.nextStop = StopEvent(thread: 1, reason: .interrupted)
        #expect(gdb.payload(of: gdb.send("vCont;c"))?.hasPrefix("T02thread:1;") == true)
        #expect(gdb.raw("\u{03}") == "")
        gdb.target.asynchronous = true
        #expect(gdb.send("vCont;c") == "+", "the Ctrl-C was answered already")
        #expect(gdb.target.resumeCalls.count == 2)
    }

    @Test func aForwardedCtrlCThatLostTheRaceToAnotherStopIsOwed() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        #expect(gdb.send("c") == "+")
        gdb.target.notify(StopEvent(thread: 1, reason: .hardwareBreakpoint))  // the guest stops on its own…
        #expect(gdb.raw("\u{03}") == "")  // …as gdb's Ctrl-C arrives
        #expect(gdb.target.interruptCount == 1)
        let event = try #require(gdb.target.takeStop())
        #expect(gdb.payload(of: "+" + text(gdb.session.stopped(event)))?.hasPrefix("T05thread:1;") == true)
        // gdb takes the T05 for its own business and resumes: that resume answers the Ctrl-C.
        #expect(gdb.send("vCont;c") == ackedReply(Self.interrupted))
        #expect(gdb.target.resumeCalls.count == 1)
    }

    @Test func aCtrlCAnsweredByItsStopIsNotOwed() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        gdb.send("c")
        gdb.raw("\u{03}")
        let event = try #require(gdb.target.takeStop())
        #expect(gdb.payload(of: "+" + text(gdb.session.stopped(event)))?.hasPrefix("T02") == true)
        #expect(gdb.send("c") == "+")
        #expect(gdb.target.resumeCalls.count == 2)
    }

    @Test func afterTheGuestExitedNothingIsOwed() {
        let gdb = Transcript()
        gdb.target.nextStop = StopEvent(thread: 1, reason: .exited(status: 3))
        #expect(gdb.send("c") == ackedReply("W03"))
        gdb.raw("\u{03}")
        #expect(gdb.send("c") == ackedReply("W03"))
    }
}
