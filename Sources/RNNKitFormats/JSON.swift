// A small JSON value type with a strict parser and a compact writer.
//
// Why not Foundation's JSONSerialization: the safetensors header is untrusted
// input, and its errors must say exactly what was wrong and where (byte offset,
// tensor name). JSONSerialization reports little more than "invalid JSON",
// turns integers into NSNumber (whose Int64/UInt64/Double bridging differs
// between Darwin and swift-corelibs-foundation, which matters for byte offsets
// near 2^53 and beyond), has no nesting limit we can set, and keeps no key
// order. A few hundred lines of parser give precise errors, exact 64-bit
// integers, bounded recursion, and ordered objects for deterministic output.

/// A JSON value: what a JSON document parses into, and what the writer prints.
///
/// Integers that fit in `Int` are kept exactly as ``integer(_:)``; every other
/// number is a ``number(_:)``. Objects keep their keys in insertion order, so
/// printed output is deterministic.
///
/// ```swift
/// let report: JSONValue = ["epoch": 3, "loss": .number(0.25), "tags": ["lstm"]]
/// print(report.serialized())   // {"epoch":3,"loss":0.25,"tags":["lstm"]}
/// ```
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in `Int`.
    case integer(Int)
    /// Any other number. Non-finite values are printed as `null`.
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object whose members keep the order in which they were added.
///
/// Equality ignores order, as JSON does. Assigning to an existing key replaces
/// its value in place; assigning `nil` removes the member.
package struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The keys, in insertion order.
    package private(set) var keys: [String] = []
    private var values: [String: JSONValue] = [:]

    /// Creates an empty object.
    package init() {}

    /// Creates an object from key-value pairs; a repeated key keeps its first
    /// position and its last value.
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The value stored under `key`, or `nil` if there is none.
    package subscript(key: String) -> JSONValue? {
        get { values[key] }
        set {
            if let newValue {
                if values.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The number of members.
    package var count: Int { keys.count }

    /// Whether the object has no members.
    package var isEmpty: Bool { keys.isEmpty }

    /// The members, in insertion order.
    package var members: [(key: String, value: JSONValue)] {
        keys.compactMap { key in values[key].map { (key, $0) } }
    }

    package static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.values == rhs.values
    }
}

// MARK: - Literals and accessors

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    package init(nilLiteral: ()) { self = .null }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(integerLiteral value: Int) { self = .integer(value) }
    package init(floatLiteral value: Double) { self = .number(value) }
    package init(stringLiteral value: String) { self = .string(value) }
    package init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }

    /// The string, if this is a ``string(_:)``.
    package var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The integer, if this is an ``integer(_:)``.
    package var integerValue: Int? {
        if case .integer(let value) = self { value } else { nil }
    }

    /// The elements, if this is an ``array(_:)``.
    package var arrayValue: [JSONValue]? {
        if case .array(let value) = self { value } else { nil }
    }

    /// The object, if this is an ``object(_:)``.
    package var objectValue: JSONObject? {
        if case .object(let value) = self { value } else { nil }
    }
}

// MARK: - Writing

extension JSONValue {
    /// The value as compact JSON text (no whitespace), with object members in
    /// insertion order.
    ///
    /// Strings are escaped as JSON requires (quote, backslash, and control
    /// characters); other characters are written as UTF-8. Non-finite numbers,
    /// which JSON cannot represent, are written as `null`.
    ///
    /// - Complexity: O(*n*) in the size of the output.
    package func serialized() -> String {
        var output = ""
        write(to: &output)
        return output
    }

    private func write(to output: inout String) {
        switch self {
        case .null:
            output += "null"
        case .bool(let value):
            output += value ? "true" : "false"
        case .integer(let value):
            output += String(value)
        case .number(let value):
            // `description` is the shortest text that reads back as the same
            // Double, and its forms ("0.1", "1e-05", "1e+20") are all JSON.
            output += value.isFinite ? value.description : "null"
        case .string(let value):
            JSONValue.writeEscaped(value, to: &output)
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let object):
            output += "{"
            for (index, member) in object.members.enumerated() {
                if index > 0 { output += "," }
                JSONValue.writeEscaped(member.key, to: &output)
                output += ":"
                member.value.write(to: &output)
            }
            output += "}"
        }
    }

    /// Writes `string` as a quoted JSON string literal.
    package static func writeEscaped(_ string: String, to output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}":
                let hex = String(scalar.value, radix: 16, uppercase: true)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

