/// Builders for the type definitions a gdb feature file declares before its registers (`gdb/features/gdb-target.dtd`).
enum FeatureTypes {
    static func vectors(_ list: [(String, String, Int)]) -> String {
        list.map { "  <vector id=\"\($0.0)\" type=\"\($0.1)\" count=\"\($0.2)\"/>\n" }.joined()
    }

    static func union(_ id: String, _ fields: [(String, String)]) -> String {
        "  <union id=\"\(id)\">\n"
            + fields.map { "    <field name=\"\($0.0)\" type=\"\($0.1)\"/>\n" }.joined()
            + "  </union>\n"
    }

    /// A `<flags>` type; a field from `start` to `end` (inclusive) is a bit, or a bitfield when they differ.
    static func flags(_ id: String, _ size: Int, _ fields: [(String, Int, Int)]) -> String {
        var s = "  <flags id=\"\(id)\" size=\"\(size)\">\n"
        for (name, start, end) in fields { s += "    <field name=\"\(name)\" start=\"\(start)\" end=\"\(end)\"/>\n" }
        return s + "  </flags>\n"
    }
}
