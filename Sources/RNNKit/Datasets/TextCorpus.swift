import Foundation

/// A UTF-8 text as character tokens, for character-level language models.
///
/// A token is a `Character` (an extended grapheme cluster, so `"é"` is one
/// token however it is encoded, and so is a CR LF pair); its index is its
/// position in ``vocabulary``, the text's distinct characters sorted. A
/// leading byte-order mark is dropped; nothing else is normalized.
///
/// ```swift
/// let corpus = try TextCorpus(contentsOf: url)
/// let (train, validation) = corpus.split(validationFraction: 0.1)
/// var generator = SeededGenerator(seed: 1)
/// let starts = try corpus.randomWindowStarts(count: 32, length: 100, range: train, using: &generator)
/// let batch = try corpus.windows(starts: starts, length: 100)         // tokens [32, 100] -> classes [32, 100]
/// let check = try corpus.consecutiveWindows(length: 100, range: validation)
/// ```
public struct TextCorpus: Sendable, Equatable {
    /// The most distinct characters a corpus may have: more than any
    /// character model wants, few enough to bound the memory a file can claim.
    public static let maxVocabularySize = 1 << 16

    /// The file's path, or the name given for text in memory.
    public let source: String
    /// The distinct characters of the text, sorted; a token is an index into it.
    public let vocabulary: [Character]
    /// The text, one token per character.
    public let tokens: [Int32]

    /// Reads a UTF-8 text file.
    ///
    /// - Throws: ``DatasetError/notUTF8(path:byteOffset:)`` with the offset of
    ///   the first invalid byte sequence, ``DatasetError/emptyFile(path:)``,
    ///   ``DatasetError/tooFewDistinctCharacters(path:found:)``, or an I/O error.
    public init(contentsOf url: URL) throws(DatasetError) {
        try self.init(bytes: _readDataFile(url), source: url.path)
    }

    /// Decodes UTF-8 bytes; `source` names them in errors.
    public init(bytes: [UInt8], source: String) throws(DatasetError) {
        if let offset = _firstInvalidUTF8Offset(in: bytes) { throw .notUTF8(path: source, byteOffset: offset) }
        let start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        try self.init(text: String(decoding: bytes[start...], as: UTF8.self), source: source)
    }

    /// Tokenizes a text.
    ///
    /// - Throws: ``DatasetError/emptyFile(path:)`` for an empty text,
    ///   ``DatasetError/tooFewDistinctCharacters(path:found:)`` for a text of
    ///   one repeated character.
    public init(text: String, source: String = "<memory>") throws(DatasetError) {
        guard !text.isEmpty else { throw .emptyFile(path: source) }
        // One pass numbering characters as they first appear, then renumber in sorted order.
        var firstSeen: [Character: Int32] = [:]
        var characters: [Character] = []
        var provisional: [Int32] = []
        provisional.reserveCapacity(text.utf8.count)
        for character in text {
            if let token = firstSeen[character] {
                provisional.append(token)
            } else {
                guard characters.count < Self.maxVocabularySize, let token = Int32(exactly: characters.count) else {
                    throw .tooLarge(
                        path: source, what: "distinct characters", count: characters.count + 1,
                        limit: Self.maxVocabularySize)
                }
                firstSeen[character] = token
                characters.append(character)
                provisional.append(token)
            }
        }
        guard characters.count >= 2 else { throw .tooFewDistinctCharacters(path: source, found: characters.count) }
        let order = characters.indices.sorted { characters[$0] < characters[$1] }
        var renumbered = [Int32](repeating: 0, count: characters.count)
        for (rank, old) in order.enumerated() { renumbered[old] = Int32(rank) }
        self.source = source
        vocabulary = order.map { characters[$0] }
        tokens = provisional.map { renumbered[Int($0)] }
    }

    /// Token indices of `text`'s characters.
    ///
    /// - Throws: ``DatasetError/unknownCharacter(source:character:offset:)``
    ///   for the first character not in ``vocabulary``.
    public func encode(_ text: String) throws(DatasetError) -> [Int32] {
        var index: [Character: Int32] = [:]
        for (token, character) in vocabulary.enumerated() { index[character] = Int32(token) }
        var encoded: [Int32] = []
        for (offset, character) in text.enumerated() {
            guard let token = index[character] else {
                throw .unknownCharacter(source: source, character: character, offset: offset)
            }
            encoded.append(token)
        }
        return encoded
    }

