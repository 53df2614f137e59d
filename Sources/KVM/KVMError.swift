import Glibc

/// A failed system call on /dev/kvm, told as a sentence a person can act on:
/// "KVM_GET_ONE_REG 0x6030000000100042 on vCPU 1: Invalid argument".
public struct KVMError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let vcpu: Int?
    public let errno: Int32

    public init(operation: String, vcpu: Int? = nil, errno: Int32) {
        self.operation = operation
        self.vcpu = vcpu
        self.errno = errno
    }

    public var description: String {
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
