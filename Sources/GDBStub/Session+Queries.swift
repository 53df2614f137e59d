import RSP

/// `q`/`Q` queries and settings, `v` packets, thread selection, `D` and `k`.
extension Session {
    func query(_ packet: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        if packet.equals(Name.qSupported) || packet.hasPrefix(Name.qSupportedColon) {
            return supported(packet.dropFirst(Name.qSupported.count))
        }
        if packet.equals(Name.startNoAckMode) {
            appendASCII("OK")
            // Acks stop after this reply: gdb acks the OK itself, and the channel ignores that `+` in either mode.
            noAckModeAfterReply = true
            return .reply
        }
        if let rest = packet.dropping(Name.featuresRead) { return try readFeatures(rest) }
        if let rest = packet.dropping(Name.memoryMapRead) { return try readMemoryMap(rest) }
        if packet.equals(Name.qOffsets) { return offsets() }
        if packet.equals(Name.qC) {
            appendASCII("QC")
            appendHex(UInt64(truncatingIfNeeded: generalThread), to: &reply)
            return .reply
        }
        if packet.equals(Name.qfThreadInfo) {
            // All threads fit one reply (a few bytes per vCPU); `qsThreadInfo` then ends the list.
            reply.append(UInt8(ascii: "m"))
            for (i, thread) in target.threadIDs.enumerated() {
                if i > 0 { reply.append(UInt8(ascii: ",")) }
                appendHex(UInt64(truncatingIfNeeded: thread), to: &reply)
            }
            if target.threadIDs.isEmpty { reply = [UInt8(ascii: "l")] }
            return .reply
        }
        if packet.equals(Name.qsThreadInfo) {
            reply.append(UInt8(ascii: "l"))
            return .reply
        }
        if let rest = packet.dropping(Name.threadExtraInfo) {
            let thread = try threadIDField(rest)
            guard knownThread(thread) else { throw .malformed }
            if let text = target.threadExtraInfo(thread) { Hex.encode(Array(text.utf8), into: &reply) }
            return .reply
        }
        if packet.equals(Name.qAttached) || packet.hasPrefix(Name.qAttachedColon) {
            // We attached to a machine that exists without gdb: on quit gdb detaches rather than kills.
            reply.append(UInt8(ascii: "1"))
            return .reply
        }
        if let rest = packet.dropping(Name.qRcmd) { return try monitorCommand(rest) }
        if let outcome = try lldbQuery(packet) { return outcome }
        // qSymbol, qTStatus, and anything new: the empty reply, which gdb reads as "not supported".
        return .reply
    }

    func vPacket(_ packet: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        if packet.equals(Name.vContQuery) {
            appendASCII("vCont;c;C;s;S")
            if target.supportsRangeStepping { appendASCII(";r") }
            return .reply
        }
        if let rest = packet.dropping(Name.vCont), rest.first == UInt8(ascii: ";") { return try vCont(rest) }
        if packet.equals(Name.vKill) || packet.hasPrefix(Name.vKillSemicolon) {
            // gdb's `kill` tries vKill before `k`; unlike `k` it expects an OK.
            target.kill()
            finish(.killed)
            appendASCII("OK")
            return .reply
        }
        // vMustReplyEmpty (gdb checking that unknown v packets get the empty reply), vRun, vAttach, vFile…
        return .reply
    }

    /// `qSupported[:feature;…]`: our features, derived from the target, and note of what gdb can take.
    private func supported(_ features: ArraySlice<UInt8>) -> Outcome {
        var offersSoftwareBreaks = false
        var offersHardwareBreaks = false
        for feature in features.dropFirst().split(separator: UInt8(ascii: ";")) {
            if feature.equals(Name.swbreakPlus) { offersSoftwareBreaks = true }
            if feature.equals(Name.hwbreakPlus) { offersHardwareBreaks = true }
        }
        let kinds = target.supportedBreakpointKinds
        gdbReportsSoftwareBreaks = offersSoftwareBreaks && kinds.contains(.software)
        gdbReportsHardwareBreaks = offersHardwareBreaks && kinds.contains(.hardware)
        appendASCII("PacketSize=")
        appendHex(UInt64(maxPacketSize), to: &reply)
        appendASCII(";qXfer:features:read+;QStartNoAckMode+;vContSupported+")
        if kinds.contains(.software) { appendASCII(";swbreak+") }
        if kinds.contains(.hardware) { appendASCII(";hwbreak+") }
        if memoryMapDocument != nil { appendASCII(";qXfer:memory-map:read+") }
        return .reply
    }