// MARK: - Parsing

/// Why a JSON document could not be parsed. Offsets count bytes from the start
/// of the document.
public enum JSONParseError: Error, CustomStringConvertible, Equatable {
    /// The document ended where `expected` was still needed.
    case unexpectedEnd(expected: String)
    /// A byte that cannot appear here.
    case unexpectedByte(UInt8, offset: Int, expected: String)
    /// The bytes starting at `offset` are not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A raw control character (below U+0020) inside a string; JSON requires
    /// these to be escaped.
    case controlCharacterInString(offset: Int)
    /// A backslash escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
    case invalidEscape(offset: Int)
    /// A `\u` escape not followed by four hexadecimal digits.
    case invalidUnicodeEscape(offset: Int)
    /// A `\uD800`–`\uDFFF` escape that is not part of a high-low surrogate pair.
    case unpairedSurrogate(offset: Int)
    /// A number that does not follow JSON's grammar (leading zeros, a lone
    /// minus sign, a dot without digits, ...).
    case invalidNumber(offset: Int)
    /// A number too large in magnitude for a Double.
    case numberOutOfRange(offset: Int)
    /// Arrays and objects nested deeper than `limit`.
    case nestingTooDeep(offset: Int, limit: Int)
    /// An object that has the same key twice.
    case duplicateKey(String, offset: Int)
    /// Something other than whitespace after the end of the top-level value.
    case trailingContent(offset: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd(let expected):
            "unexpected end of input, expected \(expected)"
        case .unexpectedByte(let byte, let offset, let expected):
            "unexpected \(JSONParseError.describe(byte)) at byte \(offset), expected \(expected)"
        case .invalidUTF8(let offset):
            "invalid UTF-8 at byte \(offset)"
        case .controlCharacterInString(let offset):
            "unescaped control character in string at byte \(offset)"
        case .invalidEscape(let offset):
            "invalid escape sequence at byte \(offset)"
        case .invalidUnicodeEscape(let offset):
            "\\u escape at byte \(offset) is not followed by four hexadecimal digits"
        case .unpairedSurrogate(let offset):
            "unpaired UTF-16 surrogate escape at byte \(offset)"
        case .invalidNumber(let offset):
            "malformed number at byte \(offset)"
        case .numberOutOfRange(let offset):
            "number at byte \(offset) is too large"
        case .nestingTooDeep(let offset, let limit):
            "arrays and objects nested deeper than \(limit) levels at byte \(offset)"
        case .duplicateKey(let key, let offset):
            "duplicate key \(JSONValue.string(key).serialized()) at byte \(offset)"
        case .trailingContent(let offset):
            "unexpected content after the JSON value at byte \(offset)"
        }
    }

    private static func describe(_ byte: UInt8) -> String {
        let hex = "0x" + String(byte, radix: 16, uppercase: true)
        if byte >= 0x20 && byte < 0x7F {
            return "'\(Character(Unicode.Scalar(byte)))' (\(hex))"
        }
        return "byte \(hex)"
    }
}

extension JSONValue {
    /// The nesting depth that ``init(parsing:maxDepth:)`` allows by default.
    package static let defaultMaxDepth = 128

    /// Parses a JSON document (RFC 8259) from UTF-8 bytes.
    ///
    /// The parser is strict: no comments, no trailing commas, no leading
    /// zeros, no duplicate keys, no raw control characters in strings, no
    /// unpaired surrogate escapes. Leading and trailing whitespace is allowed.
    /// It never traps on any input; recursion is bounded by `maxDepth`.
    ///
    /// - Parameters:
    ///   - bytes: The document, UTF-8 encoded.
    ///   - maxDepth: The deepest nesting of arrays and objects accepted.
    /// - Throws: ``JSONParseError`` saying what was wrong and at which byte.
    /// - Complexity: O(*n*) in the length of `bytes`.
    package init(parsing bytes: [UInt8], maxDepth: Int = JSONValue.defaultMaxDepth) throws {
        if let offset = _firstInvalidUTF8Offset(in: bytes) {
            throw JSONParseError.invalidUTF8(offset: offset)
        }
        var parser = _JSONParser(bytes: bytes, maxDepth: maxDepth)
        self = try parser.parseDocument()
    }

