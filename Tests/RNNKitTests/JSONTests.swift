import Testing

@testable import RNNKit

@Suite("JSON")
struct JSONTests {
    @Test("parses every kind of value")
    func parsesValues() throws {
        let value = try JSONValue(
            parsing: #" {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}, "e": 0, "f": -0.0} "#)
        let expected: JSONValue = [
            "a": [1, -2500.0, true, false, nil], "b": ["c": "d"], "e": 0, "f": .number(-0.0)
        ]
        #expect(value == expected)
        #expect(value.objectValue?.keys == ["a", "b", "e", "f"])
    }

    @Test("integers are exact across the whole Int range; larger ones become doubles")
    func integers() throws {
        #expect(try JSONValue(parsing: "9223372036854775807") == .integer(.max))
        #expect(try JSONValue(parsing: "-9223372036854775808") == .integer(.min))
        #expect(try JSONValue(parsing: "9223372036854775808") == .number(9_223_372_036_854_775_808))
        #expect(try JSONValue(parsing: "1e2") == .number(100))
        #expect(throws: JSONParseError.numberOutOfRange(offset: 0)) { try JSONValue(parsing: "1e400") }
    }

    @Test("string escapes, including surrogate pairs, and raw UTF-8")
    func strings() throws {
        #expect(try JSONValue(parsing: #""a\"b\\c\/d\b\f\n\r\t""#) == .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
        #expect(try JSONValue(parsing: #""\u00e9\u00E9 \ud83d\ude00 \u0000""#) == .string("éé 😀 \u{0}"))
        #expect(try JSONValue(parsing: "\"é😀\"") == .string("é😀"))
    }

    @Test(
        "malformed documents throw errors that say where",
        arguments: [
            ("", JSONParseError.unexpectedEnd(expected: "a JSON value")),
            ("[1,]", .unexpectedByte(UInt8(ascii: "]"), offset: 3, expected: "a JSON value")),
            ("{\"a\":1,}", .unexpectedByte(UInt8(ascii: "}"), offset: 7, expected: "a string key")),
            ("{\"a\" 1}", .unexpectedByte(UInt8(ascii: "1"), offset: 5, expected: "':'")),
            ("{\"a\":1 \"b\":2}", .unexpectedByte(UInt8(ascii: "\""), offset: 7, expected: "',' or '}'")),
            ("{\"a\":1,\"a\":2}", .duplicateKey("a", offset: 7)),
            ("[1 2]", .unexpectedByte(UInt8(ascii: "2"), offset: 3, expected: "',' or ']'")),
            ("1 2", .trailingContent(offset: 2)),
            ("tru", .unexpectedEnd(expected: "'true'")),
            ("nul!", .unexpectedByte(UInt8(ascii: "!"), offset: 3, expected: "'null'")),
            ("01", .invalidNumber(offset: 0)),
            ("-", .invalidNumber(offset: 0)),
            ("1.", .invalidNumber(offset: 0)),
            (".5", .unexpectedByte(UInt8(ascii: "."), offset: 0, expected: "a JSON value")),
            ("1e+", .invalidNumber(offset: 0)),
            ("+1", .unexpectedByte(UInt8(ascii: "+"), offset: 0, expected: "a JSON value")),
            ("\"abc", .unexpectedEnd(expected: "'\"' closing the string")),
            ("\"a\tb\"", .controlCharacterInString(offset: 2)),
            ("\"\\x\"", .invalidEscape(offset: 1)),
            ("\"\\u12g4\"", .invalidUnicodeEscape(offset: 1)),
            ("\"\\ud83d\"", .unpairedSurrogate(offset: 1)),
            ("\"\\ud83d\\u0041\"", .unpairedSurrogate(offset: 1)),
            ("\"\\ude00\"", .unpairedSurrogate(offset: 1))
        ])
    func malformed(_ text: String, _ expected: JSONParseError) {
        #expect(throws: expected) { try JSONValue(parsing: text) }
    }

    @Test("invalid UTF-8 is refused with its offset")
    func invalidUTF8() {
        let samples: [([UInt8], Int)] = [
            ([0x22, 0xC0, 0x80, 0x22], 1),  // overlong encoding of NUL
            ([0x22, 0x61, 0xED, 0xA0, 0x80, 0x22], 2),  // encoded surrogate
            ([0x22, 0xF5, 0x80, 0x80, 0x80, 0x22], 1),  // beyond U+10FFFF
            ([0x22, 0xE2, 0x82], 1),  // truncated sequence
            ([0x22, 0x80, 0x22], 1)  // lone continuation byte
        ]
        for (bytes, offset) in samples {
            #expect(throws: JSONParseError.invalidUTF8(offset: offset)) { try JSONValue(parsing: bytes) }
        }
    }

    @Test("nesting is bounded: 100000 brackets throw instead of overflowing the stack")
    func deepNesting() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.nestingTooDeep(offset: 128, limit: 128)) { try JSONValue(parsing: deep) }
        let fine = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(throws: Never.self) { try JSONValue(parsing: fine) }
    }

    @Test("serialization escapes what JSON requires, keeps key order and round-trips")
    func serialization() throws {
        let value: JSONValue = [
            "name": "quote \" slash \\ newline \n bell \u{7} del \u{7F} é 😀",
            "loss": .number(0.1), "tiny": .number(1e-5), "big": .number(1e20), "nan": .number(.nan),
            "epochs": [1, 2, 3], "empty": [:], "none": nil, "ok": true
        ]
        let text = value.serialized()
        #expect(
            text
                == #"{"name":"quote \" slash \\ newline \n bell \u0007 del \u007F é 😀","loss":0.1,"tiny":1e-05,"#
                + #""big":1e+20,"nan":null,"epochs":[1,2,3],"empty":{},"none":null,"ok":true}"#)
        var expected = try #require(value.objectValue)
        expected["nan"] = .null  // JSON has no NaN
        #expect(try JSONValue(parsing: text) == .object(expected))
    }

    @Test("objects keep insertion order; equality ignores it")
    func objectOrder() {
        var object = JSONObject()
        object["b"] = 1
        object["a"] = 2
        object["b"] = 3
        #expect(object.keys == ["b", "a"])
        #expect(JSONValue.object(object).serialized() == #"{"b":3,"a":2}"#)
        object["b"] = nil
        #expect(object.keys == ["a"])
        #expect(JSONObject(dictionaryLiteral: ("x", 1), ("y", 2)) == ["y": 2, "x": 1])
    }
}
