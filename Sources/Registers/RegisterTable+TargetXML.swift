extension RegisterTable {
    /// The target description as gdb reads it with `qXfer:features:read`: `target.xml`, which names the
    /// architecture and includes one file per feature, and those files. Keys are the annex names.
    public func targetDescription() -> [String: String] {
        var files: [String: String] = [:]
        var target = """
            <?xml version="1.0"?>
            <!DOCTYPE target SYSTEM "gdb-target.dtd">
            <target version="1.0">
              <architecture>\(architecture)</architecture>

            """
        for feature in features {
            target += "  <xi:include href=\"\(feature.fileName)\"/>\n"
            files[feature.fileName] = featureXML(feature)
        }
        target += "</target>\n"
        files["target.xml"] = target
        return files
    }

    func featureXML(_ feature: RegisterFeature) -> String {
        var xml = """
            <?xml version="1.0"?>
            <!DOCTYPE feature SYSTEM "gdb-target.dtd">
            <feature name="\(feature.name)">

            """
        xml += feature.typeDefinitions
        for r in registers where r.feature == feature.name {
            xml += "  <reg name=\"\(r.name)\" bitsize=\"\(r.bitSize)\" type=\"\(r.type)\" regnum=\"\(r.regnum)\""
            if let g = r.gdbGroup { xml += " group=\"\(g)\"" }
            xml += "/>\n"
        }
        xml += "</feature>\n"
        return xml
    }

    /// `kvmstub regs`: one line per register — name, gdb regnum, bitsize, ONE_REG ID, sync group.
    public func listing() -> String {
        let width = max(8, registers.map(\.name.count).max() ?? 0)
        var out = "# \(architecture): \(registers.count) registers, g packet \(gPacketCount) registers / \(gPacketByteCount) bytes\n"
        out += "# " + "name".padding(width - 2) + " regnum bits  one_reg_id          group\n"
        for r in registers {
            out += r.name.padding(width) + " " + String(r.regnum).leftPadding(6) + " " + String(r.bitSize).leftPadding(4)
            out += "  \(r.id)  \(groupName(r.syncGroup))\n"
        }
        for g in groups {
            let level = runtime.contains(g.group) ? "RUNTIME" : reset.contains(g.group) ? "RESET" : "FULL"
            out += "# group \(g.name) (\(level)): \(g.servedBy)\n"
        }
        return out
    }
}

extension String {
    fileprivate func padding(_ n: Int) -> String { self + String(repeating: " ", count: max(0, n - count)) }
    fileprivate func leftPadding(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