    /// Parses a JSON document from a string. See ``init(parsing:maxDepth:)``.
    package init(parsing text: String, maxDepth: Int = JSONValue.defaultMaxDepth) throws {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}

/// Returns the offset of the first byte that does not start a well-formed
/// UTF-8 sequence (no overlong forms, no surrogates, nothing above U+10FFFF),
/// or `nil` if all of `bytes` is valid UTF-8.
package func _firstInvalidUTF8Offset(in bytes: [UInt8]) -> Int? {
    var index = 0
    while index < bytes.count {
        let lead = bytes[index]
        if lead < 0x80 {
            index += 1
            continue
        }
        // The valid range of the second byte depends on the lead byte (Unicode
        // Table 3-7); the remaining bytes are always 0x80...0xBF.
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default: return index
        }
        guard bytes.count - index >= length, secondRange.contains(bytes[index + 1]) else {
            return index
        }
        for continuation in 2..<length where !(0x80...0xBF).contains(bytes[index + continuation]) {
            return index
        }
        index += length
    }
    return nil
}

/// A recursive-descent JSON parser over bytes already validated as UTF-8.
package struct _JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    private var depth = 0

    package init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    package mutating func parseDocument() throws -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw JSONParseError.trailingContent(offset: index) }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                index += 1
            default:
                return
            }
        }
    }

    private func peek(expecting expected: String) throws -> UInt8 {
        guard index < bytes.count else { throw JSONParseError.unexpectedEnd(expected: expected) }
        return bytes[index]
    }

    private mutating func parseValue() throws -> JSONValue {
        let expected = "a JSON value"
        switch try peek(expecting: expected) {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case let byte: throw JSONParseError.unexpectedByte(byte, offset: index, expected: expected)
        }
    }

    private mutating func parseLiteral(_ literal: StaticString) throws {
        let expected = "'\(literal)'"
        for offset in 0..<literal.utf8CodeUnitCount {
            let byte = try peek(expecting: expected)
            guard byte == literal.utf8Start[offset] else {
                throw JSONParseError.unexpectedByte(byte, offset: index, expected: expected)
            }
            index += 1
        }
    }

    private mutating func enterContainer() throws {
        guard depth < maxDepth else {
            throw JSONParseError.nestingTooDeep(offset: index, limit: maxDepth)
        }
        depth += 1
        index += 1  // the opening bracket or brace
        skipWhitespace()
    }

    private mutating func parseArray() throws -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        if try peek(expecting: "a value or ']'") == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            skipWhitespace()
            let expected = "',' or ']'"
            switch try peek(expecting: expected) {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                index += 1
                depth -= 1
                return .array(elements)
            case let byte:
                throw JSONParseError.unexpectedByte(byte, offset: index, expected: expected)
            }
        }
    }

    private mutating func parseObject() throws -> JSONValue {
        try enterContainer()
        var object = JSONObject()
        if try peek(expecting: "a string key or '}'") == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(object)
        }
        while true {
            let keyOffset = index
            let byte = try peek(expecting: "a string key")
            guard byte == UInt8(ascii: "\"") else {
                throw JSONParseError.unexpectedByte(byte, offset: index, expected: "a string key")
            }
            let key = try parseString()
            guard object[key] == nil else {
                throw JSONParseError.duplicateKey(key, offset: keyOffset)
            }
            skipWhitespace()
            let colon = try peek(expecting: "':'")
            guard colon == UInt8(ascii: ":") else {
                throw JSONParseError.unexpectedByte(colon, offset: index, expected: "':'")
            }
            index += 1
            skipWhitespace()
            object[key] = try parseValue()
            skipWhitespace()
            let expected = "',' or '}'"
            switch try peek(expecting: expected) {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                depth -= 1
                return .object(object)
            case let other:
                throw JSONParseError.unexpectedByte(other, offset: index, expected: expected)
            }
        }
    }

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws -> String {
        index += 1  // the opening quote
        var utf8: [UInt8] = []
        while true {
            let byte = try peek(expecting: "'\"' closing the string")
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                // The input was validated as UTF-8 and escapes append whole
                // scalars, so decoding cannot substitute replacement characters.
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try parseEscape(into: &utf8)
            case 0x00..<0x20:
                throw JSONParseError.controlCharacterInString(offset: index)
            default:
                utf8.append(byte)
                index += 1
            }
        }
    }

    /// Parses an escape sequence starting at its backslash.
    private mutating func parseEscape(into utf8: inout [UInt8]) throws {
        let escapeOffset = index
        index += 1
        let byte = try peek(expecting: "an escape character")
        index += 1
        let simple: UInt8
        switch byte {
        case UInt8(ascii: "\""): simple = UInt8(ascii: "\"")
        case UInt8(ascii: "\\"): simple = UInt8(ascii: "\\")
        case UInt8(ascii: "/"): simple = UInt8(ascii: "/")
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = UInt8(ascii: "\n")
        case UInt8(ascii: "r"): simple = UInt8(ascii: "\r")
        case UInt8(ascii: "t"): simple = UInt8(ascii: "\t")
        case UInt8(ascii: "u"):
            let unit = try parseHexQuad(escapeOffset: escapeOffset)
            var scalarValue = UInt32(unit)
            switch unit {
            case 0xD800...0xDBFF:
                // A high surrogate must be followed by an escaped low surrogate.
                guard index + 1 < bytes.count,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw JSONParseError.unpairedSurrogate(offset: escapeOffset) }
                let lowOffset = index
                index += 2
                let low = try parseHexQuad(escapeOffset: lowOffset)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONParseError.unpairedSurrogate(offset: escapeOffset)
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            case 0xDC00...0xDFFF:
                throw JSONParseError.unpairedSurrogate(offset: escapeOffset)
            default:
                break
            }
            guard let scalar = Unicode.Scalar(scalarValue) else {
                throw JSONParseError.unpairedSurrogate(offset: escapeOffset)
            }
            utf8.append(contentsOf: String(scalar).utf8)
            return
        default:
            throw JSONParseError.invalidEscape(offset: escapeOffset)
        }
        utf8.append(simple)
    }

    private mutating func parseHexQuad(escapeOffset: Int) throws -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw JSONParseError.invalidUnicodeEscape(offset: escapeOffset) }
            let digit: UInt8
            switch bytes[index] {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = bytes[index] - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = bytes[index] - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = bytes[index] - UInt8(ascii: "A") + 10
            default: throw JSONParseError.invalidUnicodeEscape(offset: escapeOffset)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// Parses `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    private mutating func parseNumber() throws -> JSONValue {
        let start = index
        var isInteger = true
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else {
            throw JSONParseError.invalidNumber(offset: start)
        }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) {
                throw JSONParseError.invalidNumber(offset: start)  // leading zero
            }
        } else {
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw JSONParseError.invalidNumber(offset: start)
            }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else {
                throw JSONParseError.invalidNumber(offset: start)
            }
            skipDigits()
        }
        let lexeme = bytes[start..<index]
        if isInteger, let exact = exactInteger(lexeme) {
            return .integer(exact)
        }
        guard let value = Double(String(decoding: lexeme, as: UTF8.self)), value.isFinite else {
            throw JSONParseError.numberOutOfRange(offset: start)
        }
        return .number(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    /// The value of a grammatical integer lexeme, or `nil` if it overflows `Int`.
    private func exactInteger(_ lexeme: ArraySlice<UInt8>) -> Int? {
        let isNegative = lexeme.first == UInt8(ascii: "-")
        var value = 0
        // Accumulating with the sign applied lets Int.min parse exactly.
        for byte in lexeme.dropFirst(isNegative ? 1 : 0) {
            let digit = Int(byte - UInt8(ascii: "0"))
            let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 10)
            let (next, addOverflow) =
                isNegative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if shiftOverflow || addOverflow { return nil }
            value = next
        }
        return value
    }
}
