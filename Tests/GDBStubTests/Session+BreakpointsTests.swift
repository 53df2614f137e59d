import GDBStub
import Testing

/// `Z`/`z` and the session's record of its breakpoints.
struct SessionBreakpointsTests {
    @Test func insertRemoveAndDuplicate() {
        let gdb = Transcript()
        #expect(gdb.raw("$Z0,1010,1#d5") == "+$OK#9a")
        #expect(gdb.send("Z0,1010,1") == "+$OK#9a")
        #expect(gdb.target.insertCalls.count == 1)
        #expect(gdb.target.breakpoints == [.init(kind: .software, address: 0x1010, length: 1)])
        #expect(gdb.send("z0,1010,1") == "+$OK#9a")
        #expect(gdb.target.breakpoints.isEmpty)
        // Removing one that is not there is done already: the target is not asked.
        #expect(gdb.send("z0,1010,1") == "+$OK#9a")
        #expect(gdb.target.removeCalls.count == 1)
    }

    @Test func detachRemovesWhatIsLeft() {
        let gdb = Transcript()
        gdb.send("Z0,1010,1")
        gdb.send("Z0,1020,1")
        gdb.send("z0,1010,1")
        #expect(gdb.send("D") == "+$OK#9a")
        #expect(gdb.target.breakpoints.isEmpty)
        #expect(gdb.target.removeCalls.map(\.address) == [0x1010, 0x1020])
        #expect(gdb.target.detachCount == 1)
    }

    @Test func typeOutsideZeroToFourIsE22() {
        let gdb = Transcript()
        #expect(gdb.send("Z5,1010,1") == ackedReply("E22"))
        #expect(gdb.send("z7,1010,1") == ackedReply("E22"))
        #expect(gdb.target.insertCalls.isEmpty)
    }

    @Test func kindTheTargetLacksGetsTheEmptyReply() {
        let gdb = Transcript()
        #expect(gdb.send("Z3,4000,4") == "+$#00")
        #expect(gdb.send("Z4,4000,4") == "+$#00")
        #expect(gdb.send("z3,4000,4") == "+$#00")
        #expect(gdb.target.insertCalls.isEmpty)
    }

    @Test func targetErrorsBecomeErrorReplies() {
        let gdb = Transcript()
        // The simulated target takes software breakpoints of length 1 only.
        #expect(gdb.send("Z0,1010,2") == ackedReply("E22"))
        #expect(gdb.send("Z2,4000,8") == "+$OK#9a")
        #expect(gdb.target.breakpoints.count == 1)
    }
}
