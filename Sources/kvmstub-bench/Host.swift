import Glibc

/// A failure that ends one measurement (it is then printed as "not measured: …"), worded for a person.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Seconds on CLOCK_MONOTONIC.
@inline(__always)
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

func readTextFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws(BenchError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
    guard fd >= 0 else { throw BenchError("cannot write \(path): \(errnoText())") }
    defer { close(fd) }
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw BenchError("cannot write \(path): \(errnoText())") }
        off += n
    }
}

func sleepSeconds(_ s: Double) {
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    var left = timespec()
    while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
}

/// The executable at `name` on PATH, or nil.
func findOnPath(_ name: String) -> String? {
    let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 { return "\(dir)/\(name)" }
    return nil
}

/// This executable's own path (for spawning itself as the responder).
func ownExecutable() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
}

// MARK: - CPU placement

/// Where the client and the server run: both on one CPU, or wherever the scheduler puts them.
enum Placement: String, CaseIterable {
    case pinned
    case unpinned
}

/// sched_setaffinity for the calling thread. Swift's Glibc module leaves the GNU-only declarations out, so the
/// two functions are looked up at run time.
enum CPUAffinity {
    private typealias Call = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
    private static let functions: (get: Call, set: Call)? = {
        let handle = dlopen(nil, RTLD_NOW)
        guard let g = dlsym(handle, "sched_getaffinity"), let s = dlsym(handle, "sched_setaffinity") else { return nil }
        return (unsafeBitCast(g, to: Call.self), unsafeBitCast(s, to: Call.self))
    }()

    /// The CPUs this thread may run on, as indices.
    static func current() -> [Int] {
        var set = cpu_set_t()
        guard let f = functions, f.get(0, MemoryLayout<cpu_set_t>.size, &set) == 0 else { return [] }
        return withUnsafeBytes(of: &set) { raw in
            (0..<raw.count * 8).filter { raw[$0 / 8] & (1 << ($0 % 8)) != 0 }
        }
    }

    /// Restricts the calling thread (and every process it spawns from now on) to `cpus`.
    @discardableResult
    static func set(_ cpus: [Int]) -> Bool {
        var set = cpu_set_t()
        withUnsafeMutableBytes(of: &set) { raw in
            for c in cpus where c / 8 < raw.count { raw[c / 8] |= 1 << (c % 8) }
        }
        guard let f = functions else { return false }
        return f.set(0, MemoryLayout<cpu_set_t>.size, &set) == 0
    }
}

// MARK: - Child processes

/// A spawned server (kvmstub, QEMU, the responder) with its output in a log file. Killed on `stop()`.
final class ChildProcess {
    let pid: pid_t
    let name: String
    let logPath: String
    private var reaped = false

    /// Spawns `arguments[0]` with stdin from /dev/null and stdout+stderr into `logPath`. It inherits the calling
    /// thread's CPU affinity.
    init(_ arguments: [String], name: String, logPath: String) throws(BenchError) {
        self.name = name
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // A clean signal state: a parent (a test runner) that blocks SIGTERM must not make the servers unkillable.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGPIPE, SIGUSR1] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, arguments[0], &actions, &attributes, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(arguments[0]): \(errnoText(rc))") }
        pid = child
    }

    deinit { stop() }

    var log: String { readTextFile(logPath) ?? "" }

    /// True while the process has not exited.
    var isAlive: Bool {
        guard !reaped else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reaped = true
            return false
        }
        return true
    }

    /// Waits (at most `timeout` s) for a line of the log that starts with or contains `marker`; returns it.
    func waitForLine(containing marker: String, timeout: Double = 10) throws(BenchError) -> String {
        let deadline = now() + timeout
        while now() < deadline {
            if let line = log.split(separator: "\n").first(where: { $0.contains(marker) }) { return String(line) }
            guard isAlive else { throw BenchError("\(name) exited before it was ready: \(lastLines)") }
            sleepSeconds(0.005)
        }
        throw BenchError("\(name) printed no '\(marker)' within \(Int(timeout)) s: \(lastLines)")
    }

    var lastLines: String {
        let lines = log.split(separator: "\n").suffix(3)
        return lines.isEmpty ? "(no output)" : lines.joined(separator: " | ")
    }

    /// SIGTERM, then SIGKILL after a second; reaps it.
    func stop() {
        guard isAlive else { return }
        kill(pid, SIGTERM)
        let deadline = now() + 1
        while now() < deadline {
            if !isAlive { return }
            sleepSeconds(0.005)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        reaped = true
    }

    /// CPU time and context switches of every thread of the process, from /proc.
    func usage() -> ProcessUsage? { ProcessUsage(pid: pid) }
}

/// What a process has cost so far: CPU time (ns, from each thread's schedstat; the tick-based utime+stime is
/// only 10 ms coarse) and context switches (voluntary ones are the wake-ups: each is a thread blocking).
struct ProcessUsage {
    var cpuNanoseconds: UInt64 = 0
    var ticks: UInt64 = 0
    var voluntarySwitches: UInt64 = 0
    var involuntarySwitches: UInt64 = 0
    var threads = 0

    init() {}

    init?(pid: pid_t) {
        guard let stat = readTextFile("/proc/\(pid)/stat"), let paren = stat.lastIndex(of: ")") else { return nil }
        // Fields after "pid (comm)": state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: paren)...].split(separator: " ")
        if fields.count > 13, let u = UInt64(fields[11]), let s = UInt64(fields[12]) { ticks = u + s }
        guard let dir = opendir("/proc/\(pid)/task") else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let tid = Int(name) else { continue }
            threads += 1
            if let s = readTextFile("/proc/\(pid)/task/\(tid)/schedstat"),
                let first = s.split(separator: " ").first, let ns = UInt64(first)
            {
                cpuNanoseconds += ns
            }
            if let status = readTextFile("/proc/\(pid)/task/\(tid)/status") {
                for line in status.split(separator: "\n") {
                    let parts = line.split(separator: ":")
                    guard parts.count == 2, let v = UInt64(parts[1].trimmingSpaces) else { continue }
                    if parts[0] == "voluntary_ctxt_switches" { voluntarySwitches += v }
                    if parts[0] == "nonvoluntary_ctxt_switches" { involuntarySwitches += v }
                }
            }
        }
    }

    static func + (a: ProcessUsage, b: ProcessUsage) -> ProcessUsage {
        var d = a
        d.cpuNanoseconds = a.cpuNanoseconds &+ b.cpuNanoseconds
        d.ticks = a.ticks &+ b.ticks
        d.voluntarySwitches = a.voluntarySwitches &+ b.voluntarySwitches
        d.involuntarySwitches = a.involuntarySwitches &+ b.involuntarySwitches
        return d
    }

    static func - (a: ProcessUsage, b: ProcessUsage) -> ProcessUsage {
        var d = a
        d.cpuNanoseconds = a.cpuNanoseconds &- b.cpuNanoseconds
        d.ticks = a.ticks &- b.ticks
        d.voluntarySwitches = a.voluntarySwitches &- b.voluntarySwitches
        d.involuntarySwitches = a.involuntarySwitches &- b.involuntarySwitches
        return d
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

/// A TCP port nobody listens on right now (the kernel's pick), for servers that want a port number up front.
func freeTCPPort() throws(BenchError) -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(errnoText())") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
        }
    }
    guard ok else { throw BenchError("cannot find a free TCP port: \(errnoText())") }
    return UInt16(bigEndian: addr.sin_port)
}
