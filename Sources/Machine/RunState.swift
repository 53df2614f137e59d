import GDBStub

/// Everything the run lock guards, in one value: which vCPU is asked to do what, which run, which are parked,
/// and the stops on their way to the session. Touched only inside `RunControl.withLock` (or between `lock` and
/// `unlock`).
struct RunState {
    struct PerVCPU {
        /// What to do next; taken by the vCPU thread.
        var command: RunCommand?
        /// Inside its run loop on its own thread (an inline run on the session's thread is not).
        var running = false
        /// Parked on HLT with nothing to wake it.
        var halted = false
        /// For `info threads` and `monitor vcpus`.
        var lastExit = "none yet"
    }

    var vcpus: [PerVCPU]
    /// vCPUs inside a run, on their threads or inline.
    var runningCount = 0
    /// The first stop of this resume; the others are kicked when it is set.
    var firstStop: StopEvent?
    /// The stop the session has not taken yet (`takeStop`).
    var pendingStop: StopEvent?
    var lastStop = StopEvent(thread: 1, reason: .stepped)
    /// gdb's thread when only one vCPU was resumed: an interrupt names it.
    var soleRunner: Int?
    var debuggerAttached = false
    var shuttingDown = false
    /// The parts of the last resumes through the vCPU threads (`monitor resume-timeline`).
    var timeline: ResumeTimeline

    init(vcpuCount: Int) {
        vcpus = Array(repeating: PerVCPU(), count: vcpuCount)
        timeline = ResumeTimeline(vcpuCount: vcpuCount)
    }

    var allHalted: Bool { vcpus.allSatisfy(\.halted) }
}

/// The run lock, the state it guards, the condition the session waits on for every vCPU to stop, and one
/// condition per vCPU thread: a resume wakes only the threads it gives a command, and a stop wakes none of them
/// (with one condition for all, every stop woke every parked vCPU thread just to go back to sleep).
final class RunControl: @unchecked Sendable {
    private let condition = Condition()
    private let vcpuWakeUps: [WakeUp]
    /// Only with the lock held.
    var state: RunState

    init(vcpuCount: Int) {
        state = RunState(vcpuCount: vcpuCount)
        vcpuWakeUps = (0..<vcpuCount).map { _ in WakeUp() }
    }

    func lock() { condition.lock() }
    func unlock() { condition.unlock() }
    /// Wait with the lock held until every vCPU has stopped (`broadcast`); it is held again on return.
    func wait() { condition.wait() }
    func broadcast() { condition.broadcast() }
    /// vCPU `index`'s thread: wait with the lock held for a command (or the shutdown).
    func waitForCommand(_ index: Int) { condition.wait(on: vcpuWakeUps[index]) }
    /// (lock held) vCPU `index` has a command, or must see the shutdown.
    func wakeVCPU(_ index: Int) { vcpuWakeUps[index].signal() }

    func withLock<T>(_ body: (inout RunState) throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body(&state)
    }
}
