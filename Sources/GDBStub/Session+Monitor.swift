import RSP

/// `qRcmd,HEX` — gdb's `monitor` command: the session's built-ins, then whatever the target adds.
extension Session {
    /// Built-in commands and what `monitor help` says about them.
    static let builtInMonitorHelp = ["help              list the monitor commands"]

    /// Replies with the command's output as hex text, which gdb prints. Output too long for one packet goes out
    /// as `O` console packets followed by `OK` instead; empty output is `OK` (an empty reply would tell gdb the
    /// stub has no `monitor` at all). lldb always gets the `O` form: its `process plugin packet monitor` prints
    /// console output as text, but a hex reply as the hex itself.
    func monitorCommand(_ hexCommand: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let bytes = Hex.decode(hexCommand) else { throw .malformed }
        let command = trimmed(String(decoding: bytes, as: UTF8.self))
        var text = runMonitor(command)
        if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
        let utf8 = Array(text.utf8)
        if utf8.isEmpty {
            appendASCII("OK")
        } else if utf8.count * 2 <= maxPacketSize && !lldb.isLLDB {
            Hex.encode(utf8, into: &reply)
        } else {
            let chunk = (maxPacketSize - 1) / 2
            var start = 0
            while start < utf8.count {
                let end = min(start + chunk, utf8.count)
                var message: [UInt8] = [UInt8(ascii: "O")]
                Hex.encode(utf8[start..<end], into: &message)
                emitNotification(message)
                start = end
            }
            appendASCII("OK")
        }
        return .reply
    }

    private func runMonitor(_ command: String) -> String {
        if command.isEmpty || command == "help" {
            let lines = Self.builtInMonitorHelp + target.monitorHelp
            return "kvmstub monitor commands:\n" + lines.map { "  " + $0 + "\n" }.joined()
        }
        if let output = target.monitor(command) { return output }
        return "unknown monitor command '\(command)'; try 'monitor help'\n"
    }

    private func trimmed(_ text: String) -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(text.drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