    /// `qOffsets`: `TextSeg=…` once the target knows where its text segment is. Not `Text=…;Data=…;Bss=…`:
    /// gdb moves only the .text, .data and .bss sections by those, and a kernel's start_kernel (.init.text) or
    /// .rodata would keep their link-time addresses; with TextSeg it moves every segment by the same amount.
    ///
    /// The two clients read TextSeg differently. gdb takes it as the segment's new ADDRESS
    /// (`symfile_map_offsets_to_segments`: offset = value - the segment's link address); lldb takes it as the
    /// OFFSET itself (`ProcessGDBRemote::MaybeLoadExecutableModule` slides the module by it). One answer cannot
    /// be right for both, so the session answers the client it has: lldb announces itself before it asks, with
    /// packets gdb never sends (`QThreadSuffixSupported`, `QListThreadsInStopReply`, `qHostInfo`, right after
    /// `qSupported`), and gets the slide; gdb gets the address. (`xmlRegisters=` in `qSupported` would not do:
    /// gdb sends `xmlRegisters=i386` too.)
    private func offsets() -> Outcome {
        guard let segment = target.textSegment() else { return .reply }
        appendASCII("TextSeg=")
        appendHex(lldb.isLLDB ? segment.slide : segment.address, to: &reply)
        return .reply
    }

    /// gdb's memory-map document for `regions`, or nil for none (gdb's "Memory Map Format").
    static func memoryMapXML(_ regions: [MemoryRegion]) -> String? {
        guard !regions.isEmpty else { return nil }
        var xml = """
            <?xml version="1.0"?>
            <!DOCTYPE memory-map PUBLIC "+//IDN gnu.org//DTD GDB Memory Map V1.0//EN" "http://sourceware.org/gdb/gdb-memory-map.dtd">
            <memory-map>

            """
        for r in regions.sorted(by: { $0.start < $1.start }) {
            xml +=
                "  <memory type=\"\(r.kind.rawValue)\" start=\"0x\(String(r.start, radix: 16))\" length=\"0x\(String(r.length, radix: 16))\"/>\n"
        }
        return xml + "</memory-map>\n"
    }

    /// `qXfer:memory-map:read::OFFSET,LENGTH` (no annex).
    private func readMemoryMap(_ rest: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let document = memoryMapDocument else { throw .unsupported }
        guard rest.first == UInt8(ascii: ":") else { throw .code(0) }  // an annex: there is none to read
        let (offset, length) = try addressAndLength(rest.dropFirst())
        return chunk(of: document, offset: offset, length: length)
    }

    /// `qXfer:features:read:ANNEX:OFFSET,LENGTH`: a chunk of a target description, `m` if more follows, `l` if it
    /// is the last; binary data, so the framing escapes it.
    private func readFeatures(_ rest: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let colon = rest.lastIndex(of: UInt8(ascii: ":")) else { throw .malformed }
        let (offsetField, lengthField) = try addressAndLength(rest[(colon + 1)...])
        guard let annex = String(validating: rest[rest.startIndex..<colon], as: UTF8.self),
            let document = targetDescription[annex]
        else { throw .code(0) }
        return chunk(of: document, offset: offsetField, length: lengthField)
    }

    /// A qXfer reply: `m` and the bytes from `offsetField` that fit, or `l` and the last of them.
    private func chunk(of document: [UInt8], offset offsetField: UInt64, length lengthField: UInt64) -> Outcome {
        guard let offset = Int(exactly: offsetField), offset < document.count else {
            reply.append(UInt8(ascii: "l"))
            return .reply
        }
        // gdb's LENGTH counts data bytes (it rejects a reply that unescapes to more); the packet counts them as they
        // travel, escaped (`}` doubles $ # } *), after the `m`/`l`.
        let end = min(document.count, offset + Int(min(lengthField, UInt64(document.count))))
        var packetBudget = maxPacketSize - 1
        var chunkEnd = offset
        while chunkEnd < end {
            let cost = escapedByteCount(document[chunkEnd])
            guard cost <= packetBudget else { break }
            packetBudget -= cost
            chunkEnd += 1
        }
        reply.append(chunkEnd < document.count ? UInt8(ascii: "m") : UInt8(ascii: "l"))
        reply.append(contentsOf: document[offset..<chunkEnd])
        return .binaryReply
    }

