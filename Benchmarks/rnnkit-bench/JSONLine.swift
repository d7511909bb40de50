import Foundation

/// A flat JSON object written by hand, keys in insertion order, on one line.
struct JSONLine {
    private var fields: [String] = []

    mutating func add(_ key: String, _ value: String) {
        fields.append("\(Self.quoted(key)):\(Self.quoted(value))")
    }

    mutating func add(_ key: String, _ value: Int) {
        fields.append("\(Self.quoted(key)):\(value)")
    }

    mutating func add(_ key: String, _ value: Bool) {
        fields.append("\(Self.quoted(key)):\(value)")
    }

    /// A number rounded to `decimals` places; nil and non-finite values become `null`.
    mutating func add(_ key: String, _ value: Double?, decimals: Int) {
        let text: String
        if let value, value.isFinite {
            text = String(format: "%.\(decimals)f", value)
        } else {
            text = "null"
        }
        fields.append("\(Self.quoted(key)):\(text)")
    }

    var text: String { "{" + fields.joined(separator: ", ") + "}" }

    /// `string` as a JSON string literal.
    static func quoted(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
