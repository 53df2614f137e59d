import CKVM
import Glibc

/// The signal that kicks a thread out of KVM_RUN. Its handler does nothing: the point is the EINTR. Every use of
/// it — installing the handler, the thread masks, the kick itself, routing input on gdb's socket to it — is here.
package enum KickSignal {
    package static let number = SIGUSR1

    /// The no-op handler, without SA_RESTART (KVM_RUN must return). Once per process; installing again is harmless.
    package static func install() {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(number, &action, nil)
    }

    private static var set: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, number)
        return set
    }

    /// A vCPU thread takes kicks at any time (the creating thread may block the signal: a test runner's pool does).
    package static func unblockInThisThread() {
        var s = set
        pthread_sigmask(SIG_UNBLOCK, &s, nil)
    }

    /// Blocked outside KVM_RUN (which unblocks it through KVM_SET_SIGNAL_MASK): a kick that comes early stays
    /// pending and ends the next KVM_RUN at once instead of being lost.
    package static func blockInThisThread() {
        var s = set
        pthread_sigmask(SIG_BLOCK, &s, nil)
    }

    package static func send(to thread: pthread_t) { pthread_kill(thread, number) }

    /// Take a kick left pending by input that was not an interrupt, so the next KVM_RUN (which unblocks it) does
    /// not return at once, forever.
    package static func takePending() {
        var s = set
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&s, nil, &zero) == number {}
    }

    /// Input on `fd` raises the kick signal in the calling thread (O_ASYNC with F_SETOWN_EX to this thread and
    /// F_SETSIG), so a KVM_RUN on this thread ends when gdb sends something. False when the kernel refused.
    /// F_SETOWN_EX, F_SETSIG and F_OWNER_TID need _GNU_SOURCE in C: fcntl.h's numbers are 15, 10 and 0.
    package static func routeInput(from fd: Int32) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0 else { return false }
        var owner: (type: Int32, pid: Int32) = (0, ckvm_gettid())  // struct f_owner_ex { F_OWNER_TID, tid }
        guard withUnsafeMutablePointer(to: &owner, { fcntl(fd, 15, UnsafeMutableRawPointer($0)) }) == 0,
            fcntl(fd, 10, number) == 0
        else { return false }
        return fcntl(fd, F_SETFL, flags | O_ASYNC) == 0
    }

    /// Input on `fd` raises nothing any more.
    package static func stopRoutingInput(from fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_ASYNC) }
    }
}