    private func escapedByteCount(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: "$"), UInt8(ascii: "#"), UInt8(ascii: "}"), UInt8(ascii: "*"): 2
        default: 1
        }
    }

    /// `Hg tid` (registers and memory) / `Hc tid` (the old `c`/`s`). 0 is "any" and -1 "all".
    func selectThread(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard let operation = body.first else { throw .malformed }
        let thread = try threadIDField(body.dropFirst())
        guard thread <= 0 || knownThread(thread) else { throw .malformed }
        switch operation {
        case UInt8(ascii: "g"):
            // "Any" or "all" for registers means the thread gdb already looks at: the last one to stop.
            if thread > 0 { generalThread = thread }
        case UInt8(ascii: "c"):
            continueThread = thread > 0 ? thread : nil
        default:
            throw .malformed
        }
        appendASCII("OK")
        return .reply
    }

    /// `T tid`: is the thread alive? vCPUs live as long as the machine.
    func threadAlive(_ body: ArraySlice<UInt8>) throws(RequestError) -> Outcome {
        guard knownThread(try threadIDField(body)) else { throw .malformed }
        appendASCII("OK")
        return .reply
    }

    /// `D` (or `D;pid`): remove our breakpoints, let the guest run, say OK. lldb's `D1` (offered through
    /// `qSupportsDetachAndStayStopped:`) leaves the guest stopped instead, for the next debugger.
    func detachPacket(_ body: ArraySlice<UInt8>) -> Outcome {
        if body.equals(Name.one) && target.canDetachStayingStopped && targetGone == nil && attached {
            removeAllBreakpoints()
            target.detachStayingStopped()
            finish(.detached)
        } else {
            finish(detachTarget())
        }
        appendASCII("OK")
        return .reply
    }

    /// `k`: the spec asks for no reply, and gdb reads none (it sends `vKill` first anyway); lldb waits for one,
    /// and reports a failed kill without it. `X09` (killed by SIGKILL), as lldb's own server answers, which a gdb
    /// that has already closed the connection never sees.
    func killPacket() -> Outcome {
        target.kill()
        finish(.killed)
        appendASCII("X09")
        return .reply
    }
}

/// Packet names, as bytes so matching them needs no String.
private enum Name {
    static let qSupported = [UInt8](ascii: "qSupported")
    static let qSupportedColon = [UInt8](ascii: "qSupported:")
    static let startNoAckMode = [UInt8](ascii: "QStartNoAckMode")
    static let featuresRead = [UInt8](ascii: "qXfer:features:read:")
    static let memoryMapRead = [UInt8](ascii: "qXfer:memory-map:read:")
    static let qOffsets = [UInt8](ascii: "qOffsets")
    static let qC = [UInt8](ascii: "qC")
    static let qfThreadInfo = [UInt8](ascii: "qfThreadInfo")
    static let qsThreadInfo = [UInt8](ascii: "qsThreadInfo")
    static let threadExtraInfo = [UInt8](ascii: "qThreadExtraInfo,")
    static let qAttached = [UInt8](ascii: "qAttached")
    static let qAttachedColon = [UInt8](ascii: "qAttached:")
    static let qRcmd = [UInt8](ascii: "qRcmd,")
    static let vContQuery = [UInt8](ascii: "vCont?")
    static let vCont = [UInt8](ascii: "vCont")
    static let vKill = [UInt8](ascii: "vKill")
    static let vKillSemicolon = [UInt8](ascii: "vKill;")
    static let swbreakPlus = [UInt8](ascii: "swbreak+")
    static let hwbreakPlus = [UInt8](ascii: "hwbreak+")
    static let one = [UInt8](ascii: "1")
}
