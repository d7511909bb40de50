import Foundation

extension Model {
    /// Generates text from a character-level language model (token input,
    /// many-to-many, with a vocabulary).
    ///
    /// - Parameters:
    ///   - prime: text fed first to set the state; the sample continues it.
    ///     Empty starts from a newline (or the first vocabulary character).
    ///   - length: characters to generate after the prime.
    ///   - temperature: divides the logits; below 1 is more conservative.
    ///   - topK: sample only among the k most likely characters.
    /// - Returns: the prime followed by the generated characters.
    public func sampleText(
        prime: String, length: Int, temperature: Float = 1, topK: Int? = nil,
        seed: UInt64 = 0
    ) throws(ModelError) -> String {
        let c = configuration
        let vocabulary = c.vocabulary
        guard !vocabulary.isEmpty, c.input.readsTokens, c.topology == .manyToMany, c.outputSize == vocabulary.count
        else {
            throw .inputMismatch("sampling text needs a character-level many_to_many model with a vocabulary")
        }
        guard temperature > 0, temperature.isFinite else {
            throw .inputMismatch("temperature must be positive, got \(temperature)")
        }
        guard length >= 0 else { throw .inputMismatch("length must not be negative, got \(length)") }
        if let topK, topK < 1 { throw .inputMismatch("top-k must be at least 1, got \(topK)") }
        var index: [Character: Int32] = [:]
        for (position, character) in vocabulary.enumerated() { index[character] = Int32(position) }
        var tokens: [Int32] = []
        for (offset, character) in prime.enumerated() {
            guard let token = index[character] else {
                throw .inputMismatch(
                    "the prime's character \(String(reflecting: String(character))) at position \(offset) is not in "
                        + "the model's vocabulary"
                )
            }
            tokens.append(token)
        }
        if tokens.isEmpty { tokens = [index["\n"] ?? 0] }
        let runner = try StepRunner(model: self)
        var logits = [Float](repeating: 0, count: c.outputSize)
        var input: [Int32] = [0]
        for token in tokens {
            input[0] = token
            try runner.step(.tokens(input), into: &logits)
        }
        var generator = SeededGenerator(seed: seed)
        var text = prime
        for _ in 0..<length {
            let token = Self.draw(from: logits, temperature: temperature, topK: topK, using: &generator)
            text.append(vocabulary[token])
            input[0] = Int32(token)
            try runner.step(.tokens(input), into: &logits)
        }
        return text
    }

    /// Samples an index from softmax(logits / temperature), restricted to the top k.
    static func draw(from logits: [Float], temperature: Float, topK: Int?, using generator: inout SeededGenerator)
        -> Int
    {
        var candidates = Array(logits.indices)
        if let topK, topK < logits.count {
            candidates = Array(candidates.sorted { logits[$0] > logits[$1] }.prefix(topK))
        }
        let largest = candidates.map { logits[$0] }.max() ?? 0
        let weights = candidates.map { exp(Double((logits[$0] - largest) / temperature)) }
        var threshold = Double(generator.next() >> 11) * 0x1p-53 * weights.reduce(0, +)
        for (candidate, weight) in zip(candidates, weights) {
            threshold -= weight
            if threshold < 0 { return candidate }
        }
        return candidates.last ?? 0
    }
}
