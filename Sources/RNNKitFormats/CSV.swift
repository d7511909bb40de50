import Foundation

/// An RFC 4180 record reader over checked UTF-8 bytes, tracking lines.
package struct _CSVReader {
    /// One field of a record, as positions in the bytes.
    package struct Field {
        /// The field's first byte (its opening quote, if quoted).
        package var start: Int
        /// The field's content: inside the quotes if quoted.
        package var content: Range<Int>
        package var quoted: Bool
        /// Whether the content holds `""` pairs that stand for one quote.
        package var escapedQuotes: Bool
        package var line: Int
        package var lineStart: Int
    }

    package let text: _TextBytes
    private var offset: Int
    private var line = 1
    private var lineStart: Int

    package init(text: _TextBytes) {
        self.text = text
        offset = text.start
        lineStart = text.start
    }

    private var bytes: [UInt8] { text.bytes }

    /// Reads the next record that is not a blank line; returns the line it
    /// starts on and its number of fields, or nil at the end of the file.
    /// Only the first `limit` fields are kept in `fields`, so that a record of
    /// a million empty fields cannot take 48 bytes of memory per byte of file.
    package mutating func nextRecord(into fields: inout [Field], limit: Int) throws(DatasetError) -> (
        line: Int, fieldCount: Int
    )? {
        while true {
            guard offset < bytes.count else { return nil }
            let recordLine = line
            let count = try readRecord(into: &fields, limit: limit)
            let blank = count == 1 && !fields[0].quoted && text.trimmed(fields[0].content).isEmpty
            if !blank { return (recordLine, count) }
        }
    }

    private mutating func readRecord(into fields: inout [Field], limit: Int) throws(DatasetError) -> Int {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), lf: UInt8 = 0x0A, cr: UInt8 = 0x0D
        fields.removeAll(keepingCapacity: true)
        var count = 0
        while true {
            let start = offset
            let fieldLine = line, fieldLineStart = lineStart
            var content: Range<Int>
            var escapedQuotes = false
            let quoted = offset < bytes.count && bytes[offset] == quote
            if quoted {
                offset += 1
                let contentStart = offset
                while true {
                    guard offset < bytes.count else {
                        throw .unexpected(
                            path: text.path, line: fieldLine, column: text.column(of: start, lineStart: fieldLineStart),
                            expected: "a closing '\"' for the field opened here, before the end of the file", found: "")
                    }
                    let byte = bytes[offset]
                    if byte == quote {
                        if offset + 1 < bytes.count, bytes[offset + 1] == quote {
                            escapedQuotes = true
                            offset += 2
                            continue
                        }
                        break
                    }
                    offset += 1
                    if byte == lf || (byte == cr && (offset == bytes.count || bytes[offset] != lf)) {
                        line += 1
                        lineStart = offset
                    }
                }
                content = contentStart..<offset
                offset += 1  // the closing quote
                while offset < bytes.count, _isWhitespace(bytes[offset]) { offset += 1 }
                if offset < bytes.count, bytes[offset] != comma, bytes[offset] != lf, bytes[offset] != cr {
                    throw .unexpected(
                        path: text.path, line: line, column: text.column(of: offset, lineStart: lineStart),
                        expected: "',' or the end of the line after a closing quote", found: text.scalar(at: offset))
                }
            } else {
                while offset < bytes.count, bytes[offset] != comma, bytes[offset] != lf, bytes[offset] != cr {
                    offset += 1
                }
                content = start..<offset
            }
            count += 1
            if fields.count < limit {
                fields.append(
                    Field(
                        start: start, content: content, quoted: quoted, escapedQuotes: escapedQuotes,
                        line: fieldLine, lineStart: fieldLineStart))
            }
            guard offset < bytes.count else { return count }
            let byte = bytes[offset]
            offset += 1
            if byte == comma { continue }
            if byte == cr, offset < bytes.count, bytes[offset] == lf { offset += 1 }
            line += 1
            lineStart = offset
            return count
        }
    }

    /// A field's text: quotes removed and `""` unescaped if quoted, trimmed of
    /// spaces and tabs if not.
    package func string(_ field: Field) -> String {
        if !field.quoted { return String(decoding: bytes[text.trimmed(field.content)], as: UTF8.self) }
        let raw = String(decoding: bytes[field.content], as: UTF8.self)
        return field.escapedQuotes ? raw.replacingOccurrences(of: "\"\"", with: "\"") : raw
    }

    /// Where a field starts, 1-based.
    package func line(of field: Field) -> (line: Int, column: Int) {
        (field.line, text.column(of: field.start, lineStart: field.lineStart))
    }
}
