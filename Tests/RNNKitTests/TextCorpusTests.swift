import Foundation
import Testing

@testable import RNNKit

@Suite("Text corpus")
struct TextCorpusTests {
    // MARK: Real file

    @Test("tinyshakespeare: 1115394 characters, 65 distinct", .enabled(if: SampleData.has("tinyshakespeare.txt")))
    func tinyShakespeare() throws {
        let corpus = try TextCorpus(contentsOf: SampleData.url("tinyshakespeare.txt"))
        #expect(corpus.tokens.count == 1_115_394)
        #expect(corpus.vocabulary.count == 65)
        #expect(corpus.vocabulary.prefix(3) == ["\n", " ", "!"])
        #expect(corpus.decode(Array(corpus.tokens.prefix(13))) == "First Citizen")

        let (train, validation) = corpus.split()
        #expect(train == 0..<1_003_854 && validation == 1_003_854..<1_115_394)  // int(1115394 * 0.9), as in PyTorch
        let batch = try corpus.consecutiveWindows(length: 100, range: validation)
        #expect(batch.count == (validation.count - 1) / 100)
        let configuration = ModelConfiguration(
            cell: .lstm, input: .embedding(vocabularySize: 65, dimension: 8), hiddenSize: 8, outputSize: 65,
            topology: .manyToMany, vocabulary: corpus.vocabulary)
        try batch.validate(for: configuration, needsTargets: true)
    }

    // MARK: Tokens

