import GDBStub
import RSP
import Testing

/// `s`, `c`, `vCont`, Ctrl-C, and the stop replies.
struct SessionResumeTests {
    @Test func stepStopReplyHasThreadAndExpeditedRegisters() {
        let gdb = Transcript()
        // -> $s#73   <- +$T05thread:1;06:<rbp>;07:<rsp>;10:<rip>;#4a
        #expect(gdb.raw("$s#73") == "+$T05thread:1;06:f82f000000000000;07:f02f000000000000;10:0110000000000000;#4a")
        #expect(gdb.target.resumeCalls.count == 1)
        #expect(gdb.target.resumeCalls[0].actions == [1: .step])
        #expect(gdb.target.resumeCalls[0].others == nil)
        #expect(!gdb.session.isRunning)
    }

    @Test func unreadableExpeditedRegisterIsLeftOut() {
        let target = SimulatedTarget()
        target.registers[1]?[6] = nil  // rbp
        let gdb = Transcript(target: target)
        #expect(gdb.payload(of: gdb.send("s")) == "T05thread:1;07:f02f000000000000;10:0110000000000000;")
    }

    @Test func stepWithAddressSetsPCFirst() {
        let gdb = Transcript()
        #expect(gdb.payload(of: gdb.send("s1200"))?.contains("10:0112000000000000;") == true)
        #expect(gdb.target.pc(1) == 0x1201)
    }

    @Test func legacyContinueAndStepFollowHc() {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        #expect(gdb.send("Hc2") == "+$OK#9a")
        #expect(gdb.payload(of: gdb.send("s"))?.hasPrefix("T05thread:2;") == true)
        #expect(gdb.target.resumeCalls.last?.actions == [2: .step])
        #expect(gdb.send("c") == "+")
        #expect(gdb.target.resumeCalls.last?.actions == [2: .continue])
        #expect(gdb.target.resumeCalls.last?.others == nil)
    }

    @Test func legacyContinueWithoutHcRunsEveryone() {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        #expect(gdb.send("Hc-1") == "+$OK#9a")
        #expect(gdb.send("C05") == "+")
        #expect(gdb.target.resumeCalls.last?.actions == [:])
        #expect(gdb.target.resumeCalls.last?.others == .continue)
        #expect(gdb.session.isRunning)
    }

    @Test func vContQuery() {
        let gdb = Transcript()
        // -> $vCont?#49   <- +$vCont;c;C;s;S#62
        #expect(gdb.raw("$vCont?#49") == "+$vCont;c;C;s;S#62")
    }

    @Test func vContStepOneContinueOthers() {
        let gdb = Transcript()
        let reply = gdb.send("vCont;s:1;c")
        #expect(gdb.payload(of: reply)?.hasPrefix("T05thread:1;") == true)
        #expect(gdb.target.resumeCalls.last?.actions == [1: .step])
        #expect(gdb.target.resumeCalls.last?.others == .continue)
    }

    @Test func vContLeftmostActionWins() {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        // The default comes first, so it covers thread 1 too: nobody steps.
        #expect(gdb.send("vCont;c;s:1") == "+")
        #expect(gdb.target.resumeCalls.last?.actions == [:])
        #expect(gdb.target.resumeCalls.last?.others == .continue)
    }

    @Test func vContSignalsAreIgnoredAndThreadsSelected() {
        let gdb = Transcript()
        let reply = gdb.send("vCont;S05:2;s:2;C0b:-1")
        #expect(gdb.payload(of: reply)?.hasPrefix("T05thread:2;") == true)
        #expect(gdb.target.resumeCalls.last?.actions == [2: .step])
        #expect(gdb.target.resumeCalls.last?.others == .continue)
        // The stopping thread becomes the Hg thread.
        #expect(gdb.send("qC") == ackedReply("QC2"))
    }

    @Test func continueToBreakpointThroughTheNotification() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        gdb.send("qSupported:swbreak+")
        gdb.send("Z0,1040,1")
        #expect(gdb.send("vCont;c") == "+")
        #expect(gdb.session.isRunning)
        let event = try #require(gdb.target.takeStop())
        #expect(
            text(gdb.session.stopped(event))
                == framed("T05thread:1;06:f82f000000000000;07:f02f000000000000;10:4010000000000000;swbreak:;"))
        #expect(!gdb.session.isRunning)
        // A stop nobody waits for is not reported.
        #expect(gdb.session.stopped(event).isEmpty)
    }

    @Test func ctrlCWhileRunning() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        #expect(gdb.send("c") == "+")
        #expect(gdb.session.isRunning)
        // A packet while running (gdb sends none in all-stop) is acked by the framing but gets no reply.
        #expect(gdb.send("g") == "+")
        #expect(gdb.diagnostics == ["kvmstub: ignored a packet received while the guest runs"])
        #expect(gdb.raw("\u{03}") == "")
        #expect(gdb.target.interruptCount == 1)
        // Once per run, however often the user presses it.
        #expect(gdb.raw("\u{03}\u{03}") == "")
        #expect(gdb.target.interruptCount == 1)
        let event = try #require(gdb.target.takeStop())
        #expect(
            text(gdb.session.stopped(event))
                == framed("T02thread:2;06:f82f000000000000;07:f02f000000000000;10:0040000000000000;"))
        // The next run forwards Ctrl-C again.
        gdb.send("c")
        gdb.raw("\u{03}")
        #expect(gdb.target.interruptCount == 2)
    }


    @Test func watchpointFaultExitAndTermination() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true

        gdb.send("c")
        gdb.target.notify(StopEvent(thread: 1, reason: .watchpoint(.writeWatchpoint, address: 0x4008)))
        #expect(
            gdb.payload(of: "+" + text(gdb.session.stopped(try #require(gdb.target.takeStop()))))?.hasSuffix(
                ";watch:4008;") == true)

        gdb.send("c")
        gdb.target.notify(StopEvent(thread: 1, reason: .watchpoint(.accessWatchpoint, address: 0x10)))
        #expect(text(gdb.session.stopped(try #require(gdb.target.takeStop()))).contains(";awatch:10;#"))

        gdb.send("c")
        gdb.target.notify(StopEvent(thread: 1, reason: .fault(signal: 11, description: "triple fault")))
        // The description goes out as console output, then the stop reply with the fault's signal.
        let fault = text(gdb.session.stopped(try #require(gdb.target.takeStop())))
        #expect(fault.hasPrefix(framed("O" + hexText("kvmstub: triple fault\n")) + "$T0bthread:1;"))

        gdb.send("c")
        gdb.target.notify(StopEvent(thread: 1, reason: .exited(status: 3)))
        #expect(text(gdb.session.stopped(try #require(gdb.target.takeStop()))) == "$W03#ba")
        // The guest is gone: `?` says so again, a resume does not reach the target, detach touches nothing.
        #expect(gdb.send("?") == "+$W03#ba")
        let resumes = gdb.target.resumeCalls.count
        #expect(gdb.send("c") == "+$W03#ba")
        #expect(gdb.target.resumeCalls.count == resumes)
        #expect(gdb.send("D") == "+$OK#9a")
        #expect(gdb.target.detachCount == 0)
        #expect(gdb.session.end == .exited(status: 3))
    }

    @Test func terminatedIsX() throws {
        let gdb = Transcript()
        gdb.target.asynchronous = true
        gdb.send("c")
        gdb.target.notify(StopEvent(thread: 1, reason: .terminated(signal: 9)))
        #expect(text(gdb.session.stopped(try #require(gdb.target.takeStop()))) == framed("X09"))
    }
}
