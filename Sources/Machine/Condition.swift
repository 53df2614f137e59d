import CKVM
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

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// An eventfd: the vCPU side writes, the session polls and reads. It is the "stop notification" of DESIGN.md.
final class EventNotifier: @unchecked Sendable {
    let fd: Int32

    init() { fd = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
    deinit { close(fd) }

    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Drain; true if it had been signalled.
    @discardableResult
    func drain() -> Bool {
        var v: UInt64 = 0
        return read(fd, &v, 8) == 8
    }
}
