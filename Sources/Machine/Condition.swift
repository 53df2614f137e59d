import Glibc

/// A pthread mutex and condition variable, heap-allocated so their addresses never move.
/// The vCPU threads and the session thread hand run commands and stops to each other through it.
final class Condition: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Wait with the lock held; it is held again on return.
    func wait() { pthread_cond_wait(cond, mutex) }
    func broadcast() { pthread_cond_broadcast(cond) }
    /// Wait, with the lock held, on a condition variable of its own that shares this lock.
    func wait(on other: WakeUp) { pthread_cond_wait(other.cond, mutex) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A condition variable for one waiter, used under a `Condition`'s lock: a vCPU thread waits on its own, so
/// waking it wakes no other thread.
final class WakeUp: @unchecked Sendable {
    let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() { pthread_cond_init(cond, nil) }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
    }

    func signal() { pthread_cond_signal(cond) }
}

/// The "stop notification" of DESIGN.md: the vCPU side signals, the session polls the read end and drains it.
/// A non-blocking pipe (an eventfd would do as well, but Glibc's Swift module does not export it).
final class EventNotifier: @unchecked Sendable {
    let fd: Int32
    private let writeFD: Int32

    init() {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            for f in fds {
                _ = fcntl(f, F_SETFL, fcntl(f, F_GETFL) | O_NONBLOCK)
                _ = fcntl(f, F_SETFD, FD_CLOEXEC)
            }
        }
        fd = fds[0]
        writeFD = fds[1]
    }

    deinit {
        close(fd)
        close(writeFD)
    }

    func signal() {
        var one: UInt8 = 1
        _ = write(writeFD, &one, 1)  // a full pipe is signalled already
    }

    /// Drain; true if it had been signalled.
    @discardableResult
    func drain() -> Bool {
        var buf = [UInt8](repeating: 0, count: 64)
        var any = false
        while read(fd, &buf, buf.count) > 0 { any = true }
        return any
    }
}
