import GDBStub
import Glibc
import Testing

/// `serve(fd:)` over a socketpair, with this thread playing gdb.
struct ConnectionTests {
    @Test func sessionOverASocket() throws {
        let (stubFD, gdbFD) = socketPair()
        defer { close(stubFD) }
        let target = SimulatedTarget()
        target.asynchronous = true
        let shared = Unchecked((session: Session(target: target), target: target, end: SessionEnd?.none))
        let server = Background {
            shared.value.end = shared.value.session.serve(fd: stubFD)
        }
        let gdb = GDBSocket(fd: gdbFD)
        defer { gdb.close() }

        let supported = ackedReply(
            "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+")
        #expect(gdb.exchange("qSupported:swbreak+", expecting: supported) == supported)
        gdb.write("+")
        #expect(gdb.exchange("Z0,1040,1", expecting: "+$OK#9a") == "+$OK#9a")
        // The stop arrives through the target's notification, not in answer to a packet.
        let breakStop =
            "+" + framed("T05thread:1;06:f82f000000000000;07:f02f000000000000;10:4010000000000000;swbreak:;")
        #expect(gdb.exchange("vCont;c", expecting: breakStop) == breakStop)
        gdb.write("+")
        // No breakpoint ahead: it runs until Ctrl-C.
        #expect(gdb.exchange("c", expecting: "+") == "+")
        gdb.write("\u{03}")
        let interrupted = framed("T02thread:2;06:f82f000000000000;07:f02f000000000000;10:0040000000000000;")
        #expect(gdb.read(interrupted.utf8.count) == interrupted)
        gdb.write("+")
        #expect(gdb.exchange("D", expecting: "+$OK#9a") == "+$OK#9a")

        #expect(server.join())
        #expect(shared.value.end == .detached)
        #expect(target.interruptCount == 1)
        #expect(target.breakpoints.isEmpty)
        #expect(target.detachCount == 1)
    }

    @Test func connectionLostWhileRunningStopsCleansUpAndDetaches() throws {
        let (stubFD, gdbFD) = socketPair()
        defer { close(stubFD) }
        let target = SimulatedTarget()
        target.asynchronous = true
        let shared = Unchecked((session: Session(target: target), end: SessionEnd?.none))
        let server = Background {
            shared.value.end = shared.value.session.serve(fd: stubFD)
        }
        let gdb = GDBSocket(fd: gdbFD)
        #expect(gdb.exchange("Z0,800,1", expecting: "+$OK#9a") == "+$OK#9a")
        #expect(gdb.exchange("c", expecting: "+") == "+")
        gdb.close()

        #expect(server.join())
        #expect(shared.value.end == .detached)
        #expect(target.interruptCount == 1)
        #expect(target.breakpoints.isEmpty)
        #expect(target.detachCount == 1)
    }

    @Test func silentConnectionChangesNothing() {
        let (stubFD, gdbFD) = socketPair()
        defer { close(stubFD) }
        let target = SimulatedTarget()
        let shared = Unchecked((session: Session(target: target), end: SessionEnd?.none))
        let server = Background {
            shared.value.end = shared.value.session.serve(fd: stubFD)
        }
        close(gdbFD)
        #expect(server.join())
        #expect(shared.value.end == .detached)
        #expect(target.attachCount == 0)
        #expect(target.detachCount == 0)
    }
}