    @Test("the vocabulary is the sorted distinct characters; tokens index it")
    func vocabulary() throws {
        let corpus = try TextCorpus(text: "hello")
        #expect(corpus.vocabulary == ["e", "h", "l", "o"])
        #expect(corpus.tokens == [1, 0, 2, 2, 3])
        #expect(corpus.decode(corpus.tokens) == "hello")
        #expect(try corpus.encode("hole") == [1, 3, 2, 0])
        #expect(corpus.decode([0, 4, -1]) == "e\u{FFFD}\u{FFFD}")
        #expect(throws: DatasetError.unknownCharacter(source: "<memory>", character: "x", offset: 2)) {
            try corpus.encode("hex")
        }
    }

    @Test("a token is a grapheme cluster: combining marks and CR LF are one")
    func graphemes() throws {
        let corpus = try TextCorpus(text: "e\u{301}a\r\nb\u{E9}")
        #expect(corpus.tokens.count == 5)
        #expect(corpus.vocabulary.count == 4)  // é (either spelling), a, CR LF, b
        #expect(corpus.tokens[0] == corpus.tokens[4])
    }

    @Test("a byte-order mark is dropped")
    func byteOrderMark() throws {
        let corpus = try TextCorpus(bytes: [0xEF, 0xBB, 0xBF] + Array("ab".utf8), source: "b.txt")
        #expect(corpus.vocabulary == ["a", "b"])
        #expect(corpus.tokens == [0, 1])
    }

    @Test("empty text, one repeated character and bad UTF-8 are refused")
    func refused() throws {
        #expect(throws: DatasetError.emptyFile(path: "<memory>")) { try TextCorpus(text: "") }
        #expect(throws: DatasetError.emptyFile(path: "e.txt")) {
            try TextCorpus(bytes: [0xEF, 0xBB, 0xBF], source: "e.txt")
        }
        #expect(throws: DatasetError.tooFewDistinctCharacters(path: "<memory>", found: 1)) {
            try TextCorpus(text: "aaaa")
        }
        #expect(throws: DatasetError.notUTF8(path: "l.txt", byteOffset: 3)) {
            try TextCorpus(bytes: Array("caf".utf8) + [0xE9], source: "l.txt")
        }
        // Ideographs from plane 2 on, each its own grapheme; the compatibility
        // ideographs are skipped, as they are canonically equal to others.
        let scalars = (0x20000...).lazy.filter { !(0x2F800...0x2FA1F).contains($0) }
            .prefix(TextCorpus.maxVocabularySize + 1).compactMap(Unicode.Scalar.init)
        do {
            _ = try TextCorpus(text: String(String.UnicodeScalarView(scalars)))
            Issue.record("a corpus of more than maxVocabularySize characters was accepted")
        } catch {
            #expect(error == .tooLarge(path: "<memory>", what: "distinct characters", count: 65537, limit: 65536))
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("none.txt")
        #expect(throws: DatasetError.io(path: missing.path, operation: "open", code: ENOENT)) {
            try TextCorpus(contentsOf: missing)
        }
    }

    // MARK: UTF-8

    @Test(
        "the first invalid UTF-8 sequence is found",
        arguments: [
            ([0x61, 0x62], nil),
            ([0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80, 0xEF, 0xBF, 0xBF, 0xF4, 0x8F, 0xBF, 0xBF], nil),
            ([0x80], 0),  // a lone continuation byte
            ([0x61, 0xC0, 0x80], 1),  // overlong NUL
            ([0xC1, 0xBF], 0),  // overlong
            ([0xE0, 0x80, 0xAF], 0),  // overlong three-byte form
            ([0xED, 0xA0, 0x80], 0),  // a UTF-16 surrogate
            ([0xF0, 0x80, 0x80, 0x80], 0),  // overlong four-byte form
            ([0xF4, 0x90, 0x80, 0x80], 0),  // past U+10FFFF
            ([0xF5, 0x80, 0x80, 0x80], 0),
            ([0x61, 0x62, 0xE2, 0x82], 2),  // cut short by the end
            ([0xE2, 0x82, 0x41], 0),  // cut short by ASCII
            ([0x41, 0xFF], 1)
        ] as [([UInt8], Int?)])
    func utf8(_ bytes: [UInt8], _ offset: Int?) {
        #expect(_firstInvalidUTF8Offset(in: bytes) == offset)
    }

    @Test("the UTF-8 check agrees with the standard library on random bytes")
    func utf8AgreesWithStandardLibrary() {
        var generator = SeededGenerator(seed: 8)
        let pieces: [[UInt8]] = [
            [0x61], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0x80], [0xC0],
            [0xE0], [0xED, 0xA0], [0xF4, 0x90], [0xFF], [0xF0, 0x9F]
        ]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(generator.next() % 8) {
                bytes +=
                    generator.next() % 3 == 0
                    ? [UInt8(truncatingIfNeeded: generator.next())]
                    : pieces[Int(generator.next() % UInt64(pieces.count))]
            }
            let offset = _firstInvalidUTF8Offset(in: bytes)
            #expect((offset == nil) == (String(validating: bytes, as: UTF8.self) != nil))
            if let offset { #expect(String(validating: bytes[..<offset], as: UTF8.self) != nil) }
        }
    }

    // MARK: Windows

    @Test("windows: inputs and next-character targets, shifted by one")
    func windows() throws {
        let corpus = try TextCorpus(text: "abcdefgh")
        let batch = try corpus.windows(starts: [0, 3], length: 4)
        #expect((batch.count, batch.timeSteps) == (2, 4))
        guard case .tokens(let inputs) = batch.inputs, case .classes(let targets) = batch.targets else {
            Issue.record("wrong batch kinds")
            return
        }
        #expect(inputs == [0, 1, 2, 3, 3, 4, 5, 6])
        #expect(targets == [1, 2, 3, 4, 4, 5, 6, 7])
    }

    @Test("windows refuse starts past the end, empty starts and too short a text")
    func windowErrors() throws {
        let corpus = try TextCorpus(text: "abcdefgh")
        #expect(
            throws: DatasetError.invalidArgument(
                name: "window start", value: "4", expected: "0...3, so that 4 tokens and their targets fit in 8")
        ) {
            try corpus.windows(starts: [0, 4], length: 4)
        }
        #expect(
            throws: DatasetError.invalidArgument(
                name: "window start", value: "-1", expected: "0...3, so that 4 tokens and their targets fit in 8")
        ) {
            try corpus.windows(starts: [-1], length: 4)
        }
        #expect(
            throws: DatasetError.invalidArgument(name: "window starts", value: "[]", expected: "at least one start")
        ) {
            try corpus.windows(starts: [], length: 4)
        }
        #expect(throws: DatasetError.invalidArgument(name: "window length", value: "0", expected: "at least 1")) {
            try corpus.windows(starts: [0], length: 0)
        }
        #expect(throws: DatasetError.tooFewRows(source: "<memory>", rows: 8, needed: 9)) {
            try corpus.windows(starts: [0], length: 8)
        }
        #expect(throws: DatasetError.tooFewRows(source: "<memory>", rows: 8, needed: .max)) {
            try corpus.windows(starts: [0], length: .max)
        }
        #expect(
            throws: DatasetError.invalidArgument(
                name: "range", value: "2..<9", expected: "token positions within 0..<8")
        ) {
            try corpus.consecutiveWindowStarts(length: 2, range: 2..<9)
        }
    }

    @Test("validation windows are consecutive, non-overlapping and the same every time")
    func consecutiveWindows() throws {
        let corpus = try TextCorpus(text: "abcdefgh")
        #expect(try corpus.consecutiveWindowStarts(length: 2, range: 0..<8) == [0, 2, 4])
        #expect(try corpus.consecutiveWindowStarts(length: 3, range: 2..<8) == [2])
        let batch = try corpus.consecutiveWindows(length: 2, range: 0..<8)
        guard case .tokens(let inputs) = batch.inputs else {
            Issue.record("wrong batch kinds")
            return
        }
        #expect(inputs == [0, 1, 2, 3, 4, 5])
    }

    @Test("random window starts are seeded and stay in range")
    func randomStarts() throws {
        let corpus = try TextCorpus(text: String(repeating: "abcdefghij", count: 10))
        var first = SeededGenerator(seed: 3)
        var second = SeededGenerator(seed: 3)
        let starts = try corpus.randomWindowStarts(count: 50, length: 5, range: 10..<40, using: &first)
        #expect(starts == (try corpus.randomWindowStarts(count: 50, length: 5, range: 10..<40, using: &second)))
        #expect(starts.allSatisfy { (10...34).contains($0) })
        for count in [0, Int.max] {
            #expect(
                throws: DatasetError.invalidArgument(name: "window count", value: "\(count)", expected: "1...16777216")
            ) {
                try corpus.randomWindowStarts(count: count, length: 5, range: 10..<40, using: &first)
            }
        }
    }

    @Test("split keeps the last fraction for validation, clamped")
    func split() throws {
        let corpus = try TextCorpus(text: "abcdefghij")
        #expect(corpus.split() == (0..<9, 9..<10))
        #expect(corpus.split(validationFraction: 0.25) == (0..<7, 7..<10))  // floor(10 * 0.75) = 7
        #expect(corpus.split(validationFraction: 2) == (0..<0, 0..<10))
        #expect(corpus.split(validationFraction: .nan) == (0..<10, 10..<10))
    }

    // MARK: Robustness

    @Test("random mutations of a valid file decode or throw, never trap")
    func fuzz() {
        let original = Array("\u{FEFF}Caf\u{E9} e\u{301}\r\nna\u{EF}ve \u{1F600}\n".utf8)
        expectParsesOrRefuses(original, seed: 0x7E) { bytes in
            let corpus = try TextCorpus(bytes: bytes, source: "fuzz.txt")
            #expect(corpus.tokens.allSatisfy { $0 >= 0 && Int($0) < corpus.vocabulary.count })
            #expect(zip(corpus.vocabulary, corpus.vocabulary.dropFirst()).allSatisfy { $0 < $1 })
            let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
            #expect(corpus.decode(corpus.tokens) == String(decoding: body, as: UTF8.self))
        }
    }

    /// Each file under Tests/Fixtures/malformed/text, and the error it must give.
    @Test("malformed fixture files are refused with their specific errors")
    func malformedFixtures() throws {
        let folder = SampleData.malformed.appendingPathComponent("text")
        let expected: [String: (String) -> DatasetError] = [
            "empty": { .emptyFile(path: $0) },
            "bom-only": { .emptyFile(path: $0) },
            "one-character": { .tooFewDistinctCharacters(path: $0, found: 1) },
            "latin1": { .notUTF8(path: $0, byteOffset: 3) },
            "truncated-sequence": { .notUTF8(path: $0, byteOffset: 9) },
            "surrogate": { .notUTF8(path: $0, byteOffset: 6) }
        ]
        try replayMalformedFixtures(in: folder, extension: ".txt", expected: expected) { url in
            _ = try TextCorpus(contentsOf: url)
        }
    }
}
