import Glibc

/// When each part of a resume through the vCPU threads happened: the hand-off (resume → each thread has its
/// command), the runs, the all-stop (first stop or Ctrl-C → every vCPU settled), the notification (→ the session
/// took the stop). `monitor resume-timeline` prints the last few resumes and the averages since attach, so where
/// the time of a multi-vCPU stop goes can be read off a live session rather than guessed.
///
/// Stamps are CLOCK_MONOTONIC, a handful per resume (none per step); a resume run inline on the session's thread
/// (a lone vCPU) is not recorded, having no hand-off.
struct ResumeTimeline {
    /// Per vCPU, for the resume being recorded (ns; 0 = did not happen).
    struct VCPU {
        /// Its thread took the command.
        var picked: UInt64 = 0
        /// Its run returned (KVM_RUN and the exit handled), before the thread takes the lock again.
        var returned: UInt64 = 0
        /// It counted itself stopped (`settle`).
        var settled: UInt64 = 0
        /// Its command was taken back by the all-stop before its thread picked it up: its thread never ran.
        var withdrawn = false
        var commanded = false
    }

    var resumed: UInt64 = 0
    var interrupted: UInt64 = 0
    var firstStop: UInt64 = 0
    var delivered: UInt64 = 0
    var vcpus: [VCPU]
    var recording = false

    /// Rendered lines of the last resumes, newest last.
    private(set) var recent: [String] = []
    private var totals = Totals()

    private struct Totals {
        var resumes = 0
        var commands = 0
        var withdrawn = 0
        var handOffs = 0
        var handOffMicros = 0.0
        var stopsTimed = 0
        var stopToAllMicros = 0.0
        var interruptsTimed = 0
        var interruptToAllMicros = 0.0
        var notifyMicros = 0.0
    }

    init(vcpuCount: Int) { vcpus = Array(repeating: VCPU(), count: vcpuCount) }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// A resume hands `commanded` vCPUs to their threads.
    mutating func start(commanded: [Int]) {
        for i in vcpus.indices { vcpus[i] = VCPU() }
        for i in commanded { vcpus[i].commanded = true }
        interrupted = 0
        firstStop = 0
        delivered = 0
        resumed = Self.now()
        recording = true
    }

    /// The session took the stop: record this resume.
    mutating func finish(taken: UInt64) {
        guard recording else { return }
        recording = false
        func us(_ t: UInt64) -> Double { Double(Int64(bitPattern: t &- resumed)) / 1000 }
        func at(_ t: UInt64) -> String { t == 0 ? "-" : "+\(Int(us(t).rounded()))" }
        let allStopped = vcpus.filter(\.commanded).map(\.settled).max() ?? 0
        var line = "resume: "
        if interrupted != 0 { line += "Ctrl-C \(at(interrupted)), " }
        if firstStop != 0 { line += "first stop \(at(firstStop)), " }
        line += "all stopped \(at(allStopped)), stop taken \(at(taken)) µs |"
        totals.resumes += 1
        for (i, v) in vcpus.enumerated() where v.commanded {
            totals.commands += 1
            if v.withdrawn {
                totals.withdrawn += 1
                line += " vCPU \(i) withdrawn;"
                continue
            }
            if v.picked != 0 {
                totals.handOffs += 1
                totals.handOffMicros += us(v.picked)
            }
            line += " vCPU \(i) picked \(at(v.picked)) ran to \(at(v.returned)) settled \(at(v.settled));"
        }
        if firstStop != 0, allStopped >= firstStop {
            totals.stopsTimed += 1
            totals.stopToAllMicros += us(allStopped) - us(firstStop)
        }
        if interrupted != 0, allStopped >= interrupted {
            totals.interruptsTimed += 1
            totals.interruptToAllMicros += us(allStopped) - us(interrupted)
        }
        if delivered != 0 { totals.notifyMicros += us(taken) - us(delivered) }
        recent.append(String(line.dropLast()))
        if recent.count > 8 { recent.removeFirst() }
    }

    mutating func reset() {
        recent = []
        totals = Totals()
    }

    var report: String {
        let t = totals
        guard t.resumes > 0 else {
            return "no resume through the vCPU threads since attach (a lone vCPU's run is on the session's thread)\n"
        }
        func avg(_ sum: Double, _ n: Int) -> String { n == 0 ? "-" : String(Int((sum / Double(n)).rounded())) }
        var out = "\(t.resumes) resumes through the vCPU threads since attach or reset; averages:\n"
        out += "  hand-off, resume → a thread has its command: \(avg(t.handOffMicros, t.handOffs)) µs"
        out += " (\(t.handOffs) threads started; \(t.withdrawn) of \(t.commands) commands withdrawn unstarted)\n"
        out += "  first stop → every vCPU stopped: \(avg(t.stopToAllMicros, t.stopsTimed)) µs (\(t.stopsTimed))\n"
        out +=
            "  Ctrl-C → every vCPU stopped: \(avg(t.interruptToAllMicros, t.interruptsTimed)) µs (\(t.interruptsTimed))\n"
        out += "  every vCPU stopped → the session took the stop: \(avg(t.notifyMicros, t.resumes)) µs\n"
        out += "the last \(recent.count) (µs after the resume):\n"
        for line in recent { out += "  \(line)\n" }
        return out
    }
}
