import CKVM
import Glibc

/// A failed system call on /dev/kvm, told as a sentence a person can act on:
/// "KVM_GET_ONE_REG 0x6030000000100042 on vCPU 1: Invalid argument".
package struct KVMError: Error, CustomStringConvertible, Sendable {
    package let operation: String
    package let vcpu: Int?
    package let errno: Int32

    package init(operation: String, vcpu: Int? = nil, errno: Int32) {
        self.operation = operation
        self.vcpu = vcpu
        self.errno = errno
    }

    package var description: String {
        var s = operation
        if let vcpu { s += " on vCPU \(vcpu)" }
        return s + ": " + String(cString: strerror(errno))
    }
}

/// Calls `body` until it does not fail with EINTR (STYLE: EINTR retried everywhere except KVM_RUN).
@inline(__always)
func retryingEINTR(_ body: () -> Int32) -> Int32 {
    while true {
        let r = body()
        if r >= 0 || errno != EINTR { return r }
    }
}

/// An ioctl's argument: a pointer to a struct, or a plain value (a capability number, an index, an address).
enum IoctlArgument {
    case pointer(UnsafeMutableRawPointer?)
    case value(UInt)
}

/// What one ioctl returned: its result, and errno when it failed.
struct IoctlResult {
    let value: Int32
    let errno: Int32
    var failed: Bool { value < 0 }
}

/// The one place every ioctl goes through (swift-system's single errno funnel is the model): the file descriptor
/// it is issued on, the counter that records it, and the vCPU a failure names.
struct IoctlFunnel {
    let fd: Int32
    let counter: IoctlCounter?
    let vcpu: Int?

    /// Issue `op`, counted; EINTR retried, except for KVM_RUN, where it means "kicked" and is the caller's.
    @inline(__always)
    func perform(_ op: Ioctl, _ request: UInt, _ argument: IoctlArgument) -> IoctlResult {
        counter?.record(op)
        let call: () -> Int32 =
            switch argument {
            case .pointer(let p): { ckvm_ioctl_ptr(fd, request, p) }
            case .value(let v): { ckvm_ioctl_val(fd, request, v) }
            }
        let r = op == .run ? call() : retryingEINTR(call)
        return IoctlResult(value: r, errno: r < 0 ? Glibc.errno : 0)
    }

    /// Issue `op` and throw a `KVMError` naming it (and `detail`, built only on failure) if it fails.
    @discardableResult @inline(__always)
    func call(_ op: Ioctl, _ request: UInt, _ argument: IoctlArgument, detail: @autoclosure () -> String = "")
        throws(KVMError) -> Int32
    {
        let r = perform(op, request, argument)
        guard r.failed else { return r.value }
        throw error(op, r.errno, detail: detail())
    }

    /// `call` with a pointer to `arg`.
    @discardableResult @inline(__always)
    func call<T>(_ op: Ioctl, _ request: UInt, _ arg: inout T, detail: @autoclosure () -> String = "") throws(KVMError)
        -> Int32
    {
        let r = withUnsafeMutablePointer(to: &arg) { perform(op, request, .pointer(UnsafeMutableRawPointer($0))) }
        guard r.failed else { return r.value }
        throw error(op, r.errno, detail: detail())
    }

    func error(_ op: Ioctl, _ errno: Int32, detail: String = "") -> KVMError {
        KVMError(operation: detail.isEmpty ? op.name : "\(op.name) \(detail)", vcpu: vcpu, errno: errno)
    }
}
