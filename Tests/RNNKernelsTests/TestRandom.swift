/// A tiny seeded generator, SplitMix64 (Steele, Lea and Flood), so that every
/// kernel test draws the same data on every machine and run, and a failure
/// reproduces.
struct TestRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A float drawn uniformly from `low..<high`.
    mutating func uniform(_ low: Float, _ high: Float) -> Float {
        // The top 24 bits give every float in [0, 1) that is a multiple of 2^-24.
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }

    /// `count` floats drawn uniformly from `low..<high`.
    mutating func floats(_ count: Int, _ low: Float, _ high: Float) -> [Float] {
        (0..<count).map { _ in uniform(low, high) }
    }

    /// An integer drawn uniformly from `range` (modulo bias is irrelevant here).
    mutating func integer(in range: Range<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}
