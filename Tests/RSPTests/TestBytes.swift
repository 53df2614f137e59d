/// The bytes of an ASCII transcript line, so tests read like the packets gdb sends (`"$g#67"`).
func ascii(_ text: String) -> [UInt8] {
    Array(text.utf8)
}