    /// The text of `tokens`; a token outside the vocabulary becomes U+FFFD.
    ///
    /// `encode(decode(t))` can differ from `t` where adjacent characters join
    /// into one grapheme (a letter followed by a combining mark).
    public func decode(_ tokens: [Int32]) -> String {
        var text = ""
        for token in tokens {
            text.append(token >= 0 && Int(token) < vocabulary.count ? vocabulary[Int(token)] : "\u{FFFD}")
        }
        return text
    }

    /// The first `floor(count * (1 - validationFraction))` tokens for training,
    /// the rest for validation (`validationFraction` clamped to `0...1`).
    public func split(validationFraction: Double = 0.1) -> (train: Range<Int>, validation: Range<Int>) {
        let fraction = validationFraction.isNaN ? 0 : min(max(validationFraction, 0), 1)
        // The training part is floor(count * (1 - fraction)), as in the
        // PyTorch recipe RNNKit is compared with (`int(len(data) * 0.9)`).
        let boundary = min(max(Int(Double(tokens.count) * (1 - fraction)), 0), tokens.count)
        return (0..<boundary, boundary..<tokens.count)
    }

    // MARK: Windows

    /// Next-character batches: window `n` reads `length` tokens from
    /// `starts[n]` as inputs, and the same span shifted by one as targets.
    ///
    /// - Returns: inputs `.tokens` `[N, length]`, targets `.classes` `[N, length]`,
    ///   for a many-to-many model.
    /// - Throws: ``DatasetError/tooFewRows(source:rows:needed:)`` if the text
    ///   is shorter than `length + 1`; ``DatasetError/invalidArgument(name:value:expected:)``
    ///   for no starts, a non-positive length, or a start whose window (with its
    ///   target) would pass the end of the text.
    public func windows(starts: [Int], length: Int) throws(DatasetError) -> SequenceBatch {
        let lastStart = try lastWindowStart(length: length, in: 0..<tokens.count)
        guard !starts.isEmpty else {
            throw .invalidArgument(name: "window starts", value: "[]", expected: "at least one start")
        }
        var inputs: [Int32] = []
        var targets: [Int32] = []
        inputs.reserveCapacity(starts.count * length)
        targets.reserveCapacity(starts.count * length)
        for start in starts {
            guard start >= 0, start <= lastStart else {
                throw .invalidArgument(
                    name: "window start", value: "\(start)",
                    expected: "0...\(lastStart), so that \(length) tokens and their targets fit in \(tokens.count)")
            }
            inputs.append(contentsOf: tokens[start..<(start + length)])
            targets.append(contentsOf: tokens[(start + 1)..<(start + length + 1)])
        }
        return SequenceBatch(
            count: starts.count, timeSteps: length, inputs: .tokens(inputs), targets: .classes(targets))
    }

    /// The starts of consecutive, non-overlapping windows over `range`, in
    /// order: `range.lowerBound`, `+ length`, … as long as a window and its
    /// targets fit. The same every time: use it for validation.
    public func consecutiveWindowStarts(length: Int, range: Range<Int>) throws(DatasetError) -> [Int] {
        let lastStart = try lastWindowStart(length: length, in: range)
        return Array(stride(from: range.lowerBound, through: lastStart, by: length))
    }

    /// ``windows(starts:length:)`` at ``consecutiveWindowStarts(length:range:)``.
    public func consecutiveWindows(length: Int, range: Range<Int>) throws(DatasetError) -> SequenceBatch {
        try windows(starts: consecutiveWindowStarts(length: length, range: range), length: length)
    }

    /// `count` window starts drawn uniformly, with replacement, from those
    /// whose window and targets lie in `range`.
    public func randomWindowStarts(
        count: Int, length: Int, range: Range<Int>, using generator: inout some RandomNumberGenerator
    ) throws(DatasetError) -> [Int] {
        let lastStart = try lastWindowStart(length: length, in: range)
        guard (1...(1 << 24)).contains(count) else {
            throw .invalidArgument(name: "window count", value: "\(count)", expected: "1...\(1 << 24)")
        }
        return (0..<count).map { _ in Int.random(in: range.lowerBound...lastStart, using: &generator) }
    }

    /// The last start at which `length` tokens and their targets fit in `range`.
    private func lastWindowStart(length: Int, in range: Range<Int>) throws(DatasetError) -> Int {
        guard length >= 1 else {
            throw .invalidArgument(name: "window length", value: "\(length)", expected: "at least 1")
        }
        guard range.lowerBound >= 0, range.upperBound <= tokens.count else {
            throw .invalidArgument(
                name: "range", value: "\(range)", expected: "token positions within 0..<\(tokens.count)")
        }
        guard length < range.count else {
            throw .tooFewRows(source: source, rows: range.count, needed: length == .max ? .max : length + 1)
        }
        return range.upperBound - length - 1
    }
}
