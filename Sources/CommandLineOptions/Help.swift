/// Help text generated from option specs, so that it lists exactly what is accepted.
package enum Help {
    /// A command's help: its summary, usage, options (common ones first, then
    /// each section under its heading), and notes.
    ///
    /// - Parameters:
    ///   - program: The tool and command as typed (`rnnkit train`).
    ///   - sections: Further options under headings, such as those of one kind of data.
    package static func text(
        program: String, summary: String, usage: String, options: [OptionSpec],
        sections: [(heading: String, options: [OptionSpec])] = [],
        notes: String = ""
    ) -> String {
        let labels = (options + sections.flatMap(\.options)).map(\.label)
        let width = min(30, (labels.map(\.count).max() ?? 0) + 2)
        func lines(_ specs: [OptionSpec]) -> String {
            specs.map { spec in
                let label = spec.label
                // A label too wide for the column puts its help on the next line.
                let padding =
                    label.count < width
                    ? String(repeating: " ", count: width - label.count)
                    : "\n" + String(repeating: " ", count: width + 2)
                return "  \(label)\(padding)\(spec.help)\n"
            }.joined()
        }
        var text = "\(summary)\n\nUsage: \(program) \(usage)\n\nOptions:\n" + lines(options)
        text += "  --help" + String(repeating: " ", count: max(1, width - 6)) + "show this help\n"
        for section in sections { text += "\n\(section.heading):\n" + lines(section.options) }
        if !notes.isEmpty { text += "\n\(notes)\n" }
        return text
    }
}
