import GDBStub
import RSP

/// gdb's side of a conversation with a Session: frames what gdb would send, feeds it, and hands back every byte
/// the session wrote (acks included) as text, so a test reads like a transcript:
///
///     -> $g#67
///     <- +$0000…#cs
final class Transcript {
    let target: SimulatedTarget
    let session: Session

    /// What the session sent to its diagnostics (stderr in the program).
    private(set) var diagnostics: [String] = []

    init(target: SimulatedTarget = SimulatedTarget(), maxPacketSize: Int = 16384) {
        self.target = target
        self.session = Session(target: target, maxPacketSize: maxPacketSize)
        session.diagnostics = { [unowned self] in self.diagnostics.append($0) }
    }

    /// Sends `$payload#cs` and returns the reply bytes as text.
    @discardableResult
    func send(_ payload: String) -> String {
        text(session.receive(frame(Array(payload.utf8))))
    }

    /// Sends a packet whose payload is raw bytes (binary `X` data).
    func send(bytes payload: [UInt8]) -> String {
        text(session.receive(frame(payload)))
    }

    /// Sends bytes exactly as given (a literal `$…#cs`, a `-`, a Ctrl-C).
    @discardableResult
    func raw(_ bytes: String) -> String {
        text(session.receive(Array(bytes.utf8)))
    }

    /// The packet payload of a `+$payload#cs` reply, after checking the framing; nil if it is not one packet.
    func payload(of reply: String) -> String? {
        let bytes = Array(reply.utf8)
        guard bytes.first == UInt8(ascii: "+") else { return nil }
        return packetPayload(Array(bytes.dropFirst()))
    }
}

/// `$payload#cs`.
func frame(_ payload: [UInt8]) -> [UInt8] {
    Array("$".utf8) + payload + Array("#".utf8) + Hex.encode([checksum(payload)])
}

/// `+$payload#cs`: an acked request's reply, in text.
func ackedReply(_ payload: String) -> String {
    "+" + text(frame(Array(payload.utf8)))
}

/// `$payload#cs` in text.
func framed(_ payload: String) -> String {
    text(frame(Array(payload.utf8)))
}

func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self)
}

/// The payload of exactly one well-formed `$payload#cs` packet.
func packetPayload(_ bytes: [UInt8]) -> String? {
    guard bytes.count >= 4, bytes.first == UInt8(ascii: "$"), bytes[bytes.count - 3] == UInt8(ascii: "#") else {
        return nil
    }
    let payload = bytes[1..<(bytes.count - 3)]
    guard Hex.encode([checksum(payload)]) == Array(bytes.suffix(2)) else { return nil }
    return text(Array(payload))
}

/// Hex of a string's UTF-8, as `qRcmd` and `qThreadExtraInfo` carry text.
func hexText(_ string: String) -> String {
    text(Hex.encode(Array(string.utf8)))
}
