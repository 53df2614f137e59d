/// `Z`/`z type,addr,kind`: breakpoints and watchpoints, with the session's own record of what it inserted.
extension Session {
    func insertBreakpoint(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let breakpoint = try breakpointFields(body)
        // gdb re-sends `Z` for breakpoints it believes may be missing (after a reconnect of its own state, or with
        // `breakpoint always-inserted`); inserting twice would save the trap instruction as the original byte.
        if !insertedBreakpoints.contains(breakpoint) {
            do {
                try target.insertBreakpoint(breakpoint.kind, at: breakpoint.address, length: breakpoint.length)
            } catch {
                // gdb says only "Could not insert …": why goes to the console (a `.failed` one is said below).
                switch error {
                case .noSpace(let why), .invalidArgument(let why):
                    diagnostics("kvmstub: Z\(breakpoint.kind.rawValue) at 0x\(String(breakpoint.address, radix: 16)): \(why)")
                default: break
                }
                throw targetFailure(error)
            }
            insertedBreakpoints.insert(breakpoint)
        }
        appendASCII("OK")
        return .reply
    }

    func removeBreakpoint(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        let breakpoint = try breakpointFields(body)
        // One the session did not insert is not in the target either: removing it is already done.
        if insertedBreakpoints.contains(breakpoint) {
            do {
                try target.removeBreakpoint(breakpoint.kind, at: breakpoint.address, length: breakpoint.length)
            } catch {
                // Kept on the list, so `D` tries again.
                throw targetFailure(error)
            }
            insertedBreakpoints.remove(breakpoint)
        }
        appendASCII("OK")
        return .reply
    }

    /// On `D` and on a lost connection: a guest left with our trap instructions in it would crash at the next
    /// hit, with nobody to catch it. Failures are reported and skipped so the others still go.
    func removeAllBreakpoints() {
        for breakpoint in insertedBreakpoints {
            do {
                try target.removeBreakpoint(breakpoint.kind, at: breakpoint.address, length: breakpoint.length)
            } catch {
                let address = String(breakpoint.address, radix: 16)
                diagnostics("kvmstub: could not remove the \(breakpoint.kind) breakpoint at 0x\(address): \(error)")
            }
        }
        insertedBreakpoints.removeAll()
    }

    /// `type,addr,kind`. A type outside 0–4 is malformed (E22); a type the target lacks is unsupported (the empty
    /// reply, after which gdb falls back to memory writes or says it has no such breakpoints).
    private func breakpointFields(_ body: ArraySlice<UInt8>) throws(RequestError) -> InsertedBreakpoint {
        let fields = body.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard fields.count == 3, let kind = BreakpointKind(rawValue: try hexCount(fields[0])) else { throw .malformed }
        let address = try hexNumber(fields[1])
        let length = try hexCount(fields[2])
        guard target.supportedBreakpointKinds.contains(kind) else { throw .unsupported }
        return InsertedBreakpoint(kind: kind, address: address, length: length)
    }
}
